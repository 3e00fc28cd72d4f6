"""A delivery platform speaking RiderPass, for the demo, tests and platform engineers who
want to see the protocol work before implementing it.

It serves the protocol under ``/riderpass/v1`` (so a connection's ``base_url`` is
``http://host:port/riderpass``), checks every request's HMAC signature and answers bad
ones with the protocol's ``401`` problem replies, keeps the community profiles and rider
notices it receives, and signs its pushes with the official Standard Webhooks library.

Admin endpoints for the demo and tests live under ``/_sim/`` and need no signature (the
simulator listens on loopback): issue a rider's entry code, create an order or change
its status, suspend or reinstate a rider (each change is pushed to ``push_url`` when the
app has one), slow the API down, and read what the hub sent.

Run it on its own with ``python -m last100_riderpass.simulator --port 8765``; it prints the
connection settings to use.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import secrets
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Blueprint, Flask, Response, current_app, request
from standardwebhooks import Webhook
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import make_server

from hub.demo import COMMUNITY_ID, DEMO_RIDERS, Simulator
from last100_riderpass import PROTOCOL
from last100_riderpass.entrycodes import issue_entry_code, raw_public_key
from last100_riderpass.errors import RequestSignatureError
from last100_riderpass.signing import verify_request
from last100_riderpass.webhooks import ORDER_STATUS_CHANGED, RIDER_REINSTATED, RIDER_SUSPENDED
from last100_riderpass.wire import ORDER_STATUSES, format_time

#: Where the simulator serves the protocol; the connection's base_url ends in /riderpass.
BASE_PATH = "/riderpass"

_FINAL = ("delivered", "cancelled")
_EXTENSION = "riderpass_simulator"


# ---------------------------------------------------------------------------------------
# Keys and state
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorKeys:
    """The secrets a simulated platform shares with one hub, and its entry-code key."""

    key_id: str
    signing_secret: bytes = field(repr=False)
    push_secret: str = field(repr=False)  # whsec_<base64>
    entry_code_key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, key_id: str = "hub-demo") -> SimulatorKeys:
        """Fresh random keys (the demo makes new ones in every process)."""
        return cls(
            key_id=key_id,
            signing_secret=secrets.token_bytes(32),
            push_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
            entry_code_key=Ed25519PrivateKey.generate(),
        )

    def settings(self, base_url: str) -> dict[str, Any]:
        """The RiderPass connection settings for a simulator served at ``base_url``."""
        return {
            "base_url": base_url.rstrip("/") + BASE_PATH,
            "key_id": self.key_id,
            "signing_secret": base64.b64encode(self.signing_secret).decode("ascii"),
            "push_secrets": [self.push_secret],
            "entry_code_keys": [base64.b64encode(raw_public_key(self.entry_code_key.public_key())).decode("ascii")],
        }


@dataclass(frozen=True)
class SimRider:
    """A rider the simulated platform knows."""

    token: str  # accepted as both a ``token`` and a ``typed_code`` credential
    ref: str
    masked_name: str
    masked_phone: str
    suspended: bool = False


@dataclass(frozen=True)
class SimOrder:
    """An order at the simulated platform; ``status`` is a protocol status."""

    ref: str
    rider_ref: str
    community_id: str
    status: str
    updated_at: datetime
    building: str = ""
    address: str = ""
    eta: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "ref": self.ref,
            "status": self.status,
            "rider_ref": self.rider_ref,
            "community_id": self.community_id,
            "building": self.building,
            "address": self.address,
            "updated_at": format_time(self.updated_at),
        }
        if self.eta is not None:
            wire["eta"] = format_time(self.eta)
        return wire


@dataclass
class _Platform:
    """The simulated platform's state; every read and change holds ``lock``."""

    keys: SimulatorKeys
    push_url: str | None
    cache_seconds: int
    riders: dict[str, SimRider]  # by token
    orders: dict[str, SimOrder]  # by ref
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0
    delay_mode: str = "headers"
    error_rate: float = 0.0  # share of protocol requests answered 503 (benchmarks)
    slow_rate: float = 0.0  # share of the other requests answered only after slow_s
    slow_s: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rider_by_ref(self, ref: str) -> SimRider | None:
        return next((r for r in self.riders.values() if r.ref == ref), None)

    def active_orders(self, rider_ref: str, community_id: str | None = None) -> list[SimOrder]:
        return [
            o
            for o in self.orders.values()
            if o.rider_ref == rider_ref
            and o.status not in _FINAL
            and (community_id is None or o.community_id == community_id)
        ]


