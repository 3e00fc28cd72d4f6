"""Idempotency, as properties over the HTTP API.

- ``POST /api/v1/entries`` with an ``Idempotency-Key``: the same key with the same body,
  sent any number of times, gives the first reply again (``200``) and one entry; the
  same key with another body is ``422 idempotency_key_reused`` and writes nothing.
- ``POST /api/v1/push/<connection>``: pushes arrive repeated and out of order, as
  platforms retry; each event id is applied once, and a repeat never changes what the
  first delivery stored, even when its body differs.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.api.conftest import Api
from tests.property import platforms
from tests.property.strategies import shared_world

#: Idempotency keys as the API takes them: 1 to 255 visible ASCII characters.
idempotency_keys = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200)
tokens = st.sampled_from(["tok-1", "tok-unknown"])
order_refs = st.sampled_from([None, "O1", "O9"])
locations = st.none() | st.builds(lambda lat, lon: {"lat": lat, "lon": lon}, st.floats(-90, 90), st.floats(-180, 180))

_runs = itertools.count()


def _unique(key: str) -> str:
    """The key made unique to the example: examples share one database."""
    return f"{next(_runs)}-{key}"


def _body(api: Api, token: str, order_ref: str | None, location: dict | None, gate: str = "north-code") -> dict:
    return api.entry_body(
        gate_code=api.sign(gate), credential={"kind": "token", "value": token}, order_ref=order_ref, location=location
    )


@shared_world(25)
@given(key=idempotency_keys, token=tokens, order_ref=order_refs, location=locations, repeats=st.integers(1, 3))
def test_the_same_key_and_body_give_the_same_reply_and_one_entry(
    hub_api: Api, key, token, order_ref, location, repeats
):
    key = _unique(key)
    body = _body(hub_api, token, order_ref, location)
    before = hub_api.counts()

    first = hub_api.post_entry(body, idempotency_key=key)
    asked = hub_api.world.platform.calls.upstream
    replies = [hub_api.post_entry(body, idempotency_key=key) for _ in range(repeats)]

    assert first.status_code == 201, first.get_data(as_text=True)
    assert [r.status_code for r in replies] == [200] * repeats
    assert all(r.json == first.json for r in replies)
    assert hub_api.world.platform.calls.upstream == asked  # a replay asks the platform nothing
    after = hub_api.counts()
    assert after["entries"] == before["entries"] + 1
    assert after["passes"] - before["passes"] == (1 if first.json["decision"] == "granted" else 0)


@shared_world(25)
@given(
    key=idempotency_keys,
    first=st.tuples(tokens, order_refs, locations, st.sampled_from(["north-code", "east-code"])),
    second=st.tuples(tokens, order_refs, locations, st.sampled_from(["north-code", "east-code"])),
)
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(hub_api: Api, key, first, second):
    key = _unique(key)
    made = hub_api.post_entry(_body(hub_api, *first[:3], gate=first[3]), idempotency_key=key)
    before = hub_api.counts()

    reply = hub_api.post_entry(_body(hub_api, *second[:3], gate=second[3]), idempotency_key=key)

    if first == second:
        assert (reply.status_code, reply.json) == (200, made.json)
    else:
        assert reply.status_code == 422
        assert reply.json["error"]["code"] == "idempotency_key_reused"
    assert hub_api.counts() == before


@shared_world(20)
@given(key=idempotency_keys, token=tokens)
def test_two_api_keys_never_share_an_idempotency_key(hub_api: Api, key, token):
    key = _unique(key)
    other = hub_api.new_key(f"other-{key[:40]}", ("*",), ("*",))
    body = _body(hub_api, token, None, None)

    mine = hub_api.post_entry(body, idempotency_key=key)
    theirs = hub_api.post_entry(body, key=other, idempotency_key=key)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json["id"] != theirs.json["id"]


# -- pushes ------------------------------------------------------------------------------------

STATUSES = ["picked_up", "delivering", "arrived", "delivered", "cancelled"]


def _stored(api: Api, sql: str, **params) -> list[tuple]:
    with api.world.store.transaction() as session:
        return [tuple(row) for row in session.execute(text(sql), params)]


@shared_world(20)
@given(
    events=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4),
    order=st.data(),
)
def test_each_pushed_event_is_applied_once_however_often_and_in_whatever_order_it_arrives(hub_api: Api, events, order):
    run = next(_runs)
    now = hub_api.world.clock.now()
    pushes = [
        (
            f"msg_{run}_{n}",
            {
                "type": "order.status_changed",
                "timestamp": (now - timedelta(seconds=60 - n)).isoformat(),
                "data": {"order": {"ref": f"P{run}-{n}", "status": status, "rider_ref": "R1", "community_id": "c1"}},
            },
        )
        for n, status in enumerate(events)
    ]
    # Deliveries: every push at least once, some several times, in any order.
    deliveries = order.draw(st.permutations([*pushes, *order.draw(st.lists(st.sampled_from(pushes), max_size=6))]))

    for msg_id, payload in deliveries:
        body = json.dumps(payload).encode()
        reply = hub_api.client.post(
            "/api/v1/push/rp", data=body, headers=platforms.riderpass_push_headers(body, msg_id, now)
        )
        assert reply.status_code == 200, reply.get_data(as_text=True)

    ids = [msg_id for msg_id, _ in pushes]
    recorded = _stored(
        hub_api, "SELECT event_id FROM push_events WHERE connection_id = 'rp' AND event_id LIKE :p", p=f"msg_{run}_%"
    )
    assert sorted(r[0] for r in recorded) == sorted(ids)
    applied = [
        event
        for (data,) in _stored(hub_api, "SELECT data FROM audit_log WHERE action = 'push.applied' AND subject = 'rp'")
        for event in (json.loads(data) if isinstance(data, str) else data)["events"]
        if event.startswith(f"msg_{run}_")
    ]
    assert sorted(applied) == sorted(ids)
    orders = dict(
        _stored(hub_api, "SELECT ref, status FROM orders WHERE connection_id = 'rp' AND ref LIKE :p", p=f"P{run}-%")
    )
    assert orders == {f"P{run}-{n}": status for n, status in enumerate(events)}


@shared_world(20)
@given(first=st.sampled_from(STATUSES), again=st.sampled_from(STATUSES))
def test_a_repeated_event_id_never_changes_what_was_stored(hub_api: Api, first, again):
    run = next(_runs)
    now = hub_api.world.clock.now()
    msg_id, ref = f"msg_{run}", f"Q{run}"

    for status in (first, again):
        payload = {
            "type": "order.status_changed",
            "timestamp": now.isoformat(),
            "data": {"order": {"ref": ref, "status": status, "rider_ref": "R1", "community_id": "c1"}},
        }
        body = json.dumps(payload).encode()
        reply = hub_api.client.post(
            "/api/v1/push/rp", data=body, headers=platforms.riderpass_push_headers(body, msg_id, now)
        )
        assert reply.status_code == 200

    assert _stored(hub_api, "SELECT status FROM orders WHERE connection_id = 'rp' AND ref = :r", r=ref) == [(first,)]
