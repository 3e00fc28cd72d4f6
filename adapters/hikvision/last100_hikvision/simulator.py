"""A Hikvision access controller speaking ISAPI, for the demo, tests and integrators who
want to see the adapter work before a device is on the bench.

It serves the ISAPI endpoints the adapter uses under ``/ISAPI`` (so a connection's
``base_url`` is ``http://host:port``), and:

- demands Digest authentication (RFC 2617, ``qop="auth"``, MD5; nonces it issued, not
  expired, with a growing ``nc``) — or, created with ``auth="basic"``, only Basic, as old
  firmware does;
- keeps users, cards and door rights, answers with ISAPI's JSON and XML, and refuses bad
  requests with ISAPI's ``ResponseStatus`` (``statusCode``/``subStatusCode``);
- reports a deletion's progress (``processing`` first, then ``success``);
- keeps an access event log searchable page by page (``AcsEvent``).

Admin endpoints for the demo and tests live under ``/_sim/`` and need no
authentication (the simulator listens on loopback): swipe a card at a door — the device
decides exactly as a real one does, refusing a card outside its validity window or
after its user was deleted, logs the event and pushes it to the hub — read the state,
and slow the device down.

Run it on its own with ``python -m last100_hikvision.simulator --port 8766``; it prints
the connection settings to use.
"""

from __future__ import annotations

import argparse
import hmac
import json
import random
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import requests
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from hub.demo import Simulator
from last100_hikvision import wire
from last100_hikvision.auth import digest_response
from last100_hikvision.client import DEFAULT_TIMEZONE
from last100_hikvision.push import ACCESS_CONTROLLER_EVENT

MODEL = "DS-K1T671M"
FIRMWARE = "V3.2.30"
FIRMWARE_DATE = "build 220512"

#: How long a Digest nonce is accepted before the device asks again (``stale="TRUE"``).
NONCE_TTL_S = 300

#: ISAPI's limits that the simulator enforces.
EMPLOYEE_NO_MAX = 32
CARD_NO_MAX = 32
NAME_MAX = 32

#: The most records one search page holds, whatever the client asks for.
MAX_RESULTS_CAP = 30

_LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"
_EXTENSION = "hikvision_simulator"
_BOUNDARY = "MIME_boundary"
_USER_TYPES = ("normal", "visitor", "blackList")


# ---------------------------------------------------------------------------------------
# Credentials and state
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorKeys:
    """What a simulated device shares with one hub connection: the device account, and
    the connection's card secret and push token (the device's listening-host URL carries
    the token)."""

    username: str
    password: str = field(repr=False)
    card_secret: str = field(repr=False)
    push_token: str = field(repr=False)

    @classmethod
    def generate(cls, username: str = "admin") -> SimulatorKeys:
        """Fresh random secrets (the demo makes new ones in every process)."""
        return cls(
            username=username,
            password=secrets.token_urlsafe(12),
            card_secret=secrets.token_urlsafe(24),
            push_token=secrets.token_urlsafe(24),
        )

    def settings(self, base_url: str) -> dict[str, Any]:
        """The connection settings for a simulator served at ``base_url``."""
        return {
            "base_url": base_url.rstrip("/"),
            "username": self.username,
            "password": self.password,
            "card_secret": self.card_secret,
            "push_token": self.push_token,
            "timezone": DEFAULT_TIMEZONE,
        }


@dataclass
class _User:
    employee_no: str
    name: str
    user_type: str
    valid_enabled: bool
    begin: datetime  # device wall time, naive
    end: datetime
    doors: frozenset[int]

    def to_state(self) -> dict[str, Any]:
        return {
            "employeeNo": self.employee_no,
            "name": self.name,
            "userType": self.user_type,
            "Valid": {
                "enable": self.valid_enabled,
                "beginTime": self.begin.strftime(_LOCAL_FORMAT),
                "endTime": self.end.strftime(_LOCAL_FORMAT),
            },
            "doors": sorted(self.doors),
        }


