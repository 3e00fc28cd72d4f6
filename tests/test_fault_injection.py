"""Fault injection through the whole hub: the real engine, breaker, store and outbox with
the real RiderPass and Hikvision adapters, each behind a loopback front
(:class:`~hub.testing.servers.Misbehaving` in ``pass`` mode) that passes connections to
its simulator until it is switched to one of :data:`~hub.testing.servers.FAULTS`.

For every fault:

- a failing platform or gate device turns every entry into a guard's manual check, never
  a grant; after ``breaker_failures`` failures the connection's circuit opens and entries
  are checked by the guard without calling it; after ``breaker_reset_s`` (on the manual
  clock) one trial goes through, re-opens the circuit while the fault lasts and closes it
  once the upstream recovered, when riders are let in again;
- rider notices queued for a failing platform are retried with back-off and delivered
  once it recovers;
- no thread the hub started for the calls outlives them: with the fault still on, the
  engine's workers end and the thread count is back where it started (loopback servers'
  threads aside).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from hub.core.clock import Clock, ManualClock
from hub.core.delivery import LONGEST_RETRY_S, deliver_due
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.model import Community, CommunityPolicy, Connection, Credential, CredentialKind, Decision, Entry, Gate
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.demo import COMMUNITY_ID
from hub.plugins import Resilience, builtin_plugins, find_builtin
from hub.testing.servers import FAULTS, THREAD_PREFIX, Misbehaving, Served
from last100_hikvision.plugin import HikvisionPlugin
from last100_hikvision.simulator import demo_simulator as controller_simulator
from last100_riderpass.plugin import RiderPassPlugin
from last100_riderpass.simulator import demo_simulator as platform_simulator

#: ``breaker_failures`` and ``breaker_reset_s`` of the hub under test (what
#: ``hub.runtime.build_hub`` hands ``builtin_plugins`` from the configuration).
BREAKER_FAILURES = 3
BREAKER_RESET_S = 30
#: Every connection's ``timeout_s``: a silent or trickling upstream costs this per call.
TIMEOUT_S = 0.3
#: How long the engine's workers may take to end once it is closed (a worker still in a
#: call must give up within the call's timeout; this is a generous bound on that).
THREADS_END_WITHIN_S = 10.0

NORTH = Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north", "1", "hik")
RIDER = Credential(CredentialKind.TOKEN, "demo-rider-1")  # R1001, delivering DEMO-ORDER-1 here
FAILED = {"error", "timeout"}  # how a call that met a fault ends in the entry's hook calls


def _serves(thread: threading.Thread) -> bool:
    """A thread of a loopback server (the simulators and the fronts), not of the hub."""
    return thread.name.startswith(THREAD_PREFIX) or "process_request_thread" in thread.name


def _hub_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if not _serves(t)}


@dataclass
class World:
    clock: ManualClock
    store: Store
    hub: Hub
    platform: Misbehaving  # the front of the RiderPass simulator
    device: Misbehaving  # the front of the Hikvision simulator
    platform_sim: Served
    resilience: Resilience
    threads: set[threading.Thread]  # the hub's threads before any entry
    engines: list[EntryEngine] = field(default_factory=list)

    def circuit(self, connection_id: str, hook: str) -> str:
        return self.resilience.state(connection_id, hook)

    def engine(self) -> EntryEngine:
        """The current engine (a new one after :meth:`no_thread_outlives_the_calls`)."""
        if not self.engines:
            self.engines.append(EntryEngine(self.hub, self.store, self.clock))
        return self.engines[-1]

    def enter(self) -> Entry:
        return self.engine().decide(EntryRequest(NORTH.code, "rp", RIDER))

    def no_thread_outlives_the_calls(self) -> None:
        """Close the engine and check that every thread the hub started ends, while the
        upstream may still misbehave: one stuck in a call would not."""
        engine = self.engines.pop()
        engine.close()
        deadline = time.monotonic() + THREADS_END_WITHIN_S
        while (left := _hub_threads() - self.threads) and time.monotonic() < deadline:
            for thread in left:
                thread.join(0.1)
        assert not left, f"threads still running after the calls: {sorted(t.name for t in left)}"
        servers = sum(_serves(t) for t in threading.enumerate())
        assert threading.active_count() - servers == len(self.threads)

    def notices(self) -> list[dict]:
        reply = requests.get(f"{self.platform_sim.url}/_sim/notices", timeout=5)
        reply.raise_for_status()
        return reply.json()["notices"]

    def outbox(self) -> list[tuple[str, int, str | None]]:
        """``(status, attempts, last error)`` of every outbox item, oldest first."""
        with self.store.transaction() as session:
            return [tuple(row) for row in session.execute(text("SELECT status, attempts, last_error FROM outbox"))]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store's database, migrated once: each test works on a copy."""
    path = tmp_path_factory.mktemp("template") / "hub.sqlite"
    store = Store(f"sqlite:///{path}", [generate_key()])
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture
def world(tmp_path, serve, migrated) -> Iterator[World]:
    # The manual clock starts now: the breaker's reset and the outbox's back-off move
    # only when a test advances it, while the simulators check signatures and passes
    # against the real time (the adapters sign with the real clock).
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    database = shutil.copy(migrated, tmp_path / "hub.sqlite")
    store = Store(f"sqlite:///{database}", [generate_key()], clock=clock)
    hub = Hub()
    builtins = builtin_plugins(clock, failure_threshold=BREAKER_FAILURES, reset_after_s=BREAKER_RESET_S)
    for plugin in [*builtins, RiderPassPlugin(clock=Clock()), HikvisionPlugin(clock=Clock())]:
        hub.register(plugin)

    platform_spec, device_spec = platform_simulator(), controller_simulator()
    platform_sim = serve(platform_spec.app(None))
    device_sim = serve(device_spec.app(None))
    platform = Misbehaving("pass", backend=platform_sim.url)
    device = Misbehaving("pass", backend=device_sim.url)
    # Riders may come in as often as the tests need; every other rule as by default.
    store.add_community(
        Community(COMMUNITY_ID, "阳光花园 Sunny Garden", policy=CommunityPolicy(max_entries_per_hour=0))
    )
    for connection_id, spec, front in (("rp", platform_spec, platform), ("hik", device_spec, device)):
        settings = hub.validate_settings(spec.plugin, spec.settings(front.url))
        connection = Connection(connection_id, spec.plugin, spec.name, settings, timeout_s=TIMEOUT_S)
        store.add_connection(connection, secret_fields(hub.plugin(spec.plugin).info), [COMMUNITY_ID])
    store.add_gate(NORTH)
    world = World(clock, store, hub, platform, device, platform_sim, find_builtin(builtins, Resilience), _hub_threads())
    yield world
    for engine in world.engines:
        engine.close()
    platform.close()
    device.close()
    store.dispose()


