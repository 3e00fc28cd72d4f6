"""A property-management system's visitor book taking signed JSON POSTs, for the demo,
tests and integrators who want to see the protocol work before pointing the hub at a
real system.

``POST /openapi/visitor/records`` takes one visitor record:

- the signature (``X-Signature``: hex HMAC-SHA256 of ``X-Timestamp + "\\n" + body``)
  and the timestamp (within five minutes) are checked first, and the key id when the
  simulator has one: a failure is ``401 {"code": 401, "msg": ...}``;
- ``Idempotency-Key`` is required (``400`` without it). A key seen before with the same
  body answers with the record already made (header ``Idempotent-Replayed: true``) and
  makes no second one; with a different body it is refused with ``422``, as the IETF
  Idempotency-Key draft asks;
- the record itself is checked the way such systems usually do, answering HTTP 200 with a
  business code: ``communityCode``, ``visitorName``, ``visitorPhone``, ``visitTime`` and
  ``leaveTime`` are required, times are ``yyyy-MM-dd HH:mm:ss`` and ``leaveTime`` is not
  before ``visitTime`` (``{"code": 1001, "msg": ...}``), and ``communityCode`` must be the
  simulator's (``{"code": 1002, ...}``);
- a record taken is ``{"code": 0, "msg": "ok", "data": {"recordId": "V00000001"}}``.

``HEAD`` of the same path and ``GET /health`` check the signature over an empty body and
answer 200 or 401: what the connection check probes.

Admin endpoints under ``/_sim/`` need no signature (the simulator listens on loopback):
read what was received, fail the next requests, answer late, start over.

Run it on its own with ``python -m last100_visitor_http.simulator --port 8766``; it prints
the connection settings to use.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.serving import make_server

from hub.demo import COMMUNITY_ID, Simulator
from last100_visitor_http.client import IDEMPOTENCY_HEADER
from last100_visitor_http.errors import SignatureError
from last100_visitor_http.settings import DEFAULT_FIELD_MAP
from last100_visitor_http.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

#: Where the simulator takes visitor records.
RECORDS_PATH = "/openapi/visitor/records"

#: The fields a record must have, and the format of its times.
REQUIRED_FIELDS = ("communityCode", "visitorName", "visitorPhone", "visitTime", "leaveTime")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: The business codes of the simulated system.
OK, INVALID_FIELD, UNKNOWN_COMMUNITY = 0, 1001, 1002

_EXTENSION = "visitor_http_simulator"


@dataclass(frozen=True)
class SimulatorConfig:
    """What a simulated visitor system shares with one hub."""

    secret: str = field(repr=False)
    key_id: str = "hub-demo"
    community_code: str = COMMUNITY_ID.upper()

    @classmethod
    def generate(cls, **kwargs: Any) -> SimulatorConfig:
        """A fresh random secret (the demo makes a new one in every process)."""
        return cls(secret=secrets.token_urlsafe(32), **kwargs)

    def settings(self, base_url: str) -> dict[str, Any]:
        """The visitor-http connection settings for a simulator served at ``base_url``."""
        return {
            "url": base_url.rstrip("/") + RECORDS_PATH,
            "secret": self.secret,
            "key_id": self.key_id,
            "field_map": dict(DEFAULT_FIELD_MAP),
            "static_fields": {"communityCode": self.community_code},
            "success_path": "code",
            "success_value": str(OK),
            "record_id_path": "data.recordId",
            "message_path": "msg",
        }


@dataclass
class _Book:
    """The simulated visitor book; every read and change holds ``lock``."""

    config: SimulatorConfig
    records: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: int = 0
    fail_times: int = 0
    fail_status: int = 503
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _book() -> _Book:
    return current_app.extensions[_EXTENSION]


def _reply(code: int, msg: str, status: int = 200, data: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


# ---------------------------------------------------------------------------------------
# The visitor system's API
# ---------------------------------------------------------------------------------------

api = Blueprint("visitor_http", __name__)


@api.before_request
def _gatekeep() -> Response | None:
    """Delay, injected failures, then key id and signature: what every API call goes
    through before it is read."""
    book = _book()
    with book.lock:
        book.requests += 1
        delay = book.delay_s
        failing = book.fail_times > 0
        if failing:
            book.fail_times -= 1
            status = book.fail_status
    if delay:
        time.sleep(delay)
    if failing:
        return _reply(status, "simulated failure", status)
    headers = request.headers
    key_id = book.config.key_id
    if key_id and headers.get(KEY_ID_HEADER, "") != key_id:
        return _reply(401, f"unknown key id (expected the {KEY_ID_HEADER} header of this hub)", 401)
    try:
        verify(
            book.config.secret,
            headers.get(TIMESTAMP_HEADER, ""),
            headers.get(SIGNATURE_HEADER, ""),
            request.get_data(cache=True),
            time.time(),
        )
    except SignatureError as exc:
        return _reply(401, f"{exc.code}: {exc}", 401)
    return None


@api.route(RECORDS_PATH, methods=["HEAD"])
def probe_records() -> Response:
    return Response(status=200)


@api.get("/health")
def health() -> Response:
    return _reply(OK, "ok")


def _problem(record: dict[str, Any], community_code: str) -> tuple[int, str] | None:
    """The business code and message for a record the system would not take."""
    for name in REQUIRED_FIELDS:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            return INVALID_FIELD, f"missing field {name}"
    try:
        visit_time = datetime.strptime(record["visitTime"], TIME_FORMAT)
        leave_time = datetime.strptime(record["leaveTime"], TIME_FORMAT)
    except ValueError:
        return INVALID_FIELD, "visitTime and leaveTime must be yyyy-MM-dd HH:mm:ss"
    if leave_time < visit_time:
        return INVALID_FIELD, "leaveTime is before visitTime"
    if record["communityCode"] != community_code:
        return UNKNOWN_COMMUNITY, f"unknown communityCode {record['communityCode']}"
    return None


@api.post(RECORDS_PATH)
def add_record() -> Response:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    # The IETF draft sends the key as a structured-field string ("..."); most APIs
    # send it bare. Both name the same key.
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key:
        return _reply(400, f"the {IDEMPOTENCY_HEADER} header is required", 400)
    record = _json_object()
    book = _book()
    with book.lock:
        held = book.by_key.get(key)
        if held is not None:
            if held["body"] != record:
                return _reply(422, f"{IDEMPOTENCY_HEADER} {key} was used with a different body", 422)
            reply = _reply(OK, "ok", data={"recordId": held["record_id"]})
            reply.headers["Idempotent-Replayed"] = "true"
            return reply
        problem = _problem(record, book.config.community_code)
        if problem is not None:
            return _reply(*problem)
        held = {
            "record_id": f"V{len(book.records) + 1:08d}",
            "idempotency_key": key,
            "received_at": datetime.now(UTC).isoformat(),
            "body": record,
            "raw": request.get_data(as_text=True),
            "headers": dict(request.headers),
        }
        book.records.append(held)
        book.by_key[key] = held
    return _reply(OK, "ok", data={"recordId": held["record_id"]})


# ---------------------------------------------------------------------------------------
# Simulator-only admin endpoints
# ---------------------------------------------------------------------------------------

admin = Blueprint("visitor_http_admin", __name__, url_prefix="/_sim")


@admin.get("/records")
def list_records() -> Response:
    """Every record taken, oldest first, with the exact body and headers received, and
    how many API requests arrived in all (retries and refusals included)."""
    book = _book()
    with book.lock:
        body = {"records": list(book.records), "requests": book.requests}
    return Response(json.dumps(body, ensure_ascii=False), 200, mimetype="application/json")


@admin.post("/fail")
def fail() -> Response:
    """``{"times": 2, "status": 503}``: answer the next ``times`` API requests with
    ``status`` (a 4xx or 5xx) and make no record."""
    body = _json_object()
    times, status = body.get("times", 1), body.get("status", 503)
    if not (isinstance(times, int) and not isinstance(times, bool) and times >= 0):
        raise BadRequest("times must be a non-negative integer")
    if not (isinstance(status, int) and not isinstance(status, bool) and 400 <= status <= 599):
        raise BadRequest("status must be an HTTP error status (400-599)")
    book = _book()
    with book.lock:
        book.fail_times, book.fail_status = times, status
    return _reply(OK, "ok", data={"times": times, "status": status})


@admin.post("/delay")
def delay() -> Response:
    """``{"seconds": 2.5}``: answer every API request that much later; ``0`` turns it off."""
    seconds = _json_object().get("seconds", 0)
    if not (isinstance(seconds, int | float) and not isinstance(seconds, bool) and 0 <= seconds <= 60):
        raise BadRequest("seconds must be a number from 0 to 60")
    book = _book()
    with book.lock:
        book.delay_s = float(seconds)
    return _reply(OK, "ok", data={"seconds": seconds})


@admin.post("/reset")
def reset() -> Response:
    """Forget every record and request; no failures, no delay."""
    book = _book()
    with book.lock:
        book.records.clear()
        book.by_key.clear()
        book.requests, book.fail_times, book.delay_s = 0, 0, 0.0
    return _reply(OK, "ok")


# ---------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------


def create_app(config: SimulatorConfig) -> Flask:
    """The simulated visitor system sharing ``config`` with the hub."""
    app = Flask(__name__)
    app.extensions[_EXTENSION] = _Book(config)
    app.register_blueprint(api)
    app.register_blueprint(admin)

    @app.errorhandler(HTTPException)
    def _error(exc: HTTPException) -> Response:
        status = exc.code or 500
        return _reply(status, exc.description or exc.name, status)

    return app


def demo_simulator() -> Simulator:
    """The simulator the hub's demo serves (entry point ``last100.simulators``); its secret
    is made once per process and shared by the app and the settings. A visitor system
    sends no pushes, so the push URL is not used."""
    config = SimulatorConfig.generate()
    return Simulator(
        plugin="visitor-http",
        name="Property visitor book (simulated)",
        app=lambda push_url: create_app(config),
        settings=config.settings,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m last100_visitor_http.simulator``: serve the visitor book and print the
    connection settings that reach it."""
    parser = argparse.ArgumentParser(
        prog="python -m last100_visitor_http.simulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args(argv)
    config = SimulatorConfig.generate()
    server = make_server(args.host, args.port, create_app(config), threaded=True)
    base_url = f"http://{args.host}:{server.server_port}"
    print("Visitor book simulator; settings for a visitor-http connection:", file=sys.stderr)
    # Flushed at once: whoever reads the settings from a pipe needs them before the server stops.
    print(json.dumps(config.settings(base_url), indent=2), flush=True)
    print(f"records received: GET {base_url}/_sim/records; the rest in the README", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