@dataclass
class _Device:
    """The simulated device's state; every read and change holds ``lock``."""

    keys: SimulatorKeys
    auth_mode: str
    zone: ZoneInfo
    clock: Callable[[], datetime]
    doors: int
    push_url: str | None
    push_format: str
    realm: str
    serial_number: str
    delete_processing_polls: int
    users: dict[str, _User] = field(default_factory=dict)
    cards: dict[str, dict[str, str]] = field(default_factory=dict)  # by cardNo
    events: list[dict[str, Any]] = field(default_factory=list)
    next_serial: int = 1
    nonces: dict[str, list[float]] = field(default_factory=dict)  # nonce -> [issued at, last nc]
    delete_polls_left: int = 0
    pushes: list[dict[str, Any]] = field(default_factory=list)
    remote_opens: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0
    error_rate: float = 0.0  # share of authenticated ISAPI requests answered 503 (benchmarks)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def local(self, moment: datetime) -> datetime:
        """A UTC time as the device's wall time (naive), as the device compares windows."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def log_event(self, record: dict[str, Any], at: datetime) -> dict[str, Any]:
        """Add an event to the log with the next serial number (caller holds the lock)."""
        record = {**record, "time": wire.offset_time(at, self.zone), "serialNo": self.next_serial}
        self.next_serial += 1
        self.events.append(record)
        return record


def _device() -> _Device:
    return current_app.extensions[_EXTENSION]


# ---------------------------------------------------------------------------------------
# ISAPI replies
# ---------------------------------------------------------------------------------------


class Refusal(Exception):
    """An ISAPI error reply: the HTTP status and the ``ResponseStatus`` to answer with."""

    def __init__(self, http_status: int, status_code: int, status_string: str, sub_status: str, msg: str = ""):
        super().__init__(sub_status)
        self.http_status = http_status
        self.status = wire.Status(status_code, status_string, sub_status, msg)


def bad_parameters(field_name: str) -> Refusal:
    return Refusal(400, 6, "Invalid Content", "badParameters", field_name)


def _wants_json() -> bool:
    return request.args.get("format") == "json"


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status, content_type='application/xml; charset="UTF-8"')


def _status_reply(status: wire.Status, http_status: int = 200) -> Response:
    """A ``ResponseStatus`` in the request's format (JSON when ``format=json``)."""
    if _wants_json():
        return _json(wire.status_json(request.path, status), http_status)
    return _xml(wire.status_xml(request.path, status), http_status)


def _ok() -> Response:
    return _status_reply(wire.Status(1, "OK", "ok"))


def _body() -> dict[str, Any]:
    """The JSON body of a ``format=json`` request."""
    if not _wants_json():
        # Without format=json a device reads the body as XML, which JSON is not.
        raise Refusal(400, 5, "Invalid XML Format", "badXmlFormat")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise Refusal(400, 5, "Invalid JSON Format", "badJsonFormat") from None
    if not isinstance(body, dict):
        raise Refusal(400, 6, "Invalid Content", "badJsonContent")
    return body


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise bad_parameters(name)
    return value


def _request_target() -> str:
    """The path and query exactly as the request line carried them (what Digest signs)."""
    env = request.environ
    raw = env.get("RAW_URI") or env.get("REQUEST_URI")
    if raw:
        return raw
    target = quote(env.get("SCRIPT_NAME", "") + env.get("PATH_INFO", ""), safe="/-._~!$&'()*+,;=:@%")
    query = env.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


# ---------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------


def _challenge(device: _Device, stale: bool = False) -> Response:
    """``401`` with the device's challenge, as Hikvision firmware sends it."""
    if device.auth_mode == "basic":
        header = f'Basic realm="{device.realm}"'
    else:
        nonce = secrets.token_hex(24)
        now = time.monotonic()
        with device.lock:
            # Forget expired nonces so a long-running demo does not grow without bound.
            for old in [n for n, (issued, _) in device.nonces.items() if now - issued > NONCE_TTL_S]:
                del device.nonces[old]
            device.nonces[nonce] = [now, 0]
        header = f'Digest qop="auth", realm="{device.realm}", nonce="{nonce}", stale="{"TRUE" if stale else "FALSE"}"'
    page = "<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head><body>401</body></html>"
    return Response(page, 401, {"WWW-Authenticate": header}, content_type="text/html")