def _outcome(entry: Entry, hook: str) -> str:
    outcomes = [call.outcome for call in entry.hook_calls if call.hook == hook]
    assert outcomes, f"the entry made no {hook} call: {entry.hook_calls}"
    return outcomes[-1]


def _eventually(check: Callable[[], bool], what: str, within_s: float = 5.0) -> None:
    """Wait for a call still running in the background (the engine stops waiting for a
    call at the connection's timeout; the call ends, and is counted, just after)."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {within_s:g} s")
        time.sleep(0.02)


def _manual_check(entry: Entry, code: str) -> None:
    assert entry.decision is Decision.MANUAL_CHECK, (entry.decision, entry.reasons)
    assert entry.access_pass is None, "an entry under a fault was given a pass"
    assert entry.reasons and entry.reasons[0].code.startswith(code), entry.reasons


def _requests_to(front: Misbehaving, path: str) -> int:
    return sum(path in line for line in front.requests)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_platform_sends_riders_to_a_guard_opens_its_circuit_and_closes_it_on_recovery(world, fault):
    world.platform.switch(FAULTS[fault])

    for _ in range(BREAKER_FAILURES):
        entry = world.enter()
        _manual_check(entry, "platform_")
        assert _outcome(entry, "hub_verify_rider") in FAILED
    _eventually(lambda: world.circuit("rp", "hub_verify_rider") == "open", "the circuit did not open")

    # Open: the guard checks the rider without the platform being asked.
    asked = _requests_to(world.platform, "/riders/verify")
    entry = world.enter()
    _manual_check(entry, "platform_circuit_open")
    assert _outcome(entry, "hub_verify_rider") == "circuit_open"
    assert _requests_to(world.platform, "/riders/verify") == asked

    # Half-open after breaker_reset_s: one trial, which meets the fault and opens it again.
    world.clock.advance(seconds=BREAKER_RESET_S)
    assert world.circuit("rp", "hub_verify_rider") == "half_open"
    entry = world.enter()
    _manual_check(entry, "platform_")
    assert _outcome(entry, "hub_verify_rider") in FAILED
    _eventually(lambda: world.circuit("rp", "hub_verify_rider") == "open", "the failed trial did not re-open it")
    world.no_thread_outlives_the_calls()

    # The platform recovers: the next trial closes the circuit and the rider is let in.
    world.platform.switch("pass")
    world.clock.advance(seconds=BREAKER_RESET_S)
    entry = world.enter()
    assert entry.decision is Decision.GRANTED, entry.reasons
    assert entry.access_pass is not None and entry.order_refs == ("DEMO-ORDER-1",)
    assert world.circuit("rp", "hub_verify_rider") == "closed"
    world.no_thread_outlives_the_calls()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failing_gate_device_sends_riders_to_a_guard_opens_its_circuit_and_closes_it_on_recovery(world, fault):
    world.device.switch(FAULTS[fault])

    for _ in range(BREAKER_FAILURES):
        entry = world.enter()
        _manual_check(entry, "gate_device_unavailable")
        assert _outcome(entry, "hub_grant_access") in FAILED
    _eventually(lambda: world.circuit("hik", "hub_grant_access") == "open", "the circuit did not open")

    asked = len(world.device.requests)
    entry = world.enter()
    _manual_check(entry, "gate_device_unavailable")
    assert _outcome(entry, "hub_grant_access") == "circuit_open"
    assert len(world.device.requests) == asked, "the device was called while its circuit was open"

    world.clock.advance(seconds=BREAKER_RESET_S)
    assert world.circuit("hik", "hub_grant_access") == "half_open"
    entry = world.enter()
    _manual_check(entry, "gate_device_unavailable")
    _eventually(lambda: world.circuit("hik", "hub_grant_access") == "open", "the failed trial did not re-open it")
    world.no_thread_outlives_the_calls()

    world.device.switch("pass")
    world.clock.advance(seconds=BREAKER_RESET_S)
    entry = world.enter()
    assert entry.decision is Decision.GRANTED, entry.reasons
    assert entry.access_pass is not None and _outcome(entry, "hub_grant_access") == "ok"
    assert world.circuit("hik", "hub_grant_access") == "closed"
    world.no_thread_outlives_the_calls()


NOTICES = 4  # more than BREAKER_FAILURES: the last ones meet an open circuit


@pytest.mark.parametrize("fault", FAULTS)
def test_rider_notices_for_a_failing_platform_are_retried_and_delivered_when_it_recovers(world, fault):
    for _ in range(NOTICES):
        assert world.enter().decision is Decision.GRANTED  # each queues a "gate open" notice
    world.platform.switch(FAULTS[fault])

    for attempt in (1, 2):
        report = deliver_due(world.hub, world.store, world.clock)
        assert (report.delivered, report.retried, report.dead) == (0, NOTICES, 0)
        assert [(status, attempts) for status, attempts, _ in world.outbox()] == [("pending", attempt)] * NOTICES
        assert all(error for _, _, error in world.outbox()), "a failed delivery recorded no error"
        assert world.circuit("rp", "hub_notify_rider") == "open"
        world.clock.advance(seconds=LONGEST_RETRY_S)  # every item due again, the circuit half-open
    assert world.notices() == []
    world.no_thread_outlives_the_calls()

    world.platform.switch("pass")
    report = deliver_due(world.hub, world.store, world.clock)

    assert (report.delivered, report.retried, report.dead) == (NOTICES, 0, 0)
    assert [(status, attempts) for status, attempts, _ in world.outbox()] == [("done", 3)] * NOTICES
    assert [n["rider_ref"] for n in world.notices()] == ["R1001"] * NOTICES
    assert world.circuit("rp", "hub_notify_rider") == "closed"
