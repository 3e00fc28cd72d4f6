"""The conformance suites: the standard checks every adapter of a kind must pass, run
against the adapter and its simulator (in the spirit of the Singer SDK's
``get_tap_test_class``). An adapter's test module binds one in a line::

    from hub.testing import platform_suite

    TestConformance = platform_suite(RiderPassHarness)

Every check calls the plugin through a bare :class:`~hub.core.plugins.Hub` holding only
that plugin (no cache, breaker or timing wrappers), so what is checked is what the
adapter itself does: the error it raises, how long it waits.

The fault-injection check, ``upstream_fault[<call>-<fault>]``, is table-driven: every
call of the kind's ``upstream_calls`` (the health check and each capability hook that
goes out to the system) meets every fault of :data:`~hub.testing.servers.FAULTS`, on a
misbehaving server on loopback (:meth:`Harness.fault_settings` says how to point the
connection at it); a call the plugin does not declare, or a case its protocol cannot
meet (``Harness.faults_not_applicable``), is skipped with the reason.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import marshmallow
import pytest

from hub.core.errors import (
    CredentialRejected,
    PluginError,
    PushRejected,
    SettingsError,
    UpstreamError,
    UpstreamTimeout,
)
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    GrantRequest,
    Health,
    LockerAllocation,
    Notice,
    Order,
    PassKind,
    PluginInfo,
    PluginKind,
    PushEvent,
    RiderClaim,
    RiderIdentity,
    RiderStatus,
    VisitorRecord,
)
from hub.core.plugins import Hub, PluginRecord, secret_fields, validate_info
from hub.testing.harness import (
    CONNECTION_ID,
    AccessHarness,
    Env,
    Harness,
    LockerHarness,
    PlatformHarness,
    VisitorHarness,
)
from hub.testing.servers import FAULT_DESCRIPTIONS, FAULTS, HUGE_BODY_BYTES, MALFORMED_REPLIES

#: Capabilities (``PluginInfo.capabilities``) that stand for a hook: a plugin declaring
#: one must implement the hook, and a plugin implementing the hook must declare it.
CAPABILITY_HOOKS: dict[str, str] = {
    "verify_rider": "hub_verify_rider",
    "active_orders": "hub_active_orders",
    "get_order": "hub_get_order",
    "push": "hub_parse_push",
    "publish_community": "hub_publish_community",
    "notify_rider": "hub_notify_rider",
    "revoke": "hub_revoke_access",
    "remote_open": "hub_open_door",
    "access_events": "hub_access_events",
    "register_visitor": "hub_register_visitor",
    "allocate_locker": "hub_allocate_locker",
    "release_locker": "hub_release_locker",
}

#: The hooks a plugin of each kind must implement, whatever it declares.
REQUIRED_HOOKS: dict[PluginKind, tuple[str, ...]] = {
    PluginKind.PLATFORM: ("hub_check_connection", "hub_verify_rider"),
    PluginKind.ACCESS: ("hub_check_connection", "hub_grant_access"),
    PluginKind.LOCKER: ("hub_check_connection", "hub_allocate_locker", "hub_release_locker"),
    PluginKind.VISITOR: ("hub_check_connection", "hub_register_visitor"),
}

# A phone number as the hub may not keep it: seven digits or more in a row.
_UNMASKED_PHONE = re.compile(r"\d{7,}")
_MISSING = object()


def needs(capability: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a check as one of ``capability``: skipped, saying why, for a plugin that does
    not declare it."""

    def mark(check: Callable[..., None]) -> Callable[..., None]:
        check._last100_capability = capability  # type: ignore[attr-defined]
        return check

    return mark


def _now() -> datetime:
    """Now in whole seconds: the wire formats of the simulators have no fractions."""
    return datetime.now(UTC).replace(microsecond=0)


# ---------------------------------------------------------------------------
# One check's world
# ---------------------------------------------------------------------------


@dataclass
class Bounded:
    """How a call run by :meth:`World.bounded` ended."""

    elapsed: float
    result: Any = None
    error: BaseException | None = None