def _digest_ok(device: _Device) -> tuple[bool, bool]:
    """Check the request's Digest answer; ``(accepted, stale nonce)``."""
    answer = request.authorization
    if answer is None or answer.type != "digest":
        return False, False
    params = answer.parameters
    nonce, nc = params.get("nonce", ""), params.get("nc", "")
    with device.lock:
        known = device.nonces.get(nonce)
        if known is None or time.monotonic() - known[0] > NONCE_TTL_S:
            return False, known is not None
        try:
            count = int(nc, 16)
        except ValueError:
            return False, False
        if count <= known[1]:
            return False, False  # a replayed answer
        known[1] = count
    if (
        params.get("username") != device.keys.username
        or params.get("realm") != device.realm
        or params.get("qop") != "auth"
        or params.get("uri") != _request_target()
    ):
        return False, False
    expected = digest_response(
        username=device.keys.username,
        realm=device.realm,
        password=device.keys.password,
        method=request.method,
        uri=params["uri"],
        nonce=nonce,
        nc=nc,
        cnonce=params.get("cnonce", ""),
    )
    return hmac.compare_digest(expected, params.get("response", "")), False


def _basic_ok(device: _Device) -> bool:
    answer = request.authorization
    if answer is None or answer.type != "basic":
        return False
    return hmac.compare_digest(answer.username or "", device.keys.username) and hmac.compare_digest(
        answer.password or "", device.keys.password
    )


# ---------------------------------------------------------------------------------------
# ISAPI
# ---------------------------------------------------------------------------------------

isapi = Blueprint("isapi", __name__, url_prefix="/ISAPI")


@isapi.before_request
def _authenticate() -> Response | None:
    device = _device()
    with device.lock:
        delay = device.delay_s
    if delay:
        time.sleep(delay)
    if device.auth_mode == "basic":
        if not _basic_ok(device):
            return _challenge(device)
    else:
        accepted, stale = _digest_ok(device)
        if not accepted:
            return _challenge(device, stale=stale)
    if device.error_rate and random.random() < device.error_rate:
        return Response("injected error (--error-rate)", 503, mimetype="text/plain")
    return None


@isapi.get("/System/deviceInfo")
def device_info() -> Response:
    device = _device()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<DeviceInfo version="2.0" xmlns="{wire.XML_NS}">'
        "<deviceName>Access Controller</deviceName>"
        f"<deviceID>{device.serial_number}</deviceID>"
        f"<model>{MODEL}</model>"
        f"<serialNumber>{MODEL}{device.serial_number}</serialNumber>"
        "<macAddress>24:0f:9b:00:00:01</macAddress>"
        f"<firmwareVersion>{FIRMWARE}</firmwareVersion>"
        f"<firmwareReleasedDate>{FIRMWARE_DATE}</firmwareReleasedDate>"
        "<deviceType>ACS</deviceType>"
        "</DeviceInfo>"
    )
    return _xml(body.encode("utf-8"))


def _local_time(value: Any, field_name: str) -> datetime:
    if not isinstance(value, str):
        raise bad_parameters(field_name)
    try:
        return datetime.strptime(value, _LOCAL_FORMAT)
    except ValueError:
        raise bad_parameters(field_name) from None


