"""The whole hub with this adapter: storage, the entry engine and the real push endpoint,
with the RiderPass platform simulator and the simulated Hikvision controller served on
loopback.

A rider of the platform is granted at a gate whose access connection is the controller;
the pass the engine issued is a card the controller accepts inside the pass's window and
refuses after it, and refuses once the hub revoked it. The controller's pushes of those
swipes reach the hub through its push endpoint.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from hub.core.clock import Clock
from hub.core.config import Config
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.model import AccessGrant, Community, Connection, Credential, CredentialKind, Decision, Gate, PassKind
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.demo import COMMUNITY_ID
from hub.plugins import builtin_plugins
from hub.runtime import Runtime
from hub.web import create_app
from last100_hikvision.plugin import HikvisionPlugin
from last100_hikvision.simulator import demo_simulator as controller_simulator
from last100_riderpass.plugin import RiderPassPlugin
from last100_riderpass.simulator import demo_simulator as platform_simulator

NORTH = Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north", "1", "hik")


@pytest.fixture
def world(tmp_path, serve):
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    for plugin in [*builtin_plugins(clock), RiderPassPlugin(), HikvisionPlugin()]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock)
    config = Config(instance_path=tmp_path, secret_keys=("unused",), secret_key="test")
    hub_url = serve(create_app(runtime=Runtime(config, clock, store, hub, engine))).url

    platform_sim, controller_sim = platform_simulator(), controller_simulator()
    platform = serve(platform_sim.app(f"{hub_url}/api/v1/push/rp"))
    controller = serve(controller_sim.app(f"{hub_url}/api/v1/push/hik"))
    store.add_community(Community(COMMUNITY_ID, "阳光花园 Sunny Garden"))
    for connection_id, spec, served in (("rp", platform_sim, platform), ("hik", controller_sim, controller)):
        settings = hub.validate_settings(spec.plugin, spec.settings(served.url))
        connection = Connection(connection_id, spec.plugin, spec.name, settings, timeout_s=2.0)
        store.add_connection(connection, secret_fields(hub.plugin(spec.plugin).info), [COMMUNITY_ID])
    store.add_gate(NORTH)
    yield {"store": store, "engine": engine, "hub": hub, "controller": controller}
    engine.close()
    store.dispose()


def enter(world) -> AccessGrant:
    """demo-rider-1, with an order being delivered into the community, at the north gate."""
    entry = world["engine"].decide(EntryRequest("sunny-north", "rp", Credential(CredentialKind.TOKEN, "demo-rider-1")))
    assert entry.decision is Decision.GRANTED, entry.reasons
    assert entry.access_pass is not None
    return entry.access_pass


def swipe(world, card: str, at=None) -> dict:
    body = {"card": card, "door": "1"}
    if at is not None:
        body["at"] = at.isoformat()
    reply = requests.post(f"{world['controller'].url}/_sim/swipe", json=body, timeout=5)
    assert reply.ok, reply.text
    return reply.json()


def audit_actions(world) -> list[str]:
    with world["store"].transaction() as session:
        return [row[0] for row in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]


def test_the_issued_pass_opens_the_controller_inside_its_window_and_not_after(world) -> None:
    issued = enter(world)

    inside = swipe(world, issued.value)
    after = swipe(world, issued.value, at=issued.valid_until + timedelta(minutes=1))

    assert issued.kind is PassKind.QR and issued.value.isdigit()
    assert (inside["granted"], inside["reason"]) == (True, "granted")
    assert (after["granted"], after["reason"]) == (False, "expired")
    # Both swipes were pushed to the hub's endpoint and accepted there.
    assert [inside["push"]["status"], after["push"]["status"]] == [200, 200]
    assert "push.applied" in audit_actions(world)


def test_a_pass_the_hub_revoked_is_refused_at_the_controller(world) -> None:
    kept, revoked = enter(world), enter(world)
    assert swipe(world, revoked.value)["granted"] is True
    store = world["store"]

    assert world["hub"].revoke_access(store.get_connection("hik"), store.get_gate("north"), revoked) is True

    refused = swipe(world, revoked.value)
    assert (refused["granted"], refused["reason"]) == (False, "unknown card")
    assert swipe(world, kept.value)["granted"] is True