@dataclass
class World:
    """One check's plugin, hub, harness and simulator."""

    check: str
    harness: Harness
    plugin: object
    env: Env
    info: PluginInfo | None
    record: PluginRecord | None
    problem: str = ""
    _hub: Hub | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        assert self.info is not None
        return self.info.name

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            pytest.fail(f"the plugin cannot be registered on a hub: {self.problem}")
        return self._hub

    def ask(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a harness method; one it does not implement fails the check, naming it."""
        try:
            return getattr(self.harness, method)(*args, **kwargs)
        except NotImplementedError:
            harness = type(self.harness).__name__
            pytest.fail(
                f"{harness}.{method}() is not implemented, and the check {self.check!r} needs it; implement it, or "
                f"declare {self.check!r} in {harness}.not_applicable with the reason the check cannot apply"
            )

    def connection(self, raw: dict[str, Any] | None = None, *, timeout_s: float | None = None) -> Connection:
        """A connection with ``raw`` settings (the simulator's by default), loaded through
        the plugin's schema as the hub stores them."""
        raw = self.ask("settings") if raw is None else raw
        try:
            settings = self.hub.validate_settings(self.name, raw)
        except SettingsError as exc:
            pytest.fail(f"the harness's settings are invalid: {exc} {exc.errors}")
        timeout = self.harness.timeout_s if timeout_s is None else timeout_s
        return Connection(CONNECTION_ID, self.name, "Conformance check", settings=settings, timeout_s=timeout)

    def raw_connection(self, raw: dict[str, Any]) -> Connection:
        """A connection with ``raw`` settings as they are, not loaded (invalid ones)."""
        return Connection(CONNECTION_ID, self.name, "Conformance check", settings=raw, timeout_s=self.harness.timeout_s)

    @property
    def limit_s(self) -> float:
        """How long a call on a slow connection may take before it must have given up."""
        return self.harness.slow_timeout_s + self.harness.timeout_grace_s

    def slow_connection(self, raw: dict[str, Any]) -> Connection:
        return self.connection(raw, timeout_s=self.harness.slow_timeout_s)

    def bounded(self, call: Callable[[], Any], what: str, timeout_s: float | None = None) -> Bounded:
        """Run ``call`` in a thread and wait for it at most ``timeout_s`` (by default
        ``slow_timeout_s``) plus ``timeout_grace_s``; a call still running then fails the
        check (the adapter does not honour the connection's ``timeout_s``)."""
        timeout_s = self.harness.slow_timeout_s if timeout_s is None else timeout_s
        limit_s = timeout_s + self.harness.timeout_grace_s
        outcome: dict[str, Any] = {}

        def run() -> None:
            started = time.monotonic()
            try:
                outcome["result"] = call()
            except BaseException as exc:  # reported to the check, whatever it is
                outcome["error"] = exc
            outcome["elapsed"] = time.monotonic() - started

        thread = threading.Thread(target=run, name=f"conformance {what}", daemon=True)
        thread.start()
        thread.join(limit_s)
        if thread.is_alive():
            pytest.fail(
                f"{what} was still waiting after {limit_s:g} s on a connection whose timeout_s is "
                f"{timeout_s:g} s: the adapter does not honour connection.timeout_s"
            )
        return Bounded(outcome["elapsed"], outcome.get("result"), outcome.get("error"))

    def expect_timeout(self, call: Callable[[], Any], what: str) -> None:
        ended = self.bounded(call, what)
        assert ended.error is not None, f"{what} returned {ended.result!r} from an upstream that never answered"
        assert isinstance(ended.error, UpstreamTimeout), (
            f"{what} raised {type(ended.error).__name__}: {ended.error}; an upstream that does not answer within "
            "connection.timeout_s must raise hub.core.errors.UpstreamTimeout"
        )


@dataclass(frozen=True)
class UpstreamCall:
    """One call a kind's plugin makes upstream, as the fault-injection check
    (``upstream_fault``) makes it under every fault of :data:`FAULTS`.

    :ivar name: the call's name in the check's ids and in ``faults_not_applicable``.
    :ivar hook: the hook it calls.
    :ivar capability: the capability a plugin declares for the hook (the case is skipped,
        saying so, for a plugin that does not); ``None`` for a hook of the kind's own.
    :ivar prepare: ``prepare(world, connection)``: the call, ready to run.
    """

    name: str
    hook: str
    capability: str | None
    prepare: Callable[[World, Connection], Callable[[], Any]]

    @property
    def reports_health(self) -> bool:
        """The health check reports failures in ``Health(ok=False)`` rather than raising."""
        return self.hook == "hub_check_connection"


#: The faults after which a call must have given up with ``UpstreamTimeout``: nothing, or
#: not all of the reply, came in time. Every other fault is an ``UpstreamError``.
TIMEOUT_FAULTS = frozenset({"silent", "slow_body"})

CHECK_CONNECTION = UpstreamCall(
    "check_connection", "hub_check_connection", None, lambda w, c: functools.partial(w.hub.check_connection, c)
)


def _describe(plugin: object) -> tuple[PluginInfo | None, str]:
    try:
        return validate_info(plugin.hub_plugin_info(), type(plugin).__name__), ""  # type: ignore[attr-defined]
    except PluginError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"hub_plugin_info failed: {type(exc).__name__}: {exc}"


class _Suite:
    """What every kind's suite checks. Not collected by itself: bind it with a harness
    through :func:`platform_suite` and its siblings."""

    harness: ClassVar[type[Harness]]
    kind: ClassVar[PluginKind]
    #: The call of the kind that every timeout and malformed-reply check makes.
    main_call_name: ClassVar[str]
    #: Every call the kind's plugins make upstream: the fault-injection check makes each
    #: under every fault.
    upstream_calls: ClassVar[tuple[UpstreamCall, ...]]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """The fault-injection check runs once per upstream call of the kind and fault."""
        if "upstream_call" in metafunc.fixturenames:
            cases = [(call.name, fault) for call in self.upstream_calls for fault in FAULTS]
            metafunc.parametrize(("upstream_call", "fault"), cases, ids=[f"{c}-{f}" for c, f in cases])

    @classmethod
    def upstream_call_named(cls, name: str) -> UpstreamCall:
        return next(call for call in cls.upstream_calls if call.name == name)

    @pytest.fixture
    def conformance(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
        check = request.node.originalname.removeprefix("test_")
        harness = type(self).harness()
        plugin = harness.make_plugin()
        info, problem = _describe(plugin)
        params = request.node.callspec.params if hasattr(request.node, "callspec") else {}
        capability = getattr(request.function, "_last100_capability", None)
        if "upstream_call" in params:
            capability = self.upstream_call_named(params["upstream_call"]).capability
        if capability is not None and info is not None and capability not in info.capabilities:
            declared = ", ".join(sorted(info.capabilities)) or "none"
            pytest.skip(
                f"{info.name} does not declare the {capability!r} capability (it declares: {declared})",
            )
        reason = harness.not_applicable.get(check)
        if not reason and "upstream_call" in params:
            call, fault = params["upstream_call"], params["fault"]
            named = harness.faults_not_applicable
            reason = named.get(f"{call}/{fault}") or named.get(call) or named.get(fault)
        if reason:
            pytest.skip(f"not applicable to {info.name if info else type(plugin).__name__}: {reason}")
        hub, record = None, None
        if info is not None:
            hub = Hub()
            try:
                record = hub.register(plugin, source="conformance")
            except PluginError as exc:
                hub, problem = None, str(exc)
        env = Env(request, tmp_path)
        world = World(check, harness, plugin, env, info, record, problem, hub)
        try:
            world.ask("start", env)
            yield world
        finally:
            try:
                harness.stop()
            finally:
                close = getattr(plugin, "close", None)
                if callable(close):
                    close()
                env.close()

    def main_call(self, world: World, connection: Connection) -> Any:
        raise NotImplementedError

    # -- the plugin and its settings ---------------------------------------------------

    def test_plugin_info_is_valid(self, conformance: World) -> None:
        """``hub_plugin_info`` passes the hub's validation; the plugin is of the suite's
        kind and implements its required hooks; its capabilities and hooks agree."""
        world = conformance
        assert world.info is not None, world.problem
        assert world.record is not None, f"the plugin cannot be registered on a hub: {world.problem}"
        info = world.info
        assert self.kind in info.kinds, f"{info.name} declares kinds {sorted(info.kinds)}, not {self.kind.value!r}"
        assert info.settings_schema is None or issubclass(info.settings_schema, marshmallow.Schema)
        hooks = set(world.record.hooks)
        missing = [h for h in REQUIRED_HOOKS[self.kind] if h not in hooks]
        assert not missing, f"a {self.kind.value} plugin must implement {', '.join(missing)}"
        problems = [
            f"declares {capability!r} but does not implement {hook}"
            for capability, hook in CAPABILITY_HOOKS.items()
            if capability in info.capabilities and hook not in hooks
        ] + [
            f"implements {hook} but does not declare the {capability!r} capability"
            for capability, hook in CAPABILITY_HOOKS.items()
            if hook in hooks and capability not in info.capabilities
        ]
        assert not problems, f"{info.name}'s capabilities and hooks disagree: " + "; ".join(problems)
        if "push" in info.capabilities:
            try:
                json.dumps(dict(info.push_ack))
            except (TypeError, ValueError) as exc:
                pytest.fail(f"push_ack must be a JSON object: {exc}")

    def _invalid_cases(self, world: World) -> list[tuple[str, Any]]:
        schema = world.info.settings_schema if world.info else None
        required = [n for n, f in (schema._declared_fields.items() if schema else ()) if f.required]
        listed = list(world.harness.invalid_settings.items())
        return listed + [(name, _MISSING) for name in required if name not in dict(listed)]

    @staticmethod
    def _with(valid: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        raw = dict(valid)
        if value is _MISSING:
            raw.pop(name, None)
        else:
            raw[name] = value
        return raw

    def test_invalid_settings_are_rejected_naming_the_setting(self, conformance: World) -> None:
        """Every setting of ``invalid_settings`` and every required setting left out is a
        ``SettingsError`` naming that setting alone (and never quoting a secret's value)."""
        world = conformance
        valid = world.ask("settings")
        world.connection(valid)  # the harness's own settings load
        cases = self._invalid_cases(world)
        if not cases:
            pytest.skip(f"{world.name} requires no setting and its harness lists no invalid_settings")
        secrets = secret_fields(world.info) if world.info else frozenset()
        problems = []
        for name, value in cases:
            what = "left out" if value is _MISSING else f"set to {value!r}"
            try:
                world.hub.validate_settings(world.name, self._with(valid, name, value))
            except SettingsError as exc:
                if set(exc.errors) != {name}:
                    problems.append(f"{name} {what}: the SettingsError names {sorted(exc.errors)}, not just {name!r}")
                elif name in secrets and isinstance(value, str) and len(value) >= 4 and value in f"{exc} {exc.errors}":
                    problems.append(f"{name} {what}: the SettingsError quotes the secret's value")
            else:
                problems.append(f"{name} {what}: accepted")
        assert not problems, "invalid settings were not refused as they must be:\n" + "\n".join(problems)

    # -- hub_check_connection ------------------------------------------------------------

    def test_check_connection_ok(self, conformance: World) -> None:
        """Against the simulator the check passes."""
        world = conformance
        health = world.hub.check_connection(world.connection())
        assert isinstance(health, Health), f"hub_check_connection returned {health!r}, not a Health"
        assert health.ok, f"the check failed against the simulator: {health.message}"

    def test_check_connection_reports_invalid_settings(self, conformance: World) -> None:
        """Invalid settings are reported in ``Health(ok=False)`` naming the setting; the
        check does not raise."""
        world = conformance
        valid = world.ask("settings")
        cases = self._invalid_cases(world)
        if not cases:
            pytest.skip(f"{world.name} requires no setting and its harness lists no invalid_settings")
        for name, value in cases:
            connection = world.raw_connection(self._with(valid, name, value))
            try:
                health = world.hub.check_connection(connection)
            except Exception as exc:
                pytest.fail(f"with {name} invalid, hub_check_connection raised {type(exc).__name__}: {exc}")
            assert isinstance(health, Health) and not health.ok, f"with {name} invalid the check gave {health!r}"
            assert name in health.message, f"with {name} invalid the check's message does not name it: {health.message}"

    def _failed_check(self, world: World, raw: dict[str, Any], why: str) -> None:
        connection = world.slow_connection(raw)
        ended = world.bounded(lambda: world.hub.check_connection(connection), f"hub_check_connection ({why})")
        if ended.error is not None:
            pytest.fail(
                f"hub_check_connection ({why}) raised {type(ended.error).__name__}: {ended.error}; "
                "report failures in Health(ok=False, message=...)"
            )
        health = ended.result
        assert isinstance(health, Health), f"hub_check_connection returned {health!r}, not a Health"
        assert not health.ok, f"hub_check_connection passed {why}"
        assert health.message.strip(), f"hub_check_connection failed {why} without a message"

    def test_check_connection_reports_refused_credentials(self, conformance: World) -> None:
        """Settings the simulator refuses fail the check, with a message."""
        self._failed_check(conformance, conformance.ask("refused_settings"), "with credentials the upstream refuses")

    def test_check_connection_reports_an_unreachable_upstream(self, conformance: World) -> None:
        """Nothing listening at the address fails the check, with a message."""
        world = conformance
        self._failed_check(world, world.ask("unreachable_settings", world.env), "against an address nobody serves")

    def test_check_connection_reports_a_silent_upstream_in_time(self, conformance: World) -> None:
        """An upstream that never answers fails the check within the connection's timeout."""
        world = conformance
        self._failed_check(world, world.ask("silent_settings", world.env), "against an upstream that never answers")

    # -- the kind's main call against misbehaving upstreams --------------------------------

    def test_times_out_without_an_answer(self, conformance: World) -> None:
        """The kind's main call gives up with ``UpstreamTimeout`` within the connection's
        ``timeout_s`` when no answer comes."""
        world = conformance
        connection = world.slow_connection(world.ask("slow_settings", world.env))
        world.expect_timeout(lambda: self.main_call(world, connection), self.main_call_name)

    def test_times_out_on_a_trickling_reply(self, conformance: World) -> None:
        """The kind's main call gives up with ``UpstreamTimeout`` within the connection's
        ``timeout_s`` when the reply starts at once but its body trickles in (every gap
        shorter than the timeout: only a deadline for the whole reply stops it)."""
        world = conformance
        connection = world.slow_connection(world.ask("trickle_settings", world.env))
        world.expect_timeout(lambda: self.main_call(world, connection), self.main_call_name)

    @pytest.mark.parametrize("variant", sorted(MALFORMED_REPLIES))
    def test_malformed_reply_is_an_upstream_error(self, conformance: World, variant: str) -> None:
        """A reply the protocol does not allow is an ``UpstreamError``: not a success, not
        a rejection, not any other exception."""
        world = conformance
        connection = world.slow_connection(world.ask("malformed_settings", world.env, variant))
        ended = world.bounded(lambda: self.main_call(world, connection), self.main_call_name)
        assert ended.error is not None, f"{self.main_call_name} took a malformed reply for success: {ended.result!r}"
        assert isinstance(ended.error, UpstreamError), (
            f"{self.main_call_name} raised {type(ended.error).__name__}: {ended.error} on a malformed reply; "
            "it must raise hub.core.errors.UpstreamError"
        )

    # -- every upstream call against every fault ----------------------------------------

    def test_upstream_fault(self, conformance: World, upstream_call: str, fault: str) -> None:
        """Every call the kind makes upstream, under every fault of :data:`FAULTS`, ends
        as the hub's upstream error within the connection's ``timeout_s`` (plus the
        grace): ``UpstreamTimeout`` when nothing, or not all of the reply, came in time
        (``silent``, ``slow_body``), an ``UpstreamError`` otherwise (refused, 5xx,
        malformed JSON, an HTML page, a huge body); never a success, a rejection or any
        other exception, which the engine would not turn into a manual check nor the
        outbox retry. The health check reports the same faults in ``Health(ok=False)``.
        A huge body is refused without being read whole."""
        world = conformance
        call = self.upstream_call_named(upstream_call)
        timeout_s = world.harness.fault_timeout_s
        connection = world.connection(world.ask("fault_settings", world.env, fault, call.name), timeout_s=timeout_s)
        run = call.prepare(world, connection)
        what = f"{call.hook} when {FAULT_DESCRIPTIONS[fault]}"
        ended = world.bounded(run, what, timeout_s)
        if call.reports_health:
            assert ended.error is None, (
                f"{what}, it raised {type(ended.error).__name__}: {ended.error}; report failures in "
                "Health(ok=False, message=...)"
            )
            health = ended.result
            assert isinstance(health, Health), f"{what}, it returned {health!r}, not a Health"
            assert not health.ok and health.message.strip(), f"{what}, it reported {health!r}"
        else:
            assert ended.error is not None, f"{what}, it returned {ended.result!r}: a failure taken for a success"
            wanted = UpstreamTimeout if fault in TIMEOUT_FAULTS else UpstreamError
            assert isinstance(ended.error, wanted), (
                f"{what}, it raised {type(ended.error).__name__}: {ended.error}; it must raise "
                f"hub.core.errors.{wanted.__name__}"
            )
        sent = max((server.most_body_sent for server in world.env.servers), default=0)
        assert sent < HUGE_BODY_BYTES // 2, (
            f"{what}, it read {sent >> 20} MiB of the reply: refuse a reply larger than the protocol's "
            "replies as soon as more has come in, without reading the rest"
        )


# ---------------------------------------------------------------------------
# Pushes (platforms, and devices that push door events)
# ---------------------------------------------------------------------------


class _PushChecks:
    """Checks of ``hub_parse_push`` for plugins declaring the ``push`` capability."""

    @staticmethod
    def _push(world: World, number: int, sent_at: datetime, arrives_after: timedelta, forged: bool = False) -> Any:
        return world.ask("push", number, sent_at=sent_at, received_at=sent_at + arrives_after, forged=forged)

    @needs("push")
    def test_push_accepted(self, conformance: World) -> None:
        """A push signed as the connection expects becomes events, each with an id."""
        world = conformance
        events = world.hub.parse_push(world.connection(), self._push(world, 1, _now(), timedelta(seconds=2)))
        assert isinstance(events, list) and events, f"an authentic push gave no events: {events!r}"
        for event in events:
            assert isinstance(event, PushEvent), f"{event!r} is not a PushEvent"
            assert isinstance(event.event_id, str) and event.event_id, f"{event!r} has no event_id"
            assert event.occurred_at.tzinfo is not None, f"{event!r}: occurred_at is naive"

    @needs("push")
    def test_push_forged_is_rejected(self, conformance: World) -> None:
        """A push signed with another key is ``PushRejected`` with status 401."""
        world = conformance
        forged = self._push(world, 1, _now(), timedelta(seconds=2), forged=True)
        with pytest.raises(PushRejected) as caught:
            world.hub.parse_push(world.connection(), forged)
        assert caught.value.status == 401, f"a forged push was rejected with {caught.value.status}, not 401"

    @needs("push")
    def test_push_stale_is_rejected(self, conformance: World) -> None:
        """A push dated outside the tolerance, before or after its arrival, is
        ``PushRejected`` with status 401."""
        world = conformance
        beyond = world.harness.push_tolerance + timedelta(minutes=1)  # type: ignore[attr-defined]
        connection = world.connection()
        for arrives_after, what in ((beyond, "stale"), (-beyond, "from the future")):
            with pytest.raises(PushRejected) as caught:
                world.hub.parse_push(connection, self._push(world, 1, _now(), arrives_after))
            assert caught.value.status == 401, f"a push {what} was rejected with {caught.value.status}, not 401"

    @needs("push")
    def test_push_replayed_is_applied_once(self, conformance: World) -> None:
        """The same push delivered twice is acknowledged twice and applied once (its
        events keep their ids); another event is applied on its own."""
        from hub.core.pushes import receive_push

        world = conformance
        store = _temporary_store(world.env.tmp_path)
        world.env.defer(store.dispose)
        connection = world.connection()
        store.add_connection(connection, secret_fields(world.info))
        sent_at = _now()
        first_push = self._push(world, 1, sent_at, timedelta(seconds=1))
        first = receive_push(world.hub, store, CONNECTION_ID, first_push)
        again = receive_push(world.hub, store, CONNECTION_ID, self._push(world, 1, sent_at, timedelta(seconds=3)))
        other = receive_push(world.hub, store, CONNECTION_ID, self._push(world, 2, sent_at, timedelta(seconds=4)))
        assert first.status == 200 and first.applied > 0, f"the first delivery was not applied: {first}"
        assert again.status == 200, f"a repeated push must be acknowledged (200), got {again}"
        assert (again.applied, again.repeated) == (0, first.applied), f"a repeated push was applied again: {again}"
        assert other.status == 200 and other.applied > 0, f"another event was taken for a repeat: {other}"


def _temporary_store(folder: Path) -> Any:
    """The hub's store on SQLite in ``folder``, upgraded (imported here: the store pulls
    in the database layer, which the pytest plugin does not load until it is asked)."""
    from hub.core.clock import Clock
    from hub.core.secrets import generate_key
    from hub.core.store import Store

    store = Store(f"sqlite:///{folder / 'hub.sqlite'}", [generate_key()], clock=Clock())
    store.upgrade()
    return store


# ---------------------------------------------------------------------------
# Platforms
# ---------------------------------------------------------------------------


def _profile(harness: PlatformHarness) -> CommunityProfile:
    return CommunityProfile(
        harness.community, gates=(harness.gate,), rules_zh="骑手请走北门", rules_en="Riders use the north gate"
    )


_NOTICE = Notice("gate_open", "北门已为您开启", "The north gate is open for you")


class PlatformConformance(_PushChecks, _Suite):
    """The checks of a delivery platform plugin."""

    harness: ClassVar[type[PlatformHarness]]
    kind = PluginKind.PLATFORM
    main_call_name = "hub_verify_rider"
    upstream_calls = (
        CHECK_CONNECTION,
        UpstreamCall(
            "verify_rider",
            "hub_verify_rider",
            None,
            lambda w, c: functools.partial(w.hub.verify_rider, c, w.ask("credential"), w.harness.gate),
        ),
        UpstreamCall(
            "active_orders",
            "hub_active_orders",
            "active_orders",
            lambda w, c: functools.partial(
                w.hub.active_orders, c, RiderClaim(w.ask("credential")), w.harness.community
            ),
        ),
        UpstreamCall(
            "get_order",
            "hub_get_order",
            "get_order",
            lambda w, c: functools.partial(w.hub.get_order, c, w.harness.order_here),
        ),
        UpstreamCall(
            "publish_community",
            "hub_publish_community",
            "publish_community",
            lambda w, c: functools.partial(w.hub.publish_community, c, _profile(w.harness)),
        ),
        UpstreamCall(
            "notify_rider",
            "hub_notify_rider",
            "notify_rider",
            lambda w, c: functools.partial(w.hub.notify_rider, c, w.harness.rider_ref, _NOTICE),
        ),
    )

    def main_call(self, world: World, connection: Connection) -> Any:
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        return world.hub.verify_rider(connection, world.ask("credential"), harness.gate)

    def test_verify_rider_ok(self, conformance: World) -> None:
        """The platform's rider is verified: their ref, status active, masked details."""
        world = conformance
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        rider = world.hub.verify_rider(world.connection(), world.ask("credential"), harness.gate)
        assert isinstance(rider, RiderIdentity), f"hub_verify_rider returned {rider!r}, not a RiderIdentity"
        assert rider.platform_ref == harness.rider_ref, f"verified as {rider.platform_ref!r}, not {harness.rider_ref!r}"
        assert rider.status is RiderStatus.ACTIVE, f"an active rider was verified as {rider.status}"
        assert rider.cache_seconds >= 0
        assert not _UNMASKED_PHONE.search(rider.masked_phone), f"the phone is not masked: {rider.masked_phone!r}"
        assert len(rider.masked_name) < 2 or "*" in rider.masked_name, f"the name is not masked: {rider.masked_name!r}"

    def test_verify_rider_denied(self, conformance: World) -> None:
        """A credential the platform does not know is ``CredentialRejected`` with words
        for the rider in both languages, never quoting the credential."""
        world = conformance
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        credential: Credential = world.ask("unknown_credential")
        with pytest.raises(CredentialRejected) as caught:
            world.hub.verify_rider(world.connection(), credential, harness.gate)
        rejected = caught.value
        assert rejected.reason_zh.strip() and rejected.reason_en.strip(), "a rejection needs words for the rider"
        assert credential.value not in f"{rejected} {rejected.reason_zh} {rejected.reason_en}", (
            "the rejection quotes the credential"
        )

    def test_verify_rider_suspended(self, conformance: World) -> None:
        """A suspended rider is verified with status suspended (the policy denies them),
        not rejected as unknown."""
        world = conformance
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        rider = world.hub.verify_rider(world.connection(), world.ask("suspended_credential"), harness.gate)
        assert isinstance(rider, RiderIdentity), f"hub_verify_rider returned {rider!r}, not a RiderIdentity"
        assert rider.status is RiderStatus.SUSPENDED, f"a suspended rider was verified as {rider.status}"

    def test_verify_rider_refuses_an_entry_code_it_cannot_verify(self, conformance: World) -> None:
        """A signed entry code the plugin cannot verify is ``CredentialRejected``: it is
        checked locally or refused, never sent upstream as a failure."""
        world = conformance
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        code = Credential(CredentialKind.ENTRY_CODE, "eyJhbGciOiJFZERTQSJ9.not-a-code.conformance")
        with pytest.raises(CredentialRejected):
            world.hub.verify_rider(world.connection(), code, harness.gate)

    @needs("active_orders")
    def test_active_orders_filtered_by_community(self, conformance: World) -> None:
        """The rider's orders into a community are those into that community only, asked
        for by the rider's ref or by their credential."""
        world = conformance
        harness: PlatformHarness = world.harness  # type: ignore[assignment]
        connection = world.connection()
        credential = world.ask("credential")
        for community, wanted, unwanted in (
            (harness.community, harness.order_here, harness.order_elsewhere),
            (harness.other_community, harness.order_elsewhere, harness.order_here),
        ):
            ref = community.platform_ref(connection)
            for claim in (RiderClaim(credential, harness.rider_ref), RiderClaim(credential)):
                orders = world.hub.active_orders(connection, claim, community)
                how = "by ref" if claim.platform_ref else "by credential"
                refs = [o.ref for o in orders]
                assert all(isinstance(o, Order) for o in orders), f"hub_active_orders returned {orders!r}"
                assert wanted in refs, f"{community.id} ({how}): {wanted} is missing from {refs}"
                assert unwanted not in refs, f"{community.id} ({how}): {unwanted}, into another community, is in {refs}"
                for order in orders:
                    assert order.community_ref == ref, f"{order.ref} is into {order.community_ref!r}, not {ref!r}"
                    assert order.rider_ref == harness.rider_ref, f"{order.ref} is {order.rider_ref!r}'s order"
                    assert not order.status.final, f"{order.ref} is {order.status}, not active"


# ---------------------------------------------------------------------------
# Access control
# ---------------------------------------------------------------------------


def grant_request(*, starts: datetime | None = None, minutes: int = 20, grant_id: str | None = None) -> GrantRequest:
    """A grant as the engine asks for one: a fresh id, from ``starts`` (now)."""
    starts = starts or _now()
    return GrantRequest(
        grant_id or str(uuid.uuid4()), "R1001", starts, starts + timedelta(minutes=minutes), label="conformance"
    )


def _issued_grant() -> AccessGrant:
    """A pass as the hub holds one after a grant: what a revocation names."""
    now = _now()
    return AccessGrant(str(uuid.uuid4()), PassKind.QR, uuid.uuid4().hex[:16].upper(), now, now + timedelta(minutes=20))


class AccessConformance(_PushChecks, _Suite):
    """The checks of an access-control plugin."""

    harness: ClassVar[type[AccessHarness]]
    kind = PluginKind.ACCESS
    main_call_name = "hub_grant_access"
    upstream_calls = (
        CHECK_CONNECTION,
        UpstreamCall(
            "grant_access",
            "hub_grant_access",
            None,
            lambda w, c: functools.partial(w.hub.grant_access, c, w.harness.gate, grant_request()),
        ),
        UpstreamCall(
            "revoke_access",
            "hub_revoke_access",
            "revoke",
            lambda w, c: functools.partial(w.hub.revoke_access, c, w.harness.gate, _issued_grant()),
        ),
        UpstreamCall(
            "open_door",
            "hub_open_door",
            "remote_open",
            lambda w, c: functools.partial(w.hub.open_door, c, w.harness.gate, "fault injection"),
        ),
        UpstreamCall(
            "access_events",
            "hub_access_events",
            "access_events",
            lambda w, c: functools.partial(w.hub.access_events, c, w.harness.gate, _now() - timedelta(minutes=10)),
        ),
    )

    def main_call(self, world: World, connection: Connection) -> Any:
        return world.hub.grant_access(connection, world.harness.gate, grant_request())  # type: ignore[attr-defined]

    def _grant(self, world: World, connection: Connection, request: GrantRequest) -> AccessGrant:
        granted = world.hub.grant_access(connection, world.harness.gate, request)  # type: ignore[attr-defined]
        assert isinstance(granted, AccessGrant), f"hub_grant_access returned {granted!r}, not an AccessGrant"
        return granted

    def test_grant_ok(self, conformance: World) -> None:
        """A grant is a pass for the grant's id and window that the device holds and
        that opens the door."""
        world = conformance
        request = grant_request()
        granted = self._grant(world, world.connection(), request)
        assert granted.grant_id == request.grant_id
        assert (granted.valid_from, granted.valid_until) == (request.valid_from, request.valid_until)
        if granted.kind not in (PassKind.GUARD, PassKind.REMOTE_OPEN):
            assert granted.value, f"a {granted.kind} pass without a value"
        assert world.ask("held_credentials", granted) == [granted.value], "the device does not hold the pass"
        assert world.ask("admits", granted), "the device does not open the door for the pass"

    def test_grant_idempotent(self, conformance: World) -> None:
        """The same grant id twice is the same pass, and one credential at the device."""
        world = conformance
        connection, request = world.connection(), grant_request()
        first = self._grant(world, connection, request)
        again = self._grant(world, connection, request)
        assert again.value == first.value, "a retried grant made another pass"
        held = world.ask("held_credentials", again)
        assert held == [first.value], f"after a retried grant the device holds {held} for the grant"

    @needs("revoke")
    def test_revoke_idempotent(self, conformance: World) -> None:
        """A revoked pass no longer opens the door; revoking it again is fine."""
        world = conformance
        connection = world.connection()
        granted = self._grant(world, connection, grant_request())
        assert world.hub.revoke_access(connection, world.harness.gate, granted) is True  # type: ignore[attr-defined]
        assert world.ask("held_credentials", granted) == [], "the device still holds the revoked pass"
        assert not world.ask("admits", granted), "the revoked pass still opens the door"
        assert world.hub.revoke_access(connection, world.harness.gate, granted) is True, "revoking twice failed"  # type: ignore[attr-defined]

    @needs("revoke")
    def test_revoke_unknown_grant_is_safe(self, conformance: World) -> None:
        """Revoking a pass the device never held is not an error."""
        world = conformance
        now = _now()
        unknown = AccessGrant(str(uuid.uuid4()), PassKind.QR, uuid.uuid4().hex.upper(), now, now + timedelta(minutes=5))
        assert world.hub.revoke_access(world.connection(), world.harness.gate, unknown) is True  # type: ignore[attr-defined]

    @needs("remote_open")
    def test_remote_open(self, conformance: World) -> None:
        """A remote open opens the gate's door, once."""
        world = conformance
        gate = world.harness.gate  # type: ignore[attr-defined]
        assert world.hub.open_door(world.connection(), gate, "conformance check") is True
        assert world.ask("remote_opens") == [gate.door_no], "the device did not open the gate's door once"

    @needs("access_events")
    def test_access_events_paging(self, conformance: World) -> None:
        """Every event after ``since`` is returned, oldest first, however many pages of
        the device's log they fill; none at or before ``since``."""
        world = conformance
        harness: AccessHarness = world.harness  # type: ignore[assignment]
        connection, gate = world.connection(), harness.gate
        page = harness.events_page_size or 2
        count = 2 * page + 2
        base = _now() - timedelta(minutes=10)
        granted = self._grant(world, connection, grant_request(starts=base - timedelta(minutes=1), minutes=30))
        world.hub.access_events(connection, gate, base - timedelta(minutes=1))  # as the polling job: listening
        times = [base + timedelta(seconds=10 * i) for i in range(count)]
        world.ask("make_events", granted, times)
        since = times[0]
        events = _wait_for(lambda: world.hub.access_events(connection, gate, since), count - 1, harness.events_delay_s)
        assert all(isinstance(e, AccessEvent) for e in events), f"hub_access_events returned {events!r}"
        assert [e.occurred_at for e in events] == times[1:], (
            f"expected the {count - 1} events after since, oldest first; got {[e.occurred_at for e in events]}"
        )
        assert len({e.event_id for e in events}) == len(events), "event ids repeat"
        for event in events:
            assert event.credential_value == granted.value, f"{event!r} is not the pass's"
            assert event.gate_id == gate.id, f"{event!r} is not at gate {gate.id!r}"
        everything = world.hub.access_events(connection, gate, base - timedelta(seconds=1))
        assert len(everything) == count, f"{count} events were made, {len(everything)} returned"


def _wait_for(read: Callable[[], list], count: int, timeout_s: float) -> list:
    """``read()`` until it returns at least ``count`` items or ``timeout_s`` passed (a
    device whose events arrive asynchronously, e.g. over a broker); once when 0."""
    deadline = time.monotonic() + timeout_s
    while len(found := read()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


# ---------------------------------------------------------------------------
# Lockers
# ---------------------------------------------------------------------------


class LockerConformance(_Suite):
    """The checks of a food-locker plugin."""

    harness: ClassVar[type[LockerHarness]]
    kind = PluginKind.LOCKER
    main_call_name = "hub_allocate_locker"
    upstream_calls = (
        CHECK_CONNECTION,
        UpstreamCall(
            "allocate_locker",
            "hub_allocate_locker",
            None,
            lambda w, c: functools.partial(w.hub.allocate_locker, c, w.harness.bank, w.ask("order", _order_ref())),
        ),
        UpstreamCall(
            "release_locker",
            "hub_release_locker",
            None,
            lambda w, c: functools.partial(
                w.hub.release_locker, c, LockerAllocation(f"al-{uuid.uuid4().hex[:16]}", w.harness.bank.id, "B04")
            ),
        ),
    )

    def main_call(self, world: World, connection: Connection) -> Any:
        harness: LockerHarness = world.harness  # type: ignore[assignment]
        return world.hub.allocate_locker(connection, harness.bank, world.ask("order", _order_ref()))

    def _allocate(self, world: World, connection: Connection, ref: str) -> LockerAllocation:
        harness: LockerHarness = world.harness  # type: ignore[assignment]
        allocation = world.hub.allocate_locker(connection, harness.bank, world.ask("order", ref))
        assert isinstance(allocation, LockerAllocation), f"hub_allocate_locker returned {allocation!r}"
        return allocation

    def test_allocate_ok(self, conformance: World) -> None:
        """An allocation is a compartment of the bank that the bank holds for the order."""
        world = conformance
        ref = _order_ref()
        allocation = self._allocate(world, world.connection(), ref)
        assert allocation.bank_id == world.harness.bank.id, f"allocated in bank {allocation.bank_id!r}"  # type: ignore[attr-defined]
        assert allocation.allocation_id and allocation.locker_no, f"{allocation!r} names no allocation or compartment"
        assert world.ask("held_allocations", ref) == [allocation.allocation_id]

    def test_allocate_idempotent(self, conformance: World) -> None:
        """The same order twice is the same allocation; another order another compartment."""
        world = conformance
        connection, ref = world.connection(), _order_ref()
        first = self._allocate(world, connection, ref)
        again = self._allocate(world, connection, ref)
        assert (again.allocation_id, again.locker_no, again.pin) == (first.allocation_id, first.locker_no, first.pin), (
            "a retried allocation made another one"
        )
        assert world.ask("held_allocations", ref) == [first.allocation_id]
        other = self._allocate(world, connection, _order_ref())
        assert (other.allocation_id, other.locker_no) != (first.allocation_id, first.locker_no)

    def test_release_idempotent(self, conformance: World) -> None:
        """A released allocation is gone at the bank; releasing it again is fine."""
        world = conformance
        connection, ref = world.connection(), _order_ref()
        allocation = self._allocate(world, connection, ref)
        assert world.hub.release_locker(connection, allocation) is True
        assert world.ask("held_allocations", ref) == [], "the bank still holds the released allocation"
        assert world.hub.release_locker(connection, allocation) is True, "releasing twice failed"

    def test_release_unknown_allocation_is_safe(self, conformance: World) -> None:
        """Releasing an allocation the bank never had is not an error."""
        world = conformance
        unknown = LockerAllocation(f"unknown-{uuid.uuid4().hex[:16]}", world.harness.bank.id, "Z99")  # type: ignore[attr-defined]
        assert world.hub.release_locker(world.connection(), unknown) is True


def _order_ref() -> str:
    return f"CONFORMANCE-{uuid.uuid4().hex[:10].upper()}"


# ---------------------------------------------------------------------------
# Visitor systems
# ---------------------------------------------------------------------------


class VisitorConformance(_Suite):
    """The checks of a visitor-management plugin."""

    harness: ClassVar[type[VisitorHarness]]
    kind = PluginKind.VISITOR
    main_call_name = "hub_register_visitor"
    upstream_calls = (
        CHECK_CONNECTION,
        UpstreamCall(
            "register_visitor",
            "hub_register_visitor",
            None,
            lambda w, c: functools.partial(w.hub.register_visitor, c, w.ask("visit", str(uuid.uuid4()))),
        ),
    )

    def main_call(self, world: World, connection: Connection) -> Any:
        return world.hub.register_visitor(connection, world.ask("visit", str(uuid.uuid4())))

    def test_register_visitor_ok(self, conformance: World) -> None:
        """A visit becomes one record at the system."""
        world = conformance
        visit = world.ask("visit", str(uuid.uuid4()))
        record = world.hub.register_visitor(world.connection(), visit)
        assert isinstance(record, VisitorRecord) and record.ref, f"hub_register_visitor returned {record!r}"
        assert world.ask("records_for", visit.entry_id) == 1

    def test_register_visitor_idempotent(self, conformance: World) -> None:
        """The same visit twice is the same record, one at the system."""
        world = conformance
        connection, visit = world.connection(), world.ask("visit", str(uuid.uuid4()))
        first = world.hub.register_visitor(connection, visit)
        again = world.hub.register_visitor(connection, visit)
        assert again == first, f"a redelivered visit gave {again!r}, first {first!r}"
        assert world.ask("records_for", visit.entry_id) == 1, "a redelivered visit made a second record"


# ---------------------------------------------------------------------------
# Binding a suite to a harness
# ---------------------------------------------------------------------------


def checks_of(suite: type) -> list[str]:
    """The names of a suite's checks (its tests' names without ``test_``)."""
    return sorted(name.removeprefix("test_") for name in dir(suite) if name.startswith("test_"))


def _bind(suite: type[_Suite], base: type[Harness], harness: type[Harness]) -> type:
    if not (isinstance(harness, type) and issubclass(harness, base)):
        raise TypeError(f"{suite.__name__} needs a subclass of {base.__name__}, got {harness!r}")
    if not callable(getattr(harness, "plugin", None)):
        raise TypeError(f"{harness.__name__}.plugin must be the plugin class (or a zero-argument factory)")
    unknown = set(harness.not_applicable) - set(checks_of(suite))
    if unknown:
        raise ValueError(
            f"{harness.__name__}.not_applicable names checks the suite does not have: {', '.join(sorted(unknown))} "
            f"(its checks: {', '.join(checks_of(suite))})"
        )
    calls = [call.name for call in suite.upstream_calls]
    known = {*FAULTS, *calls, *(f"{call}/{fault}" for call in calls for fault in FAULTS)}
    unknown = set(harness.faults_not_applicable) - known
    if unknown:
        raise ValueError(
            f"{harness.__name__}.faults_not_applicable names cases the suite does not have: "
            f"{', '.join(sorted(unknown))} (name a fault: {', '.join(FAULTS)}; a call: {', '.join(calls)}; "
            "or call/fault)"
        )
    return type(f"Test{harness.__name__}", (suite,), {"harness": harness, "__doc__": suite.__doc__})


def platform_suite(harness: type[PlatformHarness]) -> type:
    """The platform checks, bound to a harness: ``TestConformance = platform_suite(H)``."""
    return _bind(PlatformConformance, PlatformHarness, harness)


def access_suite(harness: type[AccessHarness]) -> type:
    """The access-control checks, bound to a harness."""
    return _bind(AccessConformance, AccessHarness, harness)


def locker_suite(harness: type[LockerHarness]) -> type:
    """The locker checks, bound to a harness."""
    return _bind(LockerConformance, LockerHarness, harness)


def visitor_suite(harness: type[VisitorHarness]) -> type:
    """The visitor-system checks, bound to a harness."""
    return _bind(VisitorConformance, VisitorHarness, harness)