def _read_user(info: dict[str, Any], device: _Device, existing: _User | None = None) -> _User:
    """A user from a ``UserInfo`` object; fields a Modify leaves out keep their values."""
    employee_no = info.get("employeeNo")
    if not isinstance(employee_no, str) or not 0 < len(employee_no) <= EMPLOYEE_NO_MAX:
        raise bad_parameters("employeeNo")
    name = info.get("name", existing.name if existing else None)
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX:
        raise bad_parameters("name")
    user_type = info.get("userType", existing.user_type if existing else "normal")
    if user_type not in _USER_TYPES:
        raise bad_parameters("userType")
    if "Valid" in info:
        valid = info["Valid"]
        if not isinstance(valid, dict) or not isinstance(valid.get("enable"), bool):
            raise bad_parameters("Valid")
        enabled = valid["enable"]
        begin, end = _local_time(valid.get("beginTime"), "beginTime"), _local_time(valid.get("endTime"), "endTime")
        if enabled and end <= begin:
            raise bad_parameters("endTime")
    elif existing is not None:
        enabled, begin, end = existing.valid_enabled, existing.begin, existing.end
    else:
        enabled, begin, end = False, datetime(1970, 1, 1), datetime(2037, 12, 31, 23, 59, 59)
    doors = existing.doors if existing else frozenset()
    if "RightPlan" in info:
        plans = info["RightPlan"]
        if not isinstance(plans, list):
            raise bad_parameters("RightPlan")
        numbers = set()
        for plan in plans:
            door = plan.get("doorNo") if isinstance(plan, dict) else None
            if not isinstance(door, int) or isinstance(door, bool) or not 1 <= door <= device.doors:
                raise bad_parameters("doorNo")
            numbers.add(door)
        doors = frozenset(numbers)
    return _User(employee_no, name, user_type, enabled, begin, end, doors)


@isapi.post("/AccessControl/UserInfo/Record")
def record_user() -> Response:
    device = _device()
    user = _read_user(_object(_body(), "UserInfo"), device)
    with device.lock:
        if user.employee_no in device.users:
            raise Refusal(400, 6, "Invalid Content", "employeeNoAlreadyExist", "checkUser")
        device.users[user.employee_no] = user
    return _ok()


@isapi.put("/AccessControl/UserInfo/Modify")
def modify_user() -> Response:
    device = _device()
    info = _object(_body(), "UserInfo")
    with device.lock:
        existing = device.users.get(str(info.get("employeeNo")))
        if existing is None:
            raise Refusal(400, 6, "Invalid Content", "employeeNoNotExist", "employeeNo")
        device.users[existing.employee_no] = _read_user(info, device, existing)
    return _ok()


@isapi.put("/AccessControl/UserInfoDetail/Delete")
def delete_users() -> Response:
    device = _device()
    detail = _object(_body(), "UserInfoDetail")
    mode = detail.get("mode")
    with device.lock:
        if mode == "all":
            doomed = set(device.users)
        elif mode == "byEmployeeNo":
            listed = detail.get("EmployeeNoList")
            if not isinstance(listed, list) or not all(isinstance(e, dict) for e in listed):
                raise bad_parameters("EmployeeNoList")
            doomed = {e.get("employeeNo") for e in listed}
        else:
            raise bad_parameters("mode")
        # Users the device does not know are skipped, as on a real device.
        for employee_no in doomed & set(device.users):
            del device.users[employee_no]
        for card_no in [c for c, card in device.cards.items() if card["employeeNo"] in doomed]:
            del device.cards[card_no]
        device.delete_polls_left = device.delete_processing_polls
    return _ok()


@isapi.get("/AccessControl/UserInfoDetail/DeleteProcess")
def delete_process() -> Response:
    device = _device()
    if not _wants_json():
        raise Refusal(400, 5, "Invalid XML Format", "badXmlFormat")
    with device.lock:
        if device.delete_polls_left > 0:
            device.delete_polls_left -= 1
            status = "processing"
        else:
            status = "success"
    return _json({"UserInfoDetailDeleteProcess": {"status": status}})


