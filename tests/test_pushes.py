"""Inbound pushes through the web route: authenticated by the connection's plugin,
applied once, refused and audited when forged, stale or malformed."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.core.config import Config
from hub.core.errors import PushRejected
from hub.core.model import (
    Connection,
    Decision,
    Order,
    PushEvent,
    PushRequest,
    RiderStatus,
)
from hub.runtime import Runtime
from hub.web import create_app
from tests.engine_fakes import NOON_SHANGHAI, build_world, order, request

SECRET = b"push-secret"


def signed_parser(clock):
    """Pushes signed with HMAC-SHA256 over the body, carrying their time in seconds
    after noon, refused after five minutes."""

    def parse(request: PushRequest) -> list[PushEvent]:
        expected = hmac.new(SECRET, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-signature", "")):
            raise PushRejected("signature does not match", 401)
        try:
            body = json.loads(request.body)
            at = NOON_SHANGHAI + timedelta(seconds=body["t"])
        except (ValueError, KeyError) as exc:
            raise PushRejected(f"malformed push: {exc}", 400) from exc
        if abs((clock.now() - at).total_seconds()) > 300:
            raise PushRejected("push is older than 5 minutes", 401)
        if "rider" in body:
            return [PushEvent(body["id"], at, rider_ref=body["rider"], rider_status=RiderStatus.SUSPENDED)]
        state = Order(body["order"], body["status"], body.get("rider", "R1"), "PC-1", updated_at=at)
        return [PushEvent(body["id"], at, order=state)]

    return parse


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path)
    w.platform.push_parser = signed_parser(w.clock)
    yield w
    w.engine.close()
    w.store.dispose()


@pytest.fixture
def client(world, tmp_path):
    config = Config(instance_path=tmp_path, secret_keys=("k",), secret_key="s")
    runtime = Runtime(config, world.clock, world.store, world.hub, world.engine)
    return create_app(runtime=runtime).test_client()


def send(client, payload: dict, *, forge: bool = False, connection: str = "plat"):
    body = json.dumps(payload).encode()
    signature = hmac.new(b"wrong" if forge else SECRET, body, hashlib.sha256).hexdigest()
    return client.post(
        f"/api/v1/push/{connection}", data=body, headers={"X-Signature": signature, "Content-Type": "application/json"}
    )


def audit_actions(store) -> list[str]:
    with store.transaction() as session:
        return [row[0] for row in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]


def stored_status(world, ref: str) -> str | None:
    orders = world.store.fresh_orders("plat", NOON_SHANGHAI - timedelta(days=1), refs=[ref])
    return orders[0].status.value if orders else None


def test_accepted_push_stores_the_order_and_answers_with_the_platforms_ack(client, world):
    reply = send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivering"})

    assert reply.status_code == 200
    assert reply.json == {"status": "ok"}
    assert stored_status(world, "O1") == "delivering"
    assert audit_actions(world.store)[-1] == "push.applied"


def test_forged_push_changes_nothing_and_is_audited(client, world):
    reply = send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivered"}, forge=True)

    assert reply.status_code == 401
    assert reply.json["error"]["code"] == "push_rejected"
    assert "signature" in reply.json["error"]["message"]
    assert stored_status(world, "O1") is None
    assert audit_actions(world.store)[-1] == "push.rejected"


def test_stale_push_is_refused(client, world):
    world.clock.advance(minutes=6)
    reply = send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivered"})
    assert reply.status_code == 401
    assert "older than 5 minutes" in reply.json["error"]["message"]
    assert stored_status(world, "O1") is None


def test_malformed_push_is_a_400(client, world):
    reply = send(client, {"id": "evt-1", "order": "O1"})
    assert reply.status_code == 400
    assert audit_actions(world.store)[-1] == "push.rejected"


def test_replayed_push_is_acknowledged_but_not_applied_twice(client, world):
    assert send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivering"}).status_code == 200
    send(client, {"id": "evt-2", "t": 1, "order": "O1", "status": "arrived"})

    replay = send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivering"})

    assert replay.status_code == 200 and replay.json == {"status": "ok"}
    assert stored_status(world, "O1") == "arrived"
    assert audit_actions(world.store).count("push.applied") == 2


def test_delivered_order_cuts_the_pass_to_the_exit_grace(client, world):
    entry = world.engine.decide(request())
    assert entry.decision is Decision.GRANTED
    assert entry.access_pass.valid_until == NOON_SHANGHAI + timedelta(minutes=15)

    world.clock.advance(minutes=2)
    reply = send(client, {"id": "evt-9", "t": 120, "order": "O1", "status": "delivered"})

    assert reply.status_code == 200
    shortened = world.store.get_entry(entry.id).access_pass.valid_until
    assert shortened == NOON_SHANGHAI + timedelta(minutes=2 + 5)
    assert "pass.shortened" in audit_actions(world.store)


def test_pass_stays_while_another_order_of_the_entry_is_unfinished(client, world):
    world.platform.orders["R1"] = [order("O1", "R1", "PC-1"), order("O2", "R1", "PC-1")]
    entry = world.engine.decide(request())

    send(client, {"id": "evt-9", "t": 0, "order": "O1", "status": "delivered"})

    assert world.store.get_entry(entry.id).access_pass.valid_until == entry.access_pass.valid_until


def test_suspension_push_reaches_listeners(client, world):
    world.engine.decide(request())  # caches the identity
    calls = world.platform.calls.count["hub_verify_rider"]

    send(client, {"id": "evt-3", "t": 0, "rider": "R1"})
    world.engine.decide(request())

    assert world.platform.calls.count["hub_verify_rider"] == calls + 1


@pytest.mark.parametrize(
    ("connection", "status", "message"),
    [("nowhere", 404, "nowhere"), ("gatectl", 404, "does not accept pushes")],
    ids=["unknown", "access-controller"],
)
def test_push_to_an_unknown_or_push_less_connection_is_a_404(client, connection, status, message):
    reply = send(client, {"id": "e", "t": 0}, connection=connection)
    assert reply.status_code == status
    assert message in reply.json["error"]["message"]


def test_push_to_a_disabled_connection_is_refused(client, world):
    world.store.update_connection(Connection("plat", "fakeplatform", "Fake platform", enabled=False), ())
    reply = send(client, {"id": "evt-1", "t": 0, "order": "O1", "status": "delivered"})
    assert reply.status_code == 403
    assert stored_status(world, "O1") is None


def test_oversized_push_is_refused_before_it_is_read(client):
    reply = client.post("/api/v1/push/plat", data=b"x" * (1024 * 1024 + 1))
    assert reply.status_code == 413
    assert reply.json["error"]["code"] == "request_entity_too_large"