def _platform() -> _Platform:
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


def _trickle(data: bytes, seconds: float, pieces: int = 10) -> Iterator[bytes]:
    step = max(1, -(-len(data) // pieces))
    for start in range(0, len(data), step):
        if start:
            time.sleep(seconds / pieces)
        yield data[start : start + step]


# ---------------------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------------------

api = Blueprint("riderpass", __name__, url_prefix=f"{BASE_PATH}/v1")


@api.before_request
def _authenticate() -> Response | None:
    platform = _platform()
    with platform.lock:
        delay, mode, error_rate = platform.delay_s, platform.delay_mode, platform.error_rate
        slow_rate, slow_s = platform.slow_rate, platform.slow_s
    if delay and mode == "headers":
        time.sleep(delay)
    # One draw: error_rate of the requests fail, the next slow_rate of them are slow.
    draw = random.random()
    if draw < error_rate:
        return problem(503, "unavailable", "injected error (--error-rate)")
    if draw < error_rate + slow_rate:
        time.sleep(slow_s)
    try:
        verify_request(
            {platform.keys.key_id: platform.keys.signing_secret},
            request.headers,
            request.method,
            _request_target(),
            request.get_data(cache=True),
            time.time(),
        )
    except RequestSignatureError as exc:
        return problem(401, exc.code, str(exc))
    return None


@api.after_request
def _slow_body(response: Response) -> Response:
    platform = _platform()
    with platform.lock:
        delay, mode = platform.delay_s, platform.delay_mode
    if delay and mode == "body":
        # Headers (with Content-Length) go out at once; the body follows piece by piece.
        response.response = _trickle(response.get_data(), delay)
    return response


@api.get("/ping")
def ping() -> Response:
    return _json({"protocol": PROTOCOL, "platform": "RiderPass simulator"})


def _credential(body: dict[str, Any]) -> tuple[str, str]:
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise BadRequest("credential must be an object")
    kind, value = credential.get("kind"), credential.get("value")
    if kind not in ("token", "typed_code") or not isinstance(value, str):
        raise BadRequest("credential.kind must be token or typed_code, credential.value a string")
    return kind, value


@api.post("/riders/verify")
def verify_rider() -> Response:
    body = _body()
    _kind, value = _credential(body)
    platform = _platform()
    with platform.lock:
        rider = platform.riders.get(value)
    if rider is None:
        return problem(422, "credential_invalid", "no rider holds this credential")
    return _json(
        {
            "rider": {
                "ref": rider.ref,
                "masked_name": rider.masked_name,
                "masked_phone": rider.masked_phone,
                "status": "suspended" if rider.suspended else "active",
            },
            "cache_seconds": 0 if rider.suspended else platform.cache_seconds,
        }
    )


@api.post("/orders/active")
def active_orders() -> Response:
    body = _body()
    community_id = body.get("community_id")
    rider = body.get("rider")
    if not isinstance(community_id, str) or not isinstance(rider, dict):
        raise BadRequest("community_id and rider are required")
    platform = _platform()
    with platform.lock:
        if isinstance(rider.get("ref"), str):
            rider_ref = rider["ref"]
        else:
            holder = platform.riders.get(_credential(rider)[1])
            if holder is None:
                return problem(422, "credential_invalid", "no rider holds this credential")
            rider_ref = holder.ref
        orders = [o.to_wire() for o in platform.active_orders(rider_ref, community_id)]
    return _json({"orders": orders})


@api.get("/orders/<path:order_ref>")
def get_order(order_ref: str) -> Response:
    platform = _platform()
    with platform.lock:
        order = platform.orders.get(order_ref)
    if order is None:
        return problem(404, "order_not_found", "no such order")
    return _json({"order": order.to_wire()})


@api.put("/communities/<community_id>/profile")
def put_profile(community_id: str) -> Response:
    body = _body()
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not isinstance(body.get("community"), dict):
        raise BadRequest("version (integer) and community (object) are required")
    platform = _platform()
    with platform.lock:
        held = platform.profiles.get(community_id)
        if held is not None and held["version"] > version:
            return problem(409, "profile_version_stale", f"version {held['version']} is already published")
        platform.profiles[community_id] = body
    return _json({"accepted": True, "ref": f"profile-{community_id}-v{version}"})


@api.post("/riders/<rider_ref>/notices")
def post_notice(rider_ref: str) -> Response:
    body = _body()
    text = body.get("text")
    if not isinstance(body.get("kind"), str) or not isinstance(text, dict):
        raise BadRequest("kind and text are required")
    platform = _platform()
    with platform.lock:
        if platform.rider_by_ref(rider_ref) is None:
            return problem(404, "rider_not_found", "no such rider")
        ref = f"notice-{len(platform.notices) + 1}"
        platform.notices.append({"ref": ref, "rider_ref": rider_ref, **body})
    return _json({"accepted": True, "ref": ref}, 202)


# ---------------------------------------------------------------------------------------
# Simulator-only admin endpoints
# ---------------------------------------------------------------------------------------

admin = Blueprint("riderpass_admin", __name__, url_prefix="/_sim")


def _push(platform: _Platform, event_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Send one Standard Webhooks push to the hub (outside the state lock: it is a
    network call, and the hub may call back into the simulator while handling it)."""
    if not platform.push_url:
        return None
    msg_id = "msg_" + secrets.token_hex(12)
    now = datetime.now(UTC)
    body = json.dumps(
        {"type": event_type, "timestamp": format_time(now), "data": data}, ensure_ascii=False, separators=(",", ":")
    )
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(platform.keys.push_secret).sign(msg_id, now, body),
        "content-type": "application/json",
    }
    try:
        reply = requests.post(platform.push_url, data=body.encode("utf-8"), headers=headers, timeout=(1, 5))
        outcome: int | str = reply.status_code
    except requests.RequestException as exc:
        outcome = type(exc).__name__
    record = {"id": msg_id, "type": event_type, "status": outcome}
    with platform.lock:
        platform.pushes.append(record)
    return record


@admin.post("/entry-codes")
def issue_code() -> Response:
    """What the rider app shows as a QR: ``{"token": ..., "ttl_s"?: 120,
    "community_id"?: ...}`` (the community defaults to that of the rider's first active
    order)."""
    body = _body()
    ttl_s = body.get("ttl_s", 120)
    if not isinstance(ttl_s, int) or isinstance(ttl_s, bool) or ttl_s <= 0:
        raise BadRequest("ttl_s must be a positive integer")
    platform = _platform()
    with platform.lock:
        rider = platform.riders.get(str(body.get("token")))
        if rider is None:
            return problem(404, "rider_not_found", "no rider holds this token")
        if rider.suspended:
            return problem(409, "rider_suspended", "a suspended rider gets no entry code")
        orders = platform.active_orders(rider.ref)
        community_id = body.get("community_id") or (orders[0].community_id if orders else None)
        if not isinstance(community_id, str):
            raise BadRequest("community_id is required for a rider without an active order")
        order_refs = [o.ref for o in orders if o.community_id == community_id]
    now = datetime.now(UTC)
    jti = secrets.token_hex(8)
    code = issue_entry_code(
        platform.keys.entry_code_key,
        rider_ref=rider.ref,
        order_refs=order_refs,
        community_id=community_id,
        now=now,
        ttl_s=ttl_s,
        code_id=jti,
        masked_name=rider.masked_name,
        masked_phone=rider.masked_phone,
    )
    expires = datetime.fromtimestamp(int(now.timestamp()) + ttl_s, UTC)
    return _json({"code": code, "jti": jti, "orders": order_refs, "expires_at": format_time(expires)}, 201)


@admin.post("/orders")
def create_order() -> Response:
    """A new order: ``{"rider_ref", "community_id", "ref"?, "building"?, "status"?,
    "eta_minutes"?}``; pushed as ``order.status_changed``."""
    body = _body()
    rider_ref, community_id = body.get("rider_ref"), body.get("community_id")
    status, eta_minutes = body.get("status", "delivering"), body.get("eta_minutes", 8)
    if not isinstance(rider_ref, str) or not isinstance(community_id, str) or status not in ORDER_STATUSES:
        raise BadRequest("rider_ref, community_id and a protocol status are required")
    if not isinstance(eta_minutes, int | float) or isinstance(eta_minutes, bool):
        raise BadRequest("eta_minutes must be a number")
    now = datetime.now(UTC)
    order = SimOrder(
        ref=str(body.get("ref") or f"SIM-{secrets.token_hex(4).upper()}"),
        rider_ref=rider_ref,
        community_id=community_id,
        status=status,
        updated_at=now,
        building=str(body.get("building", "")),
        eta=now + timedelta(minutes=eta_minutes),
    )
    platform = _platform()
    with platform.lock:
        if platform.rider_by_ref(rider_ref) is None:
            return problem(404, "rider_not_found", "no such rider")
        platform.orders[order.ref] = order
    push = _push(platform, ORDER_STATUS_CHANGED, {"order": order.to_wire()})
    return _json({"order": order.to_wire(), "push": push}, 201)


@admin.post("/orders/<path:order_ref>/status")
def change_status(order_ref: str) -> Response:
    """``{"status": "delivered"}``; pushed as ``order.status_changed``."""
    status = _body().get("status")
    if status not in ORDER_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(ORDER_STATUSES)}")
    platform = _platform()
    with platform.lock:
        order = platform.orders.get(order_ref)
        if order is None:
            return problem(404, "order_not_found", "no such order")
        order = platform.orders[order_ref] = replace(order, status=status, updated_at=datetime.now(UTC))
    push = _push(platform, ORDER_STATUS_CHANGED, {"order": order.to_wire()})
    return _json({"order": order.to_wire(), "push": push})


def _set_suspended(rider_ref: str, suspended: bool) -> Response:
    platform = _platform()
    with platform.lock:
        rider = platform.rider_by_ref(rider_ref)
        if rider is None:
            return problem(404, "rider_not_found", "no such rider")
        platform.riders[rider.token] = replace(rider, suspended=suspended)
    push = _push(platform, RIDER_SUSPENDED if suspended else RIDER_REINSTATED, {"rider_ref": rider_ref})
    return _json({"rider_ref": rider_ref, "suspended": suspended, "push": push})


@admin.post("/riders/<rider_ref>/suspend")
def suspend(rider_ref: str) -> Response:
    return _set_suspended(rider_ref, True)


@admin.post("/riders/<rider_ref>/reinstate")
def reinstate(rider_ref: str) -> Response:
    return _set_suspended(rider_ref, False)


@admin.put("/delay")
def set_delay() -> Response:
    """``{"seconds": 2.5, "mode": "headers" | "body"}``: wait before answering, or answer
    at once and send the body slowly over that time; ``{"seconds": 0}`` turns it off."""
    body = _body()
    seconds, mode = body.get("seconds"), body.get("mode", "headers")
    number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not number or seconds < 0 or mode not in ("headers", "body"):
        raise BadRequest("seconds must be a non-negative number and mode headers or body")
    platform = _platform()
    with platform.lock:
        platform.delay_s, platform.delay_mode = float(seconds), mode
    return _json({"seconds": float(seconds), "mode": mode})


@admin.get("/profiles")
def profiles() -> Response:
    platform = _platform()
    with platform.lock:
        return _json({"profiles": dict(platform.profiles)})


@admin.get("/notices")
def notices() -> Response:
    platform = _platform()
    with platform.lock:
        return _json({"notices": list(platform.notices)})


@admin.get("/pushes")
def pushes() -> Response:
    platform = _platform()
    with platform.lock:
        return _json({"pushes": list(platform.pushes)})


# ---------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------


def create_app(
    keys: SimulatorKeys,
    *,
    riders: Iterable[SimRider] = (),
    orders: Iterable[SimOrder] = (),
    push_url: str | None = None,
    cache_seconds: int = 300,
    delay_s: float = 0.0,
    error_rate: float = 0.0,
    slow_rate: float = 0.0,
    slow_s: float = 2.0,
) -> Flask:
    """A simulated RiderPass platform.

    :param keys: the secrets shared with the hub (see :meth:`SimulatorKeys.settings`).
    :param riders: the riders it knows, by token.
    :param orders: their orders.
    :param push_url: where to push order and rider changes (the hub's push endpoint for
        the connection); no pushes when empty.
    :param cache_seconds: how long the hub may reuse a verification of an active rider.
    :param delay_s: wait this long before answering every protocol request (as
        ``PUT /_sim/delay`` sets it).
    :param error_rate: answer this share of protocol requests (0 to 1) with ``503``.
    :param slow_rate: answer this share of the other protocol requests (0 to 1) only
        after ``slow_s`` seconds more.
    """
    app = Flask(__name__)
    app.extensions[_EXTENSION] = _Platform(
        keys=keys,
        push_url=push_url or None,
        cache_seconds=cache_seconds,
        riders={r.token: r for r in riders},
        orders={o.ref: o for o in orders},
        delay_s=delay_s,
        error_rate=error_rate,
        slow_rate=slow_rate,
        slow_s=slow_s,
    )
    app.register_blueprint(api)
    app.register_blueprint(admin)

    @app.errorhandler(HTTPException)
    def _problem(exc: HTTPException) -> Response:
        status = exc.code or 500
        return problem(status, HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_"), exc.description or "")

    return app


def demo_riders() -> list[SimRider]:
    """The hub's demo riders (:data:`hub.demo.DEMO_RIDERS`)."""
    return [SimRider(r.token, r.platform_ref, r.masked_name, r.masked_phone, r.suspended) for r in DEMO_RIDERS]


def demo_orders(now: datetime | None = None) -> list[SimOrder]:
    """One order being delivered into the demo community for each demo rider that has one."""
    now = now or datetime.now(UTC)
    return [
        SimOrder(
            ref=r.order_ref,
            rider_ref=r.platform_ref,
            community_id=COMMUNITY_ID,
            status="delivering",
            updated_at=now,
            building="3",
            eta=now + timedelta(minutes=8),
        )
        for r in DEMO_RIDERS
        if r.order_ref
    ]


def bench_riders(count: int, community_id: str) -> tuple[list[SimRider], list[SimOrder]]:
    """``count`` riders ``bench-rider-<n>`` (ref ``BR<n>``), each with one order
    ``BO<n>`` being delivered into ``community_id`` (for benchmarks)."""
    now = datetime.now(UTC)
    riders = [SimRider(f"bench-rider-{n}", f"BR{n}", "骑*", "138****0000") for n in range(count)]
    orders = [
        SimOrder(f"BO{n}", f"BR{n}", community_id, "delivering", now, building="1", eta=now + timedelta(minutes=30))
        for n in range(count)
    ]
    return riders, orders


def demo_simulator() -> Simulator:
    """The simulator the hub's demo serves (entry point ``last100.simulators``); its keys
    are made once per process, and the app and the settings share them."""
    keys = SimulatorKeys.generate()
    return Simulator(
        plugin="riderpass",
        name="RiderPass platform (simulated)",
        app=lambda push_url: create_app(keys, riders=demo_riders(), orders=demo_orders(), push_url=push_url),
        settings=keys.settings,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m last100_riderpass.simulator``: serve the demo platform and print the
    connection settings that reach it."""
    parser = argparse.ArgumentParser(prog="python -m last100_riderpass.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--push-url", default="", help="the hub's push URL for the connection")
    parser.add_argument("--latency-ms", type=float, default=0, help="wait before answering each protocol request")
    parser.add_argument("--error-rate", type=float, default=0, help="share (0-1) of protocol requests answered 503")
    parser.add_argument(
        "--slow-rate", type=float, default=0, help="share (0-1) of the other protocol requests answered late"
    )
    parser.add_argument("--slow-ms", type=float, default=2000, help="how late a --slow-rate request is answered")
    parser.add_argument("--riders", type=int, default=0, help="also seed N riders bench-rider-<n> with an order each")
    parser.add_argument("--community", default=COMMUNITY_ID, help="community of the --riders orders")
    parser.add_argument("--cache-seconds", type=int, default=300, help="how long the hub may cache a verification")
    args = parser.parse_args(argv)
    keys = SimulatorKeys.generate()
    extra_riders, extra_orders = bench_riders(args.riders, args.community)
    app = create_app(
        keys,
        riders=[*demo_riders(), *extra_riders],
        orders=[*demo_orders(), *extra_orders],
        push_url=args.push_url,
        cache_seconds=args.cache_seconds,
        delay_s=args.latency_ms / 1000,
        error_rate=args.error_rate,
        slow_rate=args.slow_rate,
        slow_s=args.slow_ms / 1000,
    )
    server = make_server(args.host, args.port, app, threaded=True)
    base_url = f"http://{args.host}:{server.server_port}"
    print("RiderPass simulator; settings for a riderpass connection:", file=sys.stderr)
    # Flushed at once: whoever reads the settings from a pipe needs them before the server stops.
    print(json.dumps(keys.settings(base_url), indent=2), flush=True)
    print(
        f"riders (token -> ref): {', '.join(f'{r.token} -> {r.platform_ref}' for r in DEMO_RIDERS)}\n"
        f'admin: POST {base_url}/_sim/entry-codes {{"token": "demo-rider-1"}} and the rest in the README',
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