@isapi.post("/AccessControl/CardInfo/Record")
def record_card() -> Response:
    device = _device()
    info = _object(_body(), "CardInfo")
    employee_no, card_no = info.get("employeeNo"), info.get("cardNo")
    if not isinstance(card_no, str) or not card_no.isdigit() or len(card_no) > CARD_NO_MAX:
        raise bad_parameters("cardNo")
    if info.get("cardType", "normalCard") != "normalCard":
        raise bad_parameters("cardType")
    with device.lock:
        if employee_no not in device.users:
            raise Refusal(400, 6, "Invalid Content", "employeeNoNotExist", "employeeNo")
        if card_no in device.cards:
            raise Refusal(400, 6, "Invalid Content", "cardNoAlreadyExist", "cardNo")
        device.cards[card_no] = {"employeeNo": str(employee_no), "cardNo": card_no, "cardType": "normalCard"}
    return _ok()


def _page(cond: dict[str, Any]) -> tuple[str, int, int]:
    """``searchID``, ``searchResultPosition`` and ``maxResults`` of a search condition."""
    search_id, position, max_results = cond.get("searchID"), cond.get("searchResultPosition"), cond.get("maxResults")
    if not isinstance(search_id, str) or not search_id:
        raise bad_parameters("searchID")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise bad_parameters("searchResultPosition")
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise bad_parameters("maxResults")
    return search_id, position, min(max_results, MAX_RESULTS_CAP)


def _search_status(position: int, shown: int, total: int) -> str:
    if total == 0:
        return "NO MATCH"
    return wire.MORE if position + shown < total else "OK"


@isapi.post("/AccessControl/CardInfo/Search")
def search_cards() -> Response:
    device = _device()
    cond = _object(_body(), "CardInfoSearchCond")
    search_id, position, max_results = _page(cond)
    wanted = cond.get("EmployeeNoList")
    with device.lock:
        cards = list(device.cards.values())
    if isinstance(wanted, list):
        names = {e.get("employeeNo") for e in wanted if isinstance(e, dict)}
        cards = [c for c in cards if c["employeeNo"] in names]
    page = cards[position : position + max_results]
    search = {
        "searchID": search_id,
        "responseStatusStrg": _search_status(position, len(page), len(cards)),
        "numOfMatches": len(page),
        "totalMatches": len(cards),
    }
    if page:
        search["CardInfo"] = page
    return _json({"CardInfoSearch": search})


def _offset_time(value: Any, field_name: str, device: _Device) -> datetime:
    try:
        return wire.read_time(value, device.zone)
    except ValueError:
        raise bad_parameters(field_name) from None


@isapi.post("/AccessControl/AcsEvent")
def search_events() -> Response:
    device = _device()
    cond = _object(_body(), "AcsEventCond")
    search_id, position, max_results = _page(cond)
    major, minor = cond.get("major", 0), cond.get("minor", 0)
    if not isinstance(major, int) or not isinstance(minor, int):
        raise bad_parameters("major")
    start = _offset_time(cond.get("startTime"), "startTime", device)
    end = _offset_time(cond.get("endTime"), "endTime", device)
    with device.lock:
        records = list(device.events)
    matching = [
        r
        for r in records
        if (major == 0 or r["major"] == major)
        and (minor == 0 or r["minor"] == minor)
        and start <= wire.read_time(r["time"], device.zone) <= end
    ]
    matching.sort(key=lambda r: (wire.read_time(r["time"], device.zone), r["serialNo"]))
    if cond.get("timeReverseOrder") is True:
        matching.reverse()
    page = matching[position : position + max_results]
    search = {
        "searchID": search_id,
        "responseStatusStrg": _search_status(position, len(page), len(matching)),
        "numOfMatches": len(page),
        "totalMatches": len(matching),
    }
    if page:
        search["InfoList"] = page
    return _json({"AcsEvent": search})


