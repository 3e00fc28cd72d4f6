"""The adapter inside a real hub: SQLite storage, the entry engine, and the hub's web
push endpoint on loopback, with the simulator as Meituan. An entry goes through the
real wire protocol, and the simulator's callbacks reach the hub's push endpoint and are
answered the way Meituan expects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from hub.core.clock import Clock
from hub.core.config import Config
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.model import Community, Connection, Credential, Decision, Gate, OrderStatus
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.demo import COMMUNITY_ID
from hub.plugins import builtin_plugins
from hub.runtime import Runtime
from hub.web import create_app
from last100_meituan.plugin import MeituanPlugin
from last100_meituan.simulator import demo_simulator

CONNECTION_ID = "demo-meituan"


@dataclass
class Deployment:
    clock: Clock
    store: Store
    engine: EntryEngine
    hub_url: str
    simulator_url: str

    def enter(self, token: str):
        return self.engine.decide(EntryRequest("sunny-east", CONNECTION_ID, Credential("token", token)))

    def admin(self, path: str, body: dict) -> dict:
        answer = requests.post(f"{self.simulator_url}/_sim/{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def deployment(tmp_path, serve):
    clock = Clock()  # real time: the simulator stamps its callbacks with it
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    for plugin in [*builtin_plugins(clock), MeituanPlugin()]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock, max_workers=4)
    config = Config(instance_path=tmp_path, secret_keys=("unused",), secret_key="unused")
    hub_url = serve(create_app(runtime=Runtime(config, clock, store, hub, engine)))

    simulator = demo_simulator()
    simulator_url = serve(simulator.app(f"{hub_url}/api/v1/push/{CONNECTION_ID}"))
    store.add_community(Community(COMMUNITY_ID, "阳光花园 Sunny Garden"))
    settings = hub.validate_settings("meituan", simulator.settings(simulator_url))
    store.add_connection(
        Connection(CONNECTION_ID, "meituan", simulator.name, settings, timeout_s=3.0),
        secret_fields(hub.plugin("meituan").info),
        [COMMUNITY_ID],
    )
    store.add_gate(Gate("east", COMMUNITY_ID, "East gate 东门", "sunny-east", "2", None))
    yield Deployment(clock, store, engine, hub_url, simulator_url)
    engine.close()
    store.dispose()


def test_a_rider_with_an_order_into_the_community_is_let_in(deployment):
    entry = deployment.enter("demo-rider-1")

    assert entry.decision is Decision.GRANTED
    assert entry.rider_ref == "R1001"
    assert entry.order_refs == ("DEMO-ORDER-1",)


def test_a_rider_without_an_order_and_a_suspended_rider_are_denied(deployment):
    assert deployment.enter("demo-rider-2").decision is Decision.DENIED
    assert deployment.enter("demo-rider-3").decision is Decision.DENIED


def test_an_unknown_token_is_denied_not_sent_to_a_guard(deployment):
    assert deployment.enter("stolen-token").decision is Decision.DENIED


def test_a_callback_reaches_the_hubs_push_endpoint_and_is_answered_data_ok(deployment):
    answer = deployment.admin("orders/DEMO-ORDER-1", {"status": 8, "logistics_status": 40})

    assert answer["callback"]["status"] == 200
    assert answer["callback"]["body"].replace(" ", "").strip() == '{"data":"ok"}'
    since = deployment.clock.now() - timedelta(minutes=1)
    [order] = deployment.store.fresh_orders(CONNECTION_ID, since, refs=["DEMO-ORDER-1"])
    assert order.status is OrderStatus.DELIVERED


def test_after_the_order_is_delivered_the_rider_is_no_longer_let_in(deployment):
    deployment.admin("orders/DEMO-ORDER-1", {"status": 8, "logistics_status": 40})

    assert deployment.enter("demo-rider-1").decision is Decision.DENIED


def test_a_forged_callback_is_refused_by_the_hub_with_401(deployment):
    forged = {
        "order_id": "DEMO-ORDER-1",
        "status": "9",
        "app_id": "demo-meituan-app",
        "timestamp": "1",
        "sig": "0" * 32,
    }

    answer = requests.post(f"{deployment.hub_url}/api/v1/push/{CONNECTION_ID}", data=forged, timeout=5)

    assert answer.status_code == 401
