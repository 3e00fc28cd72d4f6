"""Small fake adapters of every kind, with a simulator each, that can be broken on
purpose (``broken={"grant_not_idempotent", ...}``): the conformance suites must pass the
sound ones and fail exactly the checks a breakage breaks (tests/test_conformance_suites.py).

Every fake talks HTTP to its simulator with ``requests``, honouring the connection's
timeout for each step and for the whole reply, the way a real adapter must.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import marshmallow
import requests
import urllib3
from marshmallow import fields, validate
from werkzeug.wrappers import Request, Response

from hub.core.clients import ClientCache, load_settings
from hub.core.errors import CredentialRejected, PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    GrantRequest,
    Health,
    LockerAllocation,
    LockerBank,
    Order,
    OrderStatus,
    PassKind,
    PluginInfo,
    PushEvent,
    PushRequest,
    RiderClaim,
    RiderIdentity,
    Visit,
    VisitorRecord,
)
from hub.testing import (
    CONNECTION_ID,
    AccessHarness,
    Env,
    LockerHarness,
    PlatformHarness,
    VisitorHarness,
)

KEY = "fake-key-0123456789"
PUSH_SECRET = "fake-push-secret-0123456789"

#: The largest reply a fake reads: its simulator's replies are a few hundred bytes.
MAX_REPLY_BYTES = 1 << 20


class Settings(marshmallow.Schema):
    base_url = fields.Url(required=True, require_tld=False)
    key = fields.String(required=True, validate=validate.Length(min=8), metadata={"secret": True})
    push_secret = fields.String(load_default="", metadata={"secret": True})


# ---------------------------------------------------------------------------
# The wire: one JSON exchange, within the connection's time
# ---------------------------------------------------------------------------


def exchange(
    connection: Connection,
    method: str,
    path: str,
    payload: Any = None,
    *,
    honour_timeout: bool = True,
    honour_deadline: bool = True,
    bounded: bool = True,
) -> tuple[int, bytes]:
    """One request to the connection's simulator: ``(status, body)``. Broken on purpose:
    ``honour_timeout=False`` waits as long as it takes; ``honour_deadline=False`` bounds
    each wait for data but not the whole reply; ``bounded=False`` reads the whole body,
    however large, as ``response.content`` does."""
    settings = load_settings(Settings, connection)
    timeout_s = connection.timeout_s
    started = time.monotonic()
    options: dict[str, Any] = {"timeout": (timeout_s, timeout_s)} if honour_timeout else {}
    try:
        response = requests.request(
            method,
            settings["base_url"].rstrip("/") + path,
            json=payload,
            headers={"X-Key": settings["key"]},
            stream=True,
            **options,
        )
    except requests.Timeout as exc:
        raise UpstreamTimeout(f"{path}: no answer in time") from exc
    except requests.RequestException as exc:
        raise UpstreamError(f"{path}: cannot be reached ({type(exc).__name__})") from exc
    chunks = []
    size = 0
    with response:
        try:
            if not bounded:
                return response.status_code, response.content
            while chunk := response.raw.read1(4096):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise UpstreamError(f"{path}: reply larger than {MAX_REPLY_BYTES} bytes")
                if honour_timeout and honour_deadline and time.monotonic() - started > timeout_s:
                    raise UpstreamTimeout(f"{path}: reply not complete in time")
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise UpstreamTimeout(f"{path}: reply stalled") from exc
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise UpstreamError(f"{path}: reply broken off") from exc
    return response.status_code, b"".join(chunks)


def read_json(body: bytes, *, crash: bool = False) -> Any:
    if crash:
        return json.loads(body)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise UpstreamError("the reply is not JSON") from exc


def expect(data: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        raise UpstreamError(f"the reply has no valid {key!r}")
    return value


def unreachable(exc: UpstreamError) -> bool:
    """Whether ``exc`` says the upstream could not be reached at all (no timeout)."""
    return isinstance(exc.__cause__, requests.ConnectionError) and not isinstance(exc, UpstreamTimeout)


class FakePlugin:
    """What every fake shares: settings, the health check, breakages.

    Breakages of every fake: ``timeout_ignored``, ``deadline_ignored``,
    ``reply_unbounded`` (the whole body, without timeouts), ``malformed_crash`` (see
    :func:`exchange` and :func:`read_json`) and ``health_unchecked`` (any ``200`` passes
    the health check, whatever its body).
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]

    def __init__(self, broken: frozenset[str] = frozenset()) -> None:
        self.broken = broken
        self._settings: ClientCache[dict[str, Any]] = ClientCache(lambda c: load_settings(Settings, c))

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=self.name,
            kinds={self.kind},
            version="0.0.1",
            capabilities=self.capabilities,
            settings_schema=Settings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            self._settings.get(connection)
            status, body = self._exchange(connection, "GET", "/ping")
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        except UpstreamError as exc:
            return Health(ok=False, message=f"base_url: {exc}")
        if status == 401:
            return Health(ok=False, message="the key was refused")
        if "health_unchecked" in self.broken:
            return Health(ok=status == 200, message=f"HTTP {status}")
        try:
            answered = status == 200 and expect(read_json(body), "ok", bool) is True
        except UpstreamError as exc:
            return Health(ok=False, message=f"base_url: {exc}")
        return Health(ok=answered, message=f"HTTP {status}")

    def _exchange(self, connection: Connection, method: str, path: str, payload: Any = None) -> tuple[int, bytes]:
        # An unbounded reader is the naive one: no timeouts either, as requests by default.
        naive = {"timeout_ignored", "reply_unbounded"} & self.broken
        return exchange(
            connection,
            method,
            path,
            payload,
            honour_timeout=not naive,
            honour_deadline="deadline_ignored" not in self.broken,
            bounded="reply_unbounded" not in self.broken,
        )

    def _call(self, connection: Connection, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        status, body = self._exchange(connection, method, path, payload)
        if status == 401:
            raise UpstreamError("the key was refused")
        if status >= 500:
            if "error_status_is_rejection" in self.broken:
                return status, None
            raise UpstreamError(f"HTTP {status}")
        return status, read_json(body, crash="malformed_crash" in self.broken)


# ---------------------------------------------------------------------------
# The simulators' shared state and app
# ---------------------------------------------------------------------------


@dataclass
class State:
    """Everything the fake simulators hold, behind one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    riders: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (ref, status)
    orders: list[dict[str, str]] = field(default_factory=list)
    passes: list[dict[str, Any]] = field(default_factory=list)
    opens: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)


def _reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def simulator(state: State) -> Any:
    """The fake upstream of every kind, as one WSGI app."""

    @Request.application
    def app(request: Request) -> Response:
        if request.headers.get("X-Key") != KEY:
            return _reply({"error": "unknown key"}, 401)
        body = request.get_json(silent=True) or {}
        with state.lock:
            return _route(state, request.path, body, request.args)

    return app


def _route(state: State, path: str, body: dict[str, Any], args: Mapping[str, str]) -> Response:
    if path == "/ping":
        return _reply({"ok": True})
    if path == "/verify":
        known = state.riders.get(body.get("token", ""))
        if known is None:
            return _reply({"error": "unknown credential"}, 404)
        return _reply({"rider": {"ref": known[0], "status": known[1], "name": "王*", "phone": "138****5678"}})
    if path == "/orders":
        rider = body.get("rider") or state.riders.get(body.get("token", ""), ("",))[0]
        community = body.get("community")
        return _reply(
            {"orders": [o for o in state.orders if o["rider"] == rider and community in (None, o["community"])]}
        )
    if path == "/grant":
        held = [p for p in state.passes if p["grant_id"] == body["grant_id"] and p["credential"] == body["credential"]]
        for stale in held:
            state.passes.remove(stale)
        state.passes.append({**body, "revoked": False})
        return _reply({"ok": True})
    if path == "/revoke":
        held = [p for p in state.passes if p["grant_id"] == body["grant_id"]]
        if not held:
            return _reply({"error": "unknown grant"}, 404)
        for p in held:
            p["revoked"] = True
        return _reply({"ok": True})
    if path == "/open":
        state.opens.append(str(body["door"]))
        return _reply({"ok": True})
    if path == "/events":
        since, offset, limit = args["since"], int(args["offset"]), int(args["limit"])
        matching = sorted((e for e in state.events if e["at"] > since), key=lambda e: e["at"])
        return _reply({"events": matching[offset : offset + limit], "more": offset + limit < len(matching)})
    if path == "/allocate":
        held = next((a for a in state.allocations if a["key"] == body["key"] and a["live"]), None)
        if held is None:
            held = {**body, "id": f"al-{secrets.token_hex(4)}", "compartment": f"B{len(state.allocations) + 1:02d}"}
            held.update(pin=f"{secrets.randbelow(10**6):06d}", live=True)
            state.allocations.append(held)
        return _reply({"allocation": held})
    if path == "/release":
        held = next((a for a in state.allocations if a["id"] == body["id"]), None)
        if held is None:
            return _reply({"error": "unknown allocation"}, 404)
        held["live"] = False
        return _reply({"ok": True})
    if path == "/records":
        held = next((r for r in state.records if r["key"] == body["key"]), None)
        if held is None:
            held = {**body, "record_id": f"V{len(state.records) + 1:06d}"}
            state.records.append(held)
        return _reply({"record_id": held["record_id"]})
    return _reply({"error": "no such path"}, 404)


class FakeHarnessMixin:
    """Starts the fake simulator; settings for it and for other servers."""

    broken: ClassVar[frozenset[str]] = frozenset()
    invalid_settings: ClassVar[Mapping[str, Any]] = {"base_url": "not a url", "key": "short"}

    def make_plugin(self) -> object:
        return type(self).plugin(broken=self.broken)  # type: ignore[attr-defined]

    def start(self, env: Env) -> None:
        self.state = State()
        self.seed(self.state)
        self.url = env.serve(simulator(self.state))

    def seed(self, state: State) -> None:
        pass

    def settings(self) -> dict[str, Any]:
        return self.settings_for(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {"base_url": base_url, "key": KEY, "push_secret": PUSH_SECRET}

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "key": "not-the-simulators-key"}


# ---------------------------------------------------------------------------
# Platform
# ---------------------------------------------------------------------------


def _signature(secret: str, stamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class FakePlatform(FakePlugin):
    """Breakages: ``orders_unfiltered``, ``forged_push_accepted``,
    ``error_status_is_rejection`` (any error status rejects the rider),
    ``unreachable_is_empty`` (no orders when the platform cannot be reached)."""

    name = "fake-platform"
    kind = "platform"
    capabilities = frozenset({"verify_rider", "active_orders", "push"})

    @hookimpl
    def hub_verify_rider(self, connection: Connection, credential: Credential) -> RiderIdentity:
        if credential.kind is CredentialKind.ENTRY_CODE:
            raise CredentialRejected("no entry codes here", "请使用骑手App", "Use the rider app")
        status, data = self._call(connection, "POST", "/verify", {"token": credential.value})
        if status == 404 or (status >= 400 and "error_status_is_rejection" in self.broken):
            raise CredentialRejected("unknown rider", "骑手身份未通过验证", "The platform does not know this rider")
        if "malformed_crash" in self.broken:
            rider = data["rider"]
            ref, state = rider["ref"], rider["status"]
        else:
            rider = expect(data, "rider", dict)
            ref, state = expect(rider, "ref", str), expect(rider, "status", str)
        return RiderIdentity(
            platform_ref=ref, masked_name=rider.get("name", ""), masked_phone=rider.get("phone", ""), status=state
        )

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        unfiltered = "orders_unfiltered" in self.broken
        ref = community.platform_ref(connection)
        query = {"rider": rider.platform_ref, "token": rider.credential.value}
        try:
            _, data = self._call(connection, "POST", "/orders", query if unfiltered else {**query, "community": ref})
        except UpstreamError as exc:
            if "unreachable_is_empty" in self.broken and unreachable(exc):
                return []
            raise
        orders = [
            Order(o["ref"], OrderStatus(o["status"]), rider_ref=o["rider"], community_ref=o["community"])
            for o in expect(data, "orders", list)
        ]
        return orders if unfiltered else [o for o in orders if o.community_ref == ref]

    @hookimpl
    def hub_parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        secret = self._settings.get(connection)["push_secret"]
        stamp = request.headers.get("x-timestamp", "")
        given = request.headers.get("x-signature", "")
        if "forged_push_accepted" not in self.broken and not hmac.compare_digest(
            given, _signature(secret, stamp, request.body)
        ):
            raise PushRejected("bad signature", 401)
        if not stamp.isdigit() or abs(int(stamp) - request.received_at.timestamp()) > 300:
            raise PushRejected("outside the tolerance", 401)
        try:
            body = json.loads(request.body)
            order = body["order"]
            return [
                PushEvent(
                    event_id=body["id"],
                    occurred_at=datetime.fromisoformat(body["at"]),
                    order=Order(order["ref"], OrderStatus(order["status"]), rider_ref=order["rider"]),
                )
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise PushRejected(f"malformed: {exc}", 400) from exc


class FakePlatformHarness(FakeHarnessMixin, PlatformHarness):
    plugin = FakePlatform
    gate = Gate("north", "sunny-garden", "North gate", "sunny-north")

    def seed(self, state: State) -> None:
        state.riders.update({"demo-rider-1": ("R1001", "active"), "demo-rider-3": ("R1003", "suspended")})
        state.orders += [
            {"ref": "DEMO-ORDER-1", "rider": "R1001", "community": "sunny-garden", "status": "delivering"},
            {"ref": "OTHER-ORDER-1", "rider": "R1001", "community": "maple-court", "status": "delivering"},
        ]

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        order = {"ref": "DEMO-ORDER-1", "status": "arrived", "rider": "R1001"}
        body = json.dumps({"id": f"evt-{number}", "at": sent_at.isoformat(), "order": order}).encode()
        stamp = str(int(sent_at.timestamp()))
        signature = _signature("someone-elses-secret" if forged else PUSH_SECRET, stamp, body)
        return PushRequest(
            "POST",
            f"https://hub.test/api/v1/push/{CONNECTION_ID}",
            {"X-Timestamp": stamp, "X-Signature": signature},
            body,
            received_at=received_at,
        )


# ---------------------------------------------------------------------------
# Access control
# ---------------------------------------------------------------------------


class FakeGate(FakePlugin):
    """Breakages: ``grant_not_idempotent``, ``revoke_unknown_raises``,
    ``events_first_page_only``, ``declares_push_without_hook``, ``status_unchecked``
    (a revocation or an opening is done once sent, whatever the answer)."""

    name = "fake-gate"
    kind = "access"
    capabilities = frozenset({"revoke", "remote_open", "access_events"})

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        info = super().hub_plugin_info()
        if "declares_push_without_hook" in self.broken:
            capabilities = info.capabilities | {"push"}
            info = PluginInfo(info.name, info.kinds, info.version, capabilities, settings_schema=Settings)
        return info

    @hookimpl
    def hub_grant_access(self, connection: Connection, gate: Gate, grant: GrantRequest) -> AccessGrant:
        key = self._settings.get(connection)["key"]
        if "grant_not_idempotent" in self.broken:
            credential = secrets.token_hex(8).upper()
        else:
            credential = hmac.new(key.encode(), grant.grant_id.encode(), hashlib.sha256).hexdigest()[:16].upper()
        payload = {
            "grant_id": grant.grant_id,
            "credential": credential,
            "door": gate.door_no,
            "valid_from": grant.valid_from.isoformat(),
            "valid_until": grant.valid_until.isoformat(),
        }
        _, data = self._call(connection, "POST", "/grant", payload)
        if expect(data, "ok", bool) is not True:
            raise UpstreamError("the gate refused the grant")
        return AccessGrant(grant.grant_id, PassKind.QR, credential, grant.valid_from, grant.valid_until)

    @hookimpl
    def hub_revoke_access(self, connection: Connection, grant: AccessGrant) -> bool:
        if "status_unchecked" in self.broken:
            self._exchange(connection, "POST", "/revoke", {"grant_id": grant.grant_id})
            return True
        status, _ = self._call(connection, "POST", "/revoke", {"grant_id": grant.grant_id})
        if status == 404 and "revoke_unknown_raises" in self.broken:
            raise UpstreamError("the gate does not know this grant")
        return True

    @hookimpl
    def hub_open_door(self, connection: Connection, gate: Gate) -> bool:
        if "status_unchecked" in self.broken:
            self._exchange(connection, "POST", "/open", {"door": gate.door_no})
        else:
            self._call(connection, "POST", "/open", {"door": gate.door_no})
        return True

    @hookimpl
    def hub_access_events(self, connection: Connection, gate: Gate, since: datetime) -> list[AccessEvent]:
        found, offset = [], 0
        while True:
            path = f"/events?since={since.isoformat().replace('+', '%2B')}&offset={offset}&limit=2"
            _, data = self._call(connection, "GET", path)
            page = expect(data, "events", list)
            found += [
                AccessEvent(e["id"], datetime.fromisoformat(e["at"]), "in", e["credential"], e["door"], gate.id)
                for e in page
                if e["door"] == gate.door_no
            ]
            if not data.get("more") or "events_first_page_only" in self.broken:
                return found
            offset += len(page)


class FakeGateHarness(FakeHarnessMixin, AccessHarness):
    plugin = FakeGate
    events_page_size = 2

    def _held(self, grant: AccessGrant) -> list[dict[str, Any]]:
        with self.state.lock:
            return [p for p in self.state.passes if p["grant_id"] == grant.grant_id and not p["revoked"]]

    def held_credentials(self, grant: AccessGrant) -> list[str]:
        return [p["credential"] for p in self._held(grant)]

    def admits(self, grant: AccessGrant) -> bool:
        now = datetime.now(UTC)
        return any(
            p["credential"] == grant.value
            and datetime.fromisoformat(p["valid_from"]) <= now <= datetime.fromisoformat(p["valid_until"])
            for p in self._held(grant)
        )

    def remote_opens(self) -> list[str]:
        with self.state.lock:
            return list(self.state.opens)

    def make_events(self, grant: AccessGrant, times: list[datetime]) -> None:
        with self.state.lock:
            for at in times:
                event = {"id": f"ev-{len(self.state.events) + 1}", "at": at.isoformat(), "credential": grant.value}
                self.state.events.append({**event, "door": self.gate.door_no})


# ---------------------------------------------------------------------------
# Lockers and visitor systems
# ---------------------------------------------------------------------------


class FakeLocker(FakePlugin):
    """Breakage: ``allocate_not_idempotent``."""

    name = "fake-locker"
    kind = "locker"
    capabilities = frozenset({"allocate_locker", "release_locker"})

    @hookimpl
    def hub_allocate_locker(self, connection: Connection, bank: LockerBank, order: Order) -> LockerAllocation:
        key = secrets.token_hex(8) if "allocate_not_idempotent" in self.broken else order.ref
        _, data = self._call(connection, "POST", "/allocate", {"key": key, "order_ref": order.ref})
        held = expect(data, "allocation", dict)
        return LockerAllocation(
            expect(held, "id", str), bank.id, expect(held, "compartment", str), pin=expect(held, "pin", str)
        )

    @hookimpl
    def hub_release_locker(self, connection: Connection, allocation: LockerAllocation) -> bool:
        self._call(connection, "POST", "/release", {"id": allocation.allocation_id})
        return True


class FakeLockerHarness(FakeHarnessMixin, LockerHarness):
    plugin = FakeLocker

    def held_allocations(self, order_ref: str) -> list[str]:
        with self.state.lock:
            return [a["id"] for a in self.state.allocations if a["order_ref"] == order_ref and a["live"]]


class FakeVisitorBook(FakePlugin):
    """Breakage: ``register_not_idempotent``."""

    name = "fake-visitors"
    kind = "visitor"
    capabilities = frozenset({"register_visitor"})

    @hookimpl
    def hub_register_visitor(self, connection: Connection, visit: Visit) -> VisitorRecord:
        key = secrets.token_hex(8) if "register_not_idempotent" in self.broken else visit.entry_id
        _, data = self._call(connection, "POST", "/records", {"key": key, "entry_id": visit.entry_id})
        return VisitorRecord(expect(data, "record_id", str))


class FakeVisitorHarness(FakeHarnessMixin, VisitorHarness):
    plugin = FakeVisitorBook

    def records_for(self, entry_id: str) -> int:
        with self.state.lock:
            return sum(r["entry_id"] == entry_id for r in self.state.records)


__all__ = [
    "FakeGateHarness",
    "FakeLockerHarness",
    "FakePlatformHarness",
    "FakeVisitorHarness",
]
