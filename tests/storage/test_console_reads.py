"""The store's reads for the console: entries filtered and paged, an entry's rider and
orders, the audit log filtered and paged, a job's run history and the dead outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.errors import NotFound
from hub.core.model import Community, Connection, Decision, Gate, OrderStatus, RiderStatus
from hub.core.outbox import OutboxItem, enqueue
from tests.storage.builders import NOW, make_entry, make_order, save


def _entries(store, count: int, **overrides):
    """``count`` entries a minute apart, the newest last; returns their ids in order."""
    ids = []
    for n in range(count):
        entry = make_entry(id=f"e{n:03d}", created_at=NOW + timedelta(minutes=n), **overrides)
        save(store, entry)
        ids.append(entry.id)
    return ids


@pytest.fixture
def two_communities(seeded):
    seeded.add_community(Community("c2", "River Bank"))
    seeded.add_connection(Connection("plat2", "other", "Other platform"), (), ["c2"])
    seeded.add_gate(Gate("g9", "c2", "South gate", "south", "1", None))
    return seeded


def test_entries_are_listed_newest_first(seeded):
    ids = _entries(seeded, 3)

    assert [e.id for e in seeded.list_entries()] == ids[::-1]


def test_entries_page_by_keyset_without_gaps_or_repeats(seeded):
    ids = _entries(seeded, 7)
    # Two entries in the same instant are ordered by id.
    save(seeded, make_entry(id="e999", created_at=NOW + timedelta(minutes=2)))

    pages, before = [], None
    while True:
        page = seeded.list_entries(limit=3, before=before)
        if not page:
            break
        pages.append([e.id for e in page])
        before = (page[-1].created_at, page[-1].id)

    listed = [entry_id for page in pages for entry_id in page]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert listed == ["e006", "e005", "e004", "e003", "e999", "e002", "e001", "e000"]
    assert set(listed) == {*ids, "e999"}


def test_entries_filter_by_community_gate_connection_and_decision(two_communities):
    store = two_communities
    save(store, make_entry(id="a-granted"))
    save(store, make_entry(id="a-east", gate_id="g2", decision=Decision.DENIED, access_pass=None))
    save(store, make_entry(id="b-entry", community_id="c2", gate_id="g9", connection_id="plat2", access_pass=None))

    assert {e.id for e in store.list_entries(community_ids=["c1"])} == {"a-granted", "a-east"}
    assert {e.id for e in store.list_entries(community_ids=["c2"])} == {"b-entry"}
    assert store.list_entries(community_ids=[]) == []
    assert [e.id for e in store.list_entries(gate_id="g2")] == ["a-east"]
    assert [e.id for e in store.list_entries(connection_id="plat2")] == ["b-entry"]
    assert [e.id for e in store.list_entries(decision="denied")] == ["a-east"]
    assert [e.id for e in store.list_entries(community_ids=["c1"], connection_id="plat2")] == []


def test_entries_filter_by_a_half_open_time_range(seeded):
    _entries(seeded, 5)

    found = seeded.list_entries(since=NOW + timedelta(minutes=1), until=NOW + timedelta(minutes=3))

    assert [e.id for e in found] == ["e002", "e001"]


def test_an_unknown_decision_filter_is_refused(seeded):
    with pytest.raises(ValueError):
        seeded.list_entries(decision="maybe")


def test_an_entrys_rider_is_read_masked(seeded):
    save(seeded, make_entry(id="with-rider"))
    save(seeded, make_entry(id="no-rider", rider_ref="", access_pass=None), rider=None)

    rider = seeded.entry_rider("with-rider")

    assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == ("R1", "王*", "138****5678")
    assert rider.status is RiderStatus.ACTIVE
    assert seeded.entry_rider("no-rider") is None
    with pytest.raises(NotFound):
        seeded.entry_rider("missing")


def test_orders_are_read_in_the_order_asked_and_unknown_refs_left_out(seeded):
    save(seeded, make_entry(), orders=[make_order(), make_order(ref="O2", status=OrderStatus.DELIVERED)])

    found = seeded.get_orders("plat", ["O2", "nope", "O1", "O2"])

    assert [(o.ref, o.status) for o in found] == [("O2", OrderStatus.DELIVERED), ("O1", OrderStatus.DELIVERING)]
    assert seeded.get_orders("gatectl", ["O1"]) == []
    assert seeded.get_orders("plat", []) == []


def test_the_audit_log_is_listed_newest_first_and_filtered(store, clock):
    store.audit("user:ann", "entry.viewed", "e1")
    clock.advance(60)
    store.audit("user:bob", "job.run", "outbox.deliver", {"items": 2})
    clock.advance(60)
    store.audit("user:ann", "entry.guard_decided", "e2")
    store.audit("api", "entryXviewed", "e3")  # the prefix is literal, not a pattern

    everything = store.list_audit()
    assert [r.action for r in everything] == ["entryXviewed", "entry.guard_decided", "job.run", "entry.viewed"]
    assert everything[2].data == {"items": 2} and everything[2].actor == "user:bob"
    assert [r.subject for r in store.list_audit(action_prefix="entry.")] == ["e2", "e1"]
    assert [r.subject for r in store.list_audit(actor="user:ann")] == ["e2", "e1"]
    start = everything[-1].at
    window = store.list_audit(since=start + timedelta(seconds=30), until=start + timedelta(seconds=90))
    assert [r.action for r in window] == ["job.run"]


def test_the_audit_log_pages_by_id(store):
    for n in range(5):
        store.audit("api", "thing.done", f"s{n}")

    first = store.list_audit(limit=2)
    second = store.list_audit(limit=2, before_id=first[-1].id)
    third = store.list_audit(limit=2, before_id=second[-1].id)

    assert [r.subject for r in first + second + third] == ["s4", "s3", "s2", "s1", "s0"]


def test_a_jobs_runs_are_listed_newest_first(store, clock):
    first = store.start_job_run("outbox.deliver")
    store.finish_job_run(first, items=3)
    clock.advance(15)
    other = store.start_job_run("other.job")
    store.finish_job_run(other, items=9)
    clock.advance(15)
    failed = store.start_job_run("outbox.deliver")
    store.finish_job_run(failed, errors=1, error="RuntimeError")
    clock.advance(15)
    store.start_job_run("outbox.deliver")  # still running

    runs = store.job_runs("outbox.deliver")

    assert [(r["items"], r["errors"], r["error"]) for r in runs] == [(0, 0, None), (0, 1, "RuntimeError"), (3, 0, None)]
    assert runs[0]["ended_at"] is None and runs[1]["ended_at"] is not None
    assert [r["id"] for r in store.job_runs("outbox.deliver", limit=1)] == [runs[0]["id"]]
    assert store.job_runs("never.ran") == []


def test_dead_outbox_items_are_listed_with_their_last_error(store):
    with store.transaction() as session:
        enqueue(session, [OutboxItem("notify_rider", "plat", {}, f"k{n}") for n in range(3)], NOW)
    leased = store.lease_outbox(10, 30)
    store.settle_outbox(leased[0].id, error="HTTP 500")
    store.settle_outbox(leased[1].id)
    store.settle_outbox(leased[2].id, error="UpstreamTimeout")

    dead = store.dead_outbox()

    assert [(d.id, d.kind, d.connection_id, d.attempts, d.last_error) for d in dead] == [
        (leased[2].id, "notify_rider", "plat", 1, "UpstreamTimeout"),
        (leased[0].id, "notify_rider", "plat", 1, "HTTP 500"),
    ]
    assert store.outbox_counts() == {"dead": 2, "done": 1}