@isapi.put("/AccessControl/RemoteControl/door/<int:door_no>")
def remote_control(door_no: int) -> Response:
    device = _device()
    try:
        root = wire.parse_xml(request.get_data(cache=True))
    except ValueError:
        raise Refusal(400, 5, "Invalid XML Format", "badXmlFormat") from None
    cmd = wire.xml_fields(root).get("cmd")
    if wire.local_name(root.tag) != "RemoteControlDoor" or cmd not in ("open", "close", "alwaysOpen", "alwaysClose"):
        raise Refusal(400, 6, "Invalid XML Content", "badXmlContent", "cmd")
    if not 1 <= door_no <= device.doors:
        raise bad_parameters("doorNo")
    now = device.clock()
    with device.lock:
        device.remote_opens.append({"door": door_no, "cmd": cmd, "at": now.isoformat()})
        if cmd == "open":
            device.log_event(
                {
                    "major": wire.MAJOR_OPERATION,
                    "minor": wire.MINOR_REMOTE_OPEN_DOOR,
                    "doorNo": door_no,
                    "remoteHostAddr": request.remote_addr or "",
                },
                now,
            )
    return _ok()


@isapi.route("/<path:unknown>", methods=["GET", "POST", "PUT", "DELETE"])
def not_supported(unknown: str) -> Response:
    raise Refusal(404, 4, "Invalid Operation", "notSupport", "notSupport")


# ---------------------------------------------------------------------------------------
# Simulator-only admin endpoints
# ---------------------------------------------------------------------------------------

admin = Blueprint("hikvision_admin", __name__, url_prefix="/_sim")


class _AdminError(Exception):
    """A bad admin request (answered 400 with a plain JSON error)."""


def _admin_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _AdminError("the body must be a JSON object")
    return body


def _decide(device: _Device, card_no: str, door: int, at: datetime) -> tuple[int, str, _User | None]:
    """The device's decision on a card at a door at a time: ``(minor, reason, user)``
    (caller holds the lock)."""
    card = device.cards.get(card_no)
    user = device.users.get(card["employeeNo"]) if card else None
    if user is None:
        return wire.MINOR_INVALID_CARD, "unknown card", None
    if door not in user.doors:
        return wire.MINOR_CARD_NO_RIGHT, f"no right to door {door}", user
    local = device.local(at)
    if user.valid_enabled and local < user.begin:
        return wire.MINOR_CARD_INVALID_PERIOD, "not yet valid", user
    if user.valid_enabled and local > user.end:
        return wire.MINOR_CARD_OUT_OF_DATE, "expired", user
    return wire.MINOR_LEGAL_CARD_PASS, "granted", user


def _event_message(device: _Device, record: dict[str, Any]) -> dict[str, Any]:
    """The ``AccessControllerEvent`` message a device pushes for a logged event."""
    return {
        "ipAddress": "127.0.0.1",
        "portNo": 80,
        "protocol": "HTTP",
        "macAddress": "24:0f:9b:00:00:01",
        "channelID": 1,
        "dateTime": record["time"],
        "activePostCount": 1,
        "eventType": ACCESS_CONTROLLER_EVENT,
        "eventState": "active",
        "eventDescription": "Access Controller Event",
        ACCESS_CONTROLLER_EVENT: {
            "deviceName": "Access Controller",
            "majorEventType": record["major"],
            "subEventType": record["minor"],
            "cardNo": record.get("cardNo", ""),
            "cardType": 1,
            "cardReaderKind": 1,
            "cardReaderNo": record.get("cardReaderNo", 1),
            "doorNo": record.get("doorNo", 1),
            "verifyNo": record["serialNo"],
            "employeeNoString": record.get("employeeNoString", ""),
            "serialNo": record["serialNo"],
            "userType": record.get("userType", "normal"),
            "currentVerifyMode": "cardOrFace",
            "attendanceStatus": "undefined",
            "statusValue": 0,
            "mask": "unknown",
            "picturesNumber": 0,
        },
    }


