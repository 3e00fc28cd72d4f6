"""A food-locker bank speaking the Locker Bank Protocol, for the demo, tests and vendors
who want to see the protocol work before implementing it.

It serves the protocol under ``/locker/v1`` (so a connection's ``base_url`` is
``http://host:port/locker``) for one bank of 24 compartments in the three temperature
zones and three sizes, checks every request's HMAC signature exactly as the protocol
says and answers bad ones with its ``401`` problem replies, and keeps allocations with
their drop-off and pickup codes and every compartment's state.

Admin endpoints for the demo and tests live under ``/_sim/`` and need no signature (the
simulator listens on loopback): a rider entering a drop-off code, a resident entering a
pickup code, moving the simulator's clock (for overdue pickups), taking a compartment
out of service and back (cleaning), reading the whole state, and slowing the API down.

The simulator's clock drives deadlines only; signatures are checked against the real
time, like a real controller whose clock is kept by NTP.

Run it on its own with ``python -m last100_locker.simulator --port 8766``; it prints the
connection settings to use.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import make_server

from hub.demo import Simulator
from last100_locker import PROTOCOL
from last100_locker.errors import RequestSignatureError
from last100_locker.signing import verify_request
from last100_locker.wire import SIZES, ZONES, format_time, require_time

#: Where the simulator serves the protocol; the connection's base_url ends in /locker.
BASE_PATH = "/locker"

#: The simulated bank's id at the controller (the connection's ``bank_id``).
DEMO_BANK_ID = "north-gate"

#: How long food may wait in a compartment before the pickup is overdue. The standard
#: (T/CCA 021-2021) asks that a resident who has not collected within 30 minutes be
#: reminded.
PICKUP_MINUTES = 30

#: What each zone's compartments report as their temperature, in °C.
ZONE_TEMPERATURES = {"ambient": 22.0, "warm": 62.0, "chilled": 4.0}

_EXTENSION = "locker_simulator"
_LIVE = ("reserved", "occupied")


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------


@dataclass
class SimCompartment:
    """A compartment of the simulated bank."""

    no: str
    size: str
    zone: str
    state: str = "free"
    out_of_service_reason: str = ""
    last_cleaned_at: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "no": self.no,
            "size": self.size,
            "zone": self.zone,
            "state": self.state,
            "temperature_c": ZONE_TEMPERATURES[self.zone],
            "out_of_service_reason": self.out_of_service_reason or None,
            "last_cleaned_at": format_time(self.last_cleaned_at) if self.last_cleaned_at else None,
        }


@dataclass
class SimAllocation:
    """An allocation at the simulated bank."""

    id: str
    order_ref: str
    compartment_no: str
    size: str
    zone: str
    created_at: datetime
    dropoff_deadline: datetime
    dropoff_code: str
    pickup_code: str
    state: str = "reserved"
    dropped_at: datetime | None = None
    pickup_deadline: datetime | None = None
    finished_at: datetime | None = None
    overdue_reported_at: datetime | None = None

    def to_wire(self, bank_id: str, *, with_codes: bool = False) -> dict[str, Any]:
        def time_or_none(value: datetime | None) -> str | None:
            return None if value is None else format_time(value)

        wire: dict[str, Any] = {
            "id": self.id,
            "bank_id": bank_id,
            "order_ref": self.order_ref,
            "compartment_no": self.compartment_no,
            "size": self.size,
            "zone": self.zone,
            "state": self.state,
            "created_at": format_time(self.created_at),
            "dropoff_deadline": format_time(self.dropoff_deadline),
            "dropped_at": time_or_none(self.dropped_at),
            "pickup_deadline": time_or_none(self.pickup_deadline),
            "finished_at": time_or_none(self.finished_at),
            "overdue_reported_at": time_or_none(self.overdue_reported_at),
        }
        if with_codes:
            wire["dropoff_code"] = self.dropoff_code
            wire["pickup_code"] = self.pickup_code
        return wire


def default_compartments() -> list[SimCompartment]:
    """24 compartments: A01–A08 ambient (常温), B01–B10 warm (加热保温), C01–C06 chilled
    (冷藏), each column from small to large."""
    layout = {"A": ("ambient", "SSSMMMLL"), "B": ("warm", "SSSMMMMLLL"), "C": ("chilled", "SSMMML")}
    return [
        SimCompartment(f"{column}{n:02d}", size, zone)
        for column, (zone, sizes) in layout.items()
        for n, size in enumerate(sizes, start=1)
    ]


@dataclass
class _Bank:
    """The simulated bank's state; every read and change holds ``lock``."""

    bank_id: str
    secrets: dict[str, bytes]
    pickup_minutes: int
    compartments: dict[str, SimCompartment]
    allocations: dict[str, SimAllocation] = field(default_factory=dict)
    clock_offset: timedelta = timedelta(0)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def settle(self, now: datetime) -> None:
        """Let reservations whose drop-off deadline passed lapse, freeing their compartments."""
        for allocation in self.allocations.values():
            if allocation.state == "reserved" and now > allocation.dropoff_deadline:
                allocation.state, allocation.finished_at = "expired", now
                self.compartments[allocation.compartment_no].state = "free"

    def live_codes(self) -> set[str]:
        return {code for a in self.allocations.values() if a.state in _LIVE for code in (a.dropoff_code, a.pickup_code)}

    def new_code(self, *also_taken: str) -> str:
        """A 6-digit code no live allocation uses (nor ``also_taken``): a code is entered
        on the bank's keypad without a compartment number, so it must name one allocation."""
        taken = self.live_codes().union(also_taken)
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            if code not in taken:
                return code

    def overdue(self, now: datetime) -> list[SimAllocation]:
        late = [
            a
            for a in self.allocations.values()
            if a.state == "occupied" and a.pickup_deadline is not None and now > a.pickup_deadline
        ]
        return sorted(late, key=lambda a: (a.dropped_at or a.created_at, a.id))


