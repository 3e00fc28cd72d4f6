"""The sync jobs end to end: a real hub on SQLite with the RiderPass platform simulator
and the simulated Hikvision controller served on loopback. A rider enters and gets a
pass at the controller; the order is then marked delivered at the platform only (no
push reaches the hub). The built-in jobs alone — ``orders.reconcile``, then
``passes.expire`` once the clock is past the exit grace — take the pass back: the
controller's visitor user and card are gone and the card no longer opens the door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from hub.core.clock import ManualClock
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.jobs import JobContext
from hub.core.model import Community, Connection, Credential, CredentialKind, Decision, Gate
from hub.core.plugins import Hub, secret_fields
from hub.core.scheduler import run_job
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.demo import COMMUNITY_ID
from hub.plugins import builtin_plugins

riderpass = pytest.importorskip("last100_riderpass.simulator", reason="the RiderPass adapter is not installed")
hikvision = pytest.importorskip("last100_hikvision.simulator", reason="the Hikvision adapter is not installed")
RiderPassPlugin = pytest.importorskip("last100_riderpass.plugin").RiderPassPlugin
HikvisionPlugin = pytest.importorskip("last100_hikvision.plugin").HikvisionPlugin

ORDER = "DEMO-ORDER-1"  # demo-rider-1's order into the demo community
GRACE = timedelta(minutes=5)  # the community's exit grace (the default)
FRESHNESS_S = 120  # the platform connection's freshness window (the default)


@pytest.fixture
def world(tmp_path, serve):
    # The hub's clock starts at the real time: the simulators stamp orders with it.
    clock = ManualClock(datetime.now(UTC))
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    for plugin in [*builtin_plugins(clock), RiderPassPlugin(), HikvisionPlugin(clock=clock)]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock)

    platform_sim, controller_sim = riderpass.demo_simulator(), hikvision.demo_simulator()
    platform = serve(platform_sim.app(None))  # no pushes: the platform never tells the hub
    controller = serve(controller_sim.app(None))
    store.add_community(Community(COMMUNITY_ID, "阳光花园 Sunny Garden"))
    for connection_id, sim, served in (("rp", platform_sim, platform), ("hik", controller_sim, controller)):
        settings = hub.validate_settings(sim.plugin, sim.settings(served.url))
        connection = Connection(connection_id, sim.plugin, sim.name, settings, timeout_s=2.0, freshness_s=FRESHNESS_S)
        store.add_connection(connection, secret_fields(hub.plugin(sim.plugin).info), [COMMUNITY_ID])
    store.add_gate(Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north", "1", "hik"))
    yield {
        "clock": clock,
        "store": store,
        "hub": hub,
        "engine": engine,
        "platform": platform.url,
        "controller": controller.url,
    }
    engine.close()
    store.dispose()


def run(world, job_id: str):
    spec = next(spec for spec in world["hub"].jobs() if spec.id == job_id)
    result = run_job(spec, JobContext(world["hub"], world["store"], world["clock"]))
    assert result.ok, result.error
    return result


def controller_state(world) -> dict:
    reply = requests.get(f"{world['controller']}/_sim/state", timeout=5)
    assert reply.ok, reply.text
    return reply.json()


def swipe(world, card: str) -> dict:
    reply = requests.post(f"{world['controller']}/_sim/swipe", json={"card": card, "door": "1"}, timeout=5)
    assert reply.ok, reply.text
    return reply.json()


def test_a_pass_whose_order_was_delivered_is_revoked_at_the_controller_by_the_jobs_alone(world):
    clock, store = world["clock"], world["store"]
    request = EntryRequest("sunny-north", "rp", Credential(CredentialKind.TOKEN, "demo-rider-1"))
    entry = world["engine"].decide(request)
    assert entry.decision is Decision.GRANTED, entry.reasons
    issued = entry.access_pass
    assert entry.order_refs == (ORDER,)
    assert [u["employeeNo"] for u in controller_state(world)["users"]] == [issued.device_ref]
    assert [c["cardNo"] for c in controller_state(world)["cards"]] == [issued.value]
    assert swipe(world, issued.value)["granted"] is True

    # Delivered at the platform only: the simulator has no push URL.
    delivered = requests.post(
        f"{world['platform']}/_sim/orders/{ORDER}/status", json={"status": "delivered"}, timeout=5
    )
    assert delivered.ok and delivered.json()["push"] is None

    # Within the freshness window the hub trusts what it learned at the entry.
    assert run(world, "orders.reconcile").items == 0
    clock.advance(FRESHNESS_S)
    assert run(world, "orders.reconcile").items == 1
    cut = store.get_entry(entry.id).access_pass.valid_until
    assert cut < issued.valid_until
    assert cut <= clock.now() + GRACE
    assert store.get_orders("rp", [ORDER])[0].status == "delivered"

    # Still inside the exit grace: the pass stays at the controller.
    assert run(world, "passes.expire").items == 0
    assert len(controller_state(world)["users"]) == 1

    clock.advance((cut - clock.now()).total_seconds() + 1)
    assert run(world, "passes.expire").items == 1

    state = controller_state(world)
    assert state["users"] == [] and state["cards"] == []
    refused = swipe(world, issued.value)
    assert (refused["granted"], refused["reason"]) == (False, "unknown card")
    assert store.get_entry(entry.id).pass_revoked_at == clock.now()
    assert store.unrevoked_passes() == []
    assert run(world, "passes.expire").items == 0