def push_body(message: dict[str, Any], push_format: str) -> tuple[bytes, str]:
    """The body and content type of a push: multipart with an ``event_log`` JSON part, as
    controllers post to their listening host, or the JSON message alone."""
    payload = json.dumps(message, ensure_ascii=False, indent=2).encode("utf-8")
    if push_format == "json":
        return payload, "application/json; charset=UTF-8"
    head = (
        f"--{_BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="event_log"\r\n'
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode("ascii")
    return head + payload + f"\r\n--{_BOUNDARY}--\r\n".encode("ascii"), f"multipart/form-data; boundary={_BOUNDARY}"


def _push(device: _Device, record: dict[str, Any]) -> dict[str, Any] | None:
    """Send one event to the listening host (outside the state lock: it is a network
    call, and the hub may call back into the device while handling it)."""
    if not device.push_url:
        return None
    separator = "&" if "?" in device.push_url else "?"
    url = f"{device.push_url}{separator}{urlencode({'token': device.keys.push_token})}"
    body, content_type = push_body(_event_message(device, record), device.push_format)
    try:
        reply = requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=(1, 5))
        outcome: int | str = reply.status_code
    except requests.RequestException as exc:
        outcome = type(exc).__name__
    sent = {"serialNo": record["serialNo"], "status": outcome}
    with device.lock:
        device.pushes.append(sent)
    return sent


@admin.post("/swipe")
def swipe() -> Response:
    """A card (or a QR carrying its number) read at a door: ``{"card": "…", "door":
    "1", "reader"?: 1, "at"?: "2026-01-05T04:00:00+00:00"}``. Answers ``{"granted",
    "reason", "event", "push"}``; the event is logged and pushed."""
    device = _device()
    body = _admin_body()
    card_no, door_text, reader = body.get("card"), str(body.get("door", "1")), body.get("reader")
    if not isinstance(card_no, str) or not door_text.isdigit() or not 1 <= int(door_text) <= device.doors:
        raise _AdminError(f"card (a string) and door (1 to {device.doors}) are required")
    door = int(door_text)
    if reader is None:
        reader = 2 * door - 1  # the door's entrance reader
    if not isinstance(reader, int) or (reader + 1) // 2 != door:
        raise _AdminError(f"reader must be {2 * door - 1} (entrance) or {2 * door} (exit) for door {door}")
    try:
        at = wire.read_time(body["at"], device.zone) if "at" in body else device.clock()
    except ValueError:
        raise _AdminError("at must be an ISO 8601 time") from None
    with device.lock:
        minor, reason, user = _decide(device, card_no, door, at)
        record = device.log_event(
            {
                "major": wire.MAJOR_EVENT,
                "minor": minor,
                "cardNo": card_no,
                "cardType": 1,
                "name": user.name if user else "",
                "cardReaderKind": 1,
                "cardReaderNo": reader,
                "doorNo": door,
                "employeeNoString": user.employee_no if user else "",
                "userType": user.user_type if user else "normal",
                "currentVerifyMode": "cardOrFace",
            },
            at,
        )
    pushed = _push(device, record)
    granted = minor == wire.MINOR_LEGAL_CARD_PASS
    return _json({"granted": granted, "reason": reason, "event": record, "push": pushed})


@admin.get("/state")
def state() -> Response:
    """Users, cards, the event log, pushes sent and remote openings."""
    device = _device()
    with device.lock:
        return _json(
            {
                "auth": device.auth_mode,
                "users": [u.to_state() for u in device.users.values()],
                "cards": list(device.cards.values()),
                "events": list(device.events),
                "pushes": list(device.pushes),
                "remote_opens": list(device.remote_opens),
                "delay_s": device.delay_s,
            }
        )


@admin.post("/delay")
def set_delay() -> Response:
    """``{"seconds": 2.5}``: wait that long before answering every ISAPI request;
    ``{"seconds": 0}`` turns it off."""
    seconds = _admin_body().get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise _AdminError("seconds must be a non-negative number")
    device = _device()
    with device.lock:
        device.delay_s = float(seconds)
    return _json({"seconds": float(seconds)})


# ---------------------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------------------