def _bank() -> _Bank:
    return current_app.extensions[_EXTENSION]


# ---------------------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------------------


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


def problem(status: int, code: str, detail: str = "") -> Response:
    """An RFC 9457 problem reply with the protocol's ``code``."""
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status, "code": code}
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/problem+json")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _request_target() -> str:
    """The path and query exactly as the request line carried them (what was signed)."""
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        return raw
    target = quote(env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", ""), safe="/-._~!$&'()*+,;=:@%")
    query = env.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


def _unknown_bank(bank_id: str) -> Response:
    return problem(404, "bank_not_found", f"this controller has no bank {bank_id!r}")


# ---------------------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------------------

api = Blueprint("locker", __name__, url_prefix=f"{BASE_PATH}/v1")


@api.before_request
def _authenticate() -> Response | None:
    bank = _bank()
    with bank.lock:
        delay = bank.delay_s
    if delay:
        time.sleep(delay)
    try:
        verify_request(
            bank.secrets, request.headers, request.method, _request_target(), request.get_data(cache=True), time.time()
        )
    except RequestSignatureError as exc:
        return problem(401, exc.code, str(exc))
    return None


@api.get("/ping")
def ping() -> Response:
    return _json({"protocol": PROTOCOL, "controller": "Last100 locker simulator", "time": format_time(_bank().now())})


@api.get("/banks/<bank_id>/compartments")
def compartments(bank_id: str) -> Response:
    bank = _bank()
    if bank_id != bank.bank_id:
        return _unknown_bank(bank_id)
    with bank.lock:
        bank.settle(bank.now())
        return _json({"bank_id": bank.bank_id, "compartments": [c.to_wire() for c in bank.compartments.values()]})


@api.post("/banks/<bank_id>/allocations")
def allocate(bank_id: str) -> Response:
    body = _body()
    order_ref, size, zone = body.get("order_ref"), body.get("size"), body.get("zone")
    minutes = body.get("dropoff_minutes", 30)
    if not isinstance(order_ref, str) or not order_ref or size not in SIZES or zone not in ZONES:
        raise BadRequest(
            f"order_ref, size (one of {', '.join(SIZES)}) and zone (one of {', '.join(ZONES)}) are required"
        )
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 240:
        raise BadRequest("dropoff_minutes must be an integer from 1 to 240")
    bank = _bank()
    if bank_id != bank.bank_id:
        return _unknown_bank(bank_id)
    with bank.lock:
        now = bank.now()
        bank.settle(now)
        for held in bank.allocations.values():
            if held.order_ref == order_ref and held.state in _LIVE:
                return _json({"allocation": held.to_wire(bank.bank_id, with_codes=True)})
        fitting = [
            c
            for c in bank.compartments.values()
            if c.state == "free" and c.zone == zone and SIZES.index(c.size) >= SIZES.index(size)
        ]
        if not fitting:
            return problem(409, "no_free_compartment", f"no free {zone} compartment of size {size} or larger")
        # The smallest that fits: large compartments stay free for large orders.
        chosen = min(fitting, key=lambda c: (SIZES.index(c.size), c.no))
        dropoff_code = bank.new_code()
        allocation = SimAllocation(
            id="al_" + secrets.token_hex(8),
            order_ref=order_ref,
            compartment_no=chosen.no,
            size=chosen.size,
            zone=chosen.zone,
            created_at=now,
            dropoff_deadline=now + timedelta(minutes=minutes),
            dropoff_code=dropoff_code,
            pickup_code=bank.new_code(dropoff_code),
        )
        chosen.state = "reserved"
        bank.allocations[allocation.id] = allocation
        return _json({"allocation": allocation.to_wire(bank.bank_id, with_codes=True)}, 201)


@api.post("/banks/<bank_id>/allocations/<allocation_id>/release")
def release(bank_id: str, allocation_id: str) -> Response:
    bank = _bank()
    if bank_id != bank.bank_id:
        return _unknown_bank(bank_id)
    with bank.lock:
        now = bank.now()
        bank.settle(now)
        allocation = bank.allocations.get(allocation_id)
        if allocation is None:
            return problem(404, "allocation_not_found", "no such allocation")
        if allocation.state in _LIVE:
            compartment = bank.compartments[allocation.compartment_no]
            if allocation.state == "occupied":
                # Food is still inside: staff must clear (and clean) it before reuse.
                compartment.state, compartment.out_of_service_reason = "out_of_service", "awaiting_clearing"
            else:
                compartment.state = "free"
            allocation.state, allocation.finished_at = "released", now
        return _json({"allocation": allocation.to_wire(bank.bank_id)})


@api.get("/banks/<bank_id>/overdue")
def overdue(bank_id: str) -> Response:
    bank = _bank()
    if bank_id != bank.bank_id:
        return _unknown_bank(bank_id)
    with bank.lock:
        late = bank.overdue(bank.now())
        return _json(
            {
                "bank_id": bank.bank_id,
                "pickup_minutes": bank.pickup_minutes,
                "allocations": [a.to_wire(bank.bank_id) for a in late],
            }
        )


@api.post("/banks/<bank_id>/allocations/<allocation_id>/overdue-report")
def overdue_report(bank_id: str, allocation_id: str) -> Response:
    bank = _bank()
    if bank_id != bank.bank_id:
        return _unknown_bank(bank_id)
    with bank.lock:
        allocation = bank.allocations.get(allocation_id)
        if allocation is None:
            return problem(404, "allocation_not_found", "no such allocation")
        if allocation.overdue_reported_at is None:
            allocation.overdue_reported_at = bank.now()
        return _json({"allocation": allocation.to_wire(bank.bank_id)})


# ---------------------------------------------------------------------------------------
# Simulator-only admin endpoints
# ---------------------------------------------------------------------------------------

admin = Blueprint("locker_admin", __name__, url_prefix="/_sim")


def _code() -> str:
    code = _body().get("code")
    if not isinstance(code, str) or not code:
        raise BadRequest("code is required")
    return code


@admin.post("/dropoff")
def dropoff() -> Response:
    """The rider enters the drop-off code ``{"code": "..."}``: the reserved compartment
    opens, the food goes in, and the pickup clock starts."""
    code = _code()
    bank = _bank()
    with bank.lock:
        now = bank.now()
        bank.settle(now)
        allocation = next(
            (a for a in bank.allocations.values() if a.state == "reserved" and a.dropoff_code == code), None
        )
        if allocation is None:
            return problem(403, "code_invalid", "no compartment is waiting for this drop-off code")
        allocation.state, allocation.dropped_at = "occupied", now
        allocation.pickup_deadline = now + timedelta(minutes=bank.pickup_minutes)
        bank.compartments[allocation.compartment_no].state = "occupied"
        return _json({"allocation": allocation.to_wire(bank.bank_id)})


@admin.post("/pickup")
def pickup() -> Response:
    """The resident enters the pickup code ``{"code": "..."}``: the compartment opens and
    is free again."""
    code = _code()
    bank = _bank()
    with bank.lock:
        now = bank.now()
        allocation = next(
            (a for a in bank.allocations.values() if a.state == "occupied" and a.pickup_code == code), None
        )
        if allocation is None:
            return problem(403, "code_invalid", "no food is waiting for this pickup code")
        allocation.state, allocation.finished_at = "picked_up", now
        bank.compartments[allocation.compartment_no].state = "free"
        return _json({"allocation": allocation.to_wire(bank.bank_id)})


@admin.post("/clock")
def set_clock() -> Response:
    """Move the simulator's clock: ``{"advance_minutes": 31}`` or ``{"now": "<RFC 3339>"}``
    (deadlines only; signatures are checked against the real time)."""
    body = _body()
    bank = _bank()
    with bank.lock:
        if "now" in body:
            try:
                target = require_time(body, "now")
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            bank.clock_offset = target - datetime.now(UTC)
        else:
            minutes = body.get("advance_minutes")
            if not isinstance(minutes, int | float) or isinstance(minutes, bool):
                raise BadRequest("advance_minutes (a number) or now (an RFC 3339 time) is required")
            bank.clock_offset += timedelta(minutes=minutes)
        now = bank.now()
        bank.settle(now)
        return _json({"now": format_time(now)})


@admin.post("/compartments/<no>/out-of-service")
def out_of_service(no: str) -> Response:
    """Take a free compartment out of service: ``{"reason": "cleaning" | "fault" | ...}``."""
    reason = _body().get("reason", "maintenance")
    if not isinstance(reason, str) or not reason:
        raise BadRequest("reason must be a non-empty string")
    bank = _bank()
    with bank.lock:
        compartment = bank.compartments.get(no)
        if compartment is None:
            return problem(404, "compartment_not_found", "no such compartment")
        if compartment.state not in ("free", "out_of_service"):
            return problem(409, "compartment_in_use", f"compartment {no} is {compartment.state}")
        compartment.state, compartment.out_of_service_reason = "out_of_service", reason
        return _json({"compartment": compartment.to_wire()})


@admin.post("/compartments/<no>/in-service")
def in_service(no: str) -> Response:
    """Put a compartment back in service after staff cleared and cleaned it."""
    bank = _bank()
    with bank.lock:
        compartment = bank.compartments.get(no)
        if compartment is None:
            return problem(404, "compartment_not_found", "no such compartment")
        if compartment.state != "out_of_service":
            return problem(409, "compartment_in_service", f"compartment {no} is {compartment.state}")
        compartment.state, compartment.out_of_service_reason = "free", ""
        compartment.last_cleaned_at = bank.now()
        return _json({"compartment": compartment.to_wire()})


@admin.get("/state")
def state() -> Response:
    """Everything the bank holds, codes included."""
    bank = _bank()
    with bank.lock:
        now = bank.now()
        bank.settle(now)
        return _json(
            {
                "bank_id": bank.bank_id,
                "now": format_time(now),
                "pickup_minutes": bank.pickup_minutes,
                "delay_s": bank.delay_s,
                "compartments": [c.to_wire() for c in bank.compartments.values()],
                "allocations": [a.to_wire(bank.bank_id, with_codes=True) for a in bank.allocations.values()],
            }
        )


@admin.post("/delay")
def set_delay() -> Response:
    """``{"seconds": 2.5}``: answer every protocol call that much later; ``0`` turns it off."""
    seconds = _body().get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise BadRequest("seconds must be a non-negative number")
    bank = _bank()
    with bank.lock:
        bank.delay_s = float(seconds)
    return _json({"seconds": float(seconds)})


# ---------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------


def create_app(
    *,
    key_id: str,
    secret: str,
    bank_id: str = DEMO_BANK_ID,
    pickup_minutes: int = PICKUP_MINUTES,
    compartments: Iterable[SimCompartment] | None = None,
) -> Flask:
    """A simulated controller with one bank.

    :param key_id: the key id the hub signs with.
    :param secret: the secret shared with the hub.
    :param compartments: the bank's compartments; :func:`default_compartments` otherwise.
    """
    app = Flask(__name__)
    bank = _Bank(
        bank_id=bank_id,
        secrets={key_id: secret.encode("utf-8")},
        pickup_minutes=pickup_minutes,
        compartments={c.no: c for c in (default_compartments() if compartments is None else compartments)},
    )
    app.extensions[_EXTENSION] = bank
    app.register_blueprint(api)
    app.register_blueprint(admin)

    @app.errorhandler(HTTPException)
    def _problem(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = "invalid_request" if status == 400 else HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
        return problem(status, code, exc.description or "")

    return app


def connection_settings(base_url: str, key_id: str, secret: str, bank_id: str = DEMO_BANK_ID) -> dict[str, Any]:
    """The locker connection settings for a simulator served at ``base_url``."""
    return {
        "base_url": base_url.rstrip("/") + BASE_PATH,
        "key_id": key_id,
        "secret": secret,
        "bank_id": bank_id,
        "default_zone": "warm",
        "default_size": "M",
        "dropoff_minutes": 30,
    }


def demo_simulator() -> Simulator:
    """The simulator the hub's demo serves (entry point ``last100.simulators``); its
    secret is made once per process, and the app and the settings share it. A locker
    bank pushes nothing, so the push URL is not used."""
    key_id, secret = "hub-demo", secrets.token_hex(32)
    return Simulator(
        plugin="locker",
        name="Food lockers by the north gate (simulated)",
        app=lambda push_url: create_app(key_id=key_id, secret=secret),
        settings=lambda base_url: connection_settings(base_url, key_id, secret),
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m last100_locker.simulator``: serve a simulated bank and print the
    connection settings that reach it."""
    parser = argparse.ArgumentParser(prog="python -m last100_locker.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--pickup-minutes", type=int, default=PICKUP_MINUTES, help="pickup limit before overdue")
    args = parser.parse_args(argv)
    key_id, secret = "hub-demo", secrets.token_hex(32)
    app = create_app(key_id=key_id, secret=secret, pickup_minutes=args.pickup_minutes)
    server = make_server(args.host, args.port, app, threaded=True)
    base_url = f"http://{args.host}:{server.server_port}"
    print("Locker bank simulator; settings for a locker connection:", file=sys.stderr)
    # Flushed at once: whoever reads the settings from a pipe needs them before the server stops.
    print(json.dumps(connection_settings(base_url, key_id, secret), indent=2), flush=True)
    print(
        f"bank {DEMO_BANK_ID}: 24 compartments (A ambient, B warm, C chilled); admin under {base_url}/_sim/, "
        "see the README",
        file=sys.stderr,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
