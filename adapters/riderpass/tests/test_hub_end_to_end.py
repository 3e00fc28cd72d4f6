"""The whole hub with this adapter: storage, engine and the real push endpoint served on
loopback, against the simulator.

- The platform pushes an order's state to the hub over HTTP; the simulator then stops;
  a rider's signed entry code still opens the gate (no platform call at all), and the
  same code is refused the second time.
- Forged, stale and replayed pushes through the hub's endpoint are refused or ignored
  and change nothing.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import text
from standardwebhooks import Webhook

from hub.core.clock import Clock
from hub.core.config import Config
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.model import Community, Connection, Credential, CredentialKind, Decision, Gate
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.demo import COMMUNITY_ID, ExampleGate
from hub.plugins import builtin_plugins
from hub.runtime import Runtime
from hub.web import create_app
from last100_riderpass.plugin import RiderPassPlugin
from last100_riderpass.simulator import demo_simulator


@pytest.fixture
def world(tmp_path, serve):
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    for plugin in [*builtin_plugins(clock), RiderPassPlugin(), ExampleGate()]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock)
    config = Config(instance_path=tmp_path, secret_keys=("unused",), secret_key="test")
    hub_url = serve(create_app(runtime=Runtime(config, clock, store, hub, engine))).url

    simulator = demo_simulator()
    platform = serve(simulator.app(f"{hub_url}/api/v1/push/rp"))
    settings = hub.validate_settings("riderpass", simulator.settings(platform.url))
    store.add_community(Community(COMMUNITY_ID, "阳光花园 Sunny Garden"))
    connection = Connection("rp", "riderpass", "RiderPass", settings, timeout_s=2.0)
    store.add_connection(connection, secret_fields(hub.plugin("riderpass").info), [COMMUNITY_ID])
    store.add_connection(Connection("gate", "example-gate", "North controller"), (), [COMMUNITY_ID])
    store.add_gate(Gate("north", COMMUNITY_ID, "North gate", "sunny-north", "1", "gate"))
    yield {"store": store, "engine": engine, "hub_url": hub_url, "platform": platform, "settings": settings}
    engine.close()
    store.dispose()


def sim(world, path: str, **body) -> dict:
    reply = requests.post(f"{world['platform'].url}/_sim{path}", json=body, timeout=5)
    assert reply.ok, reply.text
    return reply.json()


def order_status(world, ref: str) -> str | None:
    orders = world["store"].fresh_orders("rp", datetime.now(UTC) - timedelta(minutes=5), refs=[ref])
    return orders[0].status.value if orders else None


def enter_with(world, code: str):
    return world["engine"].decide(EntryRequest("sunny-north", "rp", Credential(CredentialKind.ENTRY_CODE, code)))


def test_entry_code_opens_the_gate_while_the_platform_is_down_and_only_once(world):
    code = sim(world, "/entry-codes", token="demo-rider-1")["code"]
    sim(world, "/orders/DEMO-ORDER-1/status", status="arrived")  # pushed to the hub over HTTP
    assert order_status(world, "DEMO-ORDER-1") == "arrived"
    world["platform"].stop()

    first = enter_with(world, code)
    again = enter_with(world, code)

    assert first.decision is Decision.GRANTED, first.reasons
    assert first.order_refs == ("DEMO-ORDER-1",)
    assert [c.hook for c in first.hook_calls] == ["hub_verify_rider", "hub_grant_access"]
    assert again.decision is Decision.DENIED
    assert "already used" in again.reasons[0].en


def push(world, payload: dict, *, secret: str | None = None, at: datetime | None = None, msg_id: str | None = None):
    body = json.dumps(payload)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    signature = Webhook(secret or world["settings"]["push_secrets"][0]).sign(msg_id, at, body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return requests.post(f"{world['hub_url']}/api/v1/push/rp", data=body, headers=headers, timeout=5)


def status_push(status: str) -> dict:
    return {
        "type": "order.status_changed",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "order": {
                "ref": "DEMO-ORDER-1",
                "status": status,
                "rider_ref": "R1001",
                "community_id": COMMUNITY_ID,
                "updated_at": datetime.now(UTC).isoformat(),
            }
        },
    }


def audit_actions(world) -> list[str]:
    with world["store"].transaction() as session:
        return [row[0] for row in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]


def test_a_signed_push_is_applied(world):
    reply = push(world, status_push("arrived"))
    assert reply.status_code == 200, reply.text
    assert order_status(world, "DEMO-ORDER-1") == "arrived"


@pytest.mark.parametrize(
    ("how", "secret", "skew"),
    [
        ("forged", "whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTMy", timedelta(0)),
        ("stale", None, timedelta(minutes=-6)),
        ("from the future", None, timedelta(minutes=6)),
    ],
)
def test_forged_and_stale_pushes_are_refused_and_change_nothing(world, how, secret, skew):
    # The time is taken when the test runs, not when it is collected.
    reply = push(world, status_push("delivered"), secret=secret, at=datetime.now(UTC) + skew)

    assert reply.status_code == 401, how
    assert reply.json()["error"]["code"] == "push_rejected"
    assert order_status(world, "DEMO-ORDER-1") is None
    assert audit_actions(world)[-1] == "push.rejected"


def test_a_replayed_push_is_acknowledged_and_not_applied_twice(world):
    first = push(world, status_push("delivering"), msg_id="msg_1")
    push(world, status_push("arrived"), msg_id="msg_2")

    replay = push(world, status_push("delivering"), msg_id="msg_1")

    assert first.status_code == replay.status_code == 200
    assert order_status(world, "DEMO-ORDER-1") == "arrived"
    assert audit_actions(world).count("push.applied") == 2