def create_app(
    keys: SimulatorKeys,
    *,
    push_url: str | None = None,
    auth: str = "digest",
    timezone: str = DEFAULT_TIMEZONE,
    clock: Callable[[], datetime] | None = None,
    doors: int = 2,
    push_format: str = "multipart",
    delete_processing_polls: int = 1,
    delay_s: float = 0.0,
    error_rate: float = 0.0,
) -> Flask:
    """A simulated Hikvision access controller.

    :param keys: the account, card secret and push token shared with the hub (see
        :meth:`SimulatorKeys.settings`).
    :param push_url: the hub's push endpoint for the connection; the device adds
        ``?token=<push_token>`` as its listening-host URL would. No pushes when empty.
    :param auth: ``digest`` (current firmware) or ``basic`` (old firmware, Basic only).
    :param timezone: the device's timezone.
    :param clock: the device's clock (aware UTC); the real time by default.
    :param doors: how many doors the controller has.
    :param push_format: ``multipart`` (an ``event_log`` part) or ``json``.
    :param delete_processing_polls: how many progress polls answer ``processing`` after a
        deletion before ``success``.
    :param delay_s: wait this long before answering every ISAPI request (as
        ``POST /_sim/delay`` sets it).
    :param error_rate: answer this share of authenticated ISAPI requests (0 to 1) with ``503``.
    """
    if auth not in ("digest", "basic") or push_format not in ("multipart", "json"):
        raise ValueError("auth is digest or basic, push_format multipart or json")
    app = Flask(__name__)
    serial = secrets.token_hex(4).upper()
    app.extensions[_EXTENSION] = _Device(
        keys=keys,
        auth_mode=auth,
        zone=ZoneInfo(timezone),
        clock=clock or (lambda: datetime.now(UTC)),
        doors=doors,
        push_url=push_url or None,
        push_format=push_format,
        realm=f"IP Camera({serial[-5:]})",
        serial_number=serial,
        delete_processing_polls=delete_processing_polls,
        delay_s=delay_s,
        error_rate=error_rate,
    )
    app.register_blueprint(isapi)
    app.register_blueprint(admin)

    @app.errorhandler(Refusal)
    def _refused(exc: Refusal) -> Response:
        return _status_reply(exc.status, exc.http_status)

    @app.errorhandler(_AdminError)
    def _admin_error(exc: _AdminError) -> Response:
        return _json({"error": str(exc)}, 400)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/ISAPI/"):
            # Devices answer an unknown method the way they answer an unknown URL.
            return _status_reply(wire.Status(4, "Invalid Operation", "notSupport", "notSupport"), 403)
        return _json({"error": exc.description or exc.name}, exc.code or 500)

    return app


def demo_simulator() -> Simulator:
    """The simulator the hub's demo serves (entry point ``last100.simulators``); its
    secrets are made once per process, and the app and the settings share them."""
    keys = SimulatorKeys.generate()
    return Simulator(
        plugin="hikvision",
        name="North gate controller (simulated Hikvision)",
        app=lambda push_url: create_app(keys, push_url=push_url),
        settings=keys.settings,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m last100_hikvision.simulator``: serve a simulated controller and print
    the connection settings that reach it."""
    parser = argparse.ArgumentParser(prog="python -m last100_hikvision.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--push-url", default="", help="the hub's push URL for the connection")
    parser.add_argument("--auth", choices=("digest", "basic"), default="digest", help="what the device demands")
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="wait before answering each ISAPI request (a grant makes two)"
    )
    parser.add_argument("--error-rate", type=float, default=0, help="share (0-1) of ISAPI requests answered 503")
    args = parser.parse_args(argv)
    keys = SimulatorKeys.generate()
    app = create_app(
        keys, push_url=args.push_url, auth=args.auth, delay_s=args.latency_ms / 1000, error_rate=args.error_rate
    )
    server = make_server(args.host, args.port, app, threaded=True)
    base_url = f"http://{args.host}:{server.server_port}"
    print("Hikvision ISAPI simulator; settings for a hikvision connection:", file=sys.stderr)
    # Flushed at once: whoever reads the settings from a pipe needs them before the server stops.
    print(json.dumps(keys.settings(base_url), indent=2), flush=True)
    print(
        f'admin: POST {base_url}/_sim/swipe {{"card": "<a pass card>", "door": "1"}}, '
        f"GET {base_url}/_sim/state; the rest in the README",
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
