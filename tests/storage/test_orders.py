"""Orders from pushes, polls and entries; push event de-duplication."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.core.db import OrderRow
from hub.core.model import OrderStatus
from tests.storage.builders import NOW, make_order


def test_fresh_orders_by_ref_within_the_window(seeded, clock):
    seeded.upsert_order("plat", make_order(ref="O1"), "push")
    seeded.upsert_order("plat", make_order(ref="O2"), "push")
    seeded.upsert_order("plat", make_order(ref="O3"), "push")

    found = seeded.fresh_orders("plat", NOW - timedelta(seconds=120), refs={"O1", "O3", "O9"})

    assert found == [make_order(ref="O1"), make_order(ref="O3")]


def test_fresh_orders_by_rider_within_the_window(seeded):
    seeded.upsert_order("plat", make_order(ref="O1", rider_ref="R1"), "push")
    seeded.upsert_order("plat", make_order(ref="O2", rider_ref="R2"), "push")

    assert [o.ref for o in seeded.fresh_orders("plat", NOW - timedelta(seconds=120), rider_ref="R1")] == ["O1"]


def test_orders_received_before_the_window_are_not_fresh(seeded, clock):
    seeded.upsert_order("plat", make_order(ref="O1"), "push")
    clock.advance(seconds=121)
    seeded.upsert_order("plat", make_order(ref="O2"), "poll")
    window_start = clock.now() - timedelta(seconds=120)

    assert [o.ref for o in seeded.fresh_orders("plat", window_start, rider_ref="R1")] == ["O2"]
    assert seeded.fresh_orders("plat", window_start, refs=["O1"]) == []


def test_fresh_orders_are_per_connection(seeded):
    seeded.upsert_order("gatectl", make_order(ref="O1"), "push")

    assert seeded.fresh_orders("plat", NOW - timedelta(seconds=120), refs=["O1"]) == []


def test_fresh_orders_apply_both_filters_when_both_are_given(seeded):
    seeded.upsert_order("plat", make_order(ref="O7", rider_ref="R-OTHER"), "push")

    assert seeded.fresh_orders("plat", NOW - timedelta(seconds=120), refs=["O7"], rider_ref="R1") == []


def test_fresh_orders_refuse_to_list_every_order(seeded):
    with pytest.raises(ValueError, match="refs or a rider_ref"):
        seeded.fresh_orders("plat", NOW)


def test_a_newer_report_updates_the_order_and_its_freshness(seeded, clock):
    seeded.upsert_order("plat", make_order(), "push")
    clock.advance(seconds=100)
    delivered = make_order(status=OrderStatus.DELIVERED, updated_at=clock.now())

    seeded.upsert_order("plat", delivered, "poll")

    assert seeded.fresh_orders("plat", NOW + timedelta(seconds=50), refs=["O1"]) == [delivered]


def test_a_late_push_older_than_the_stored_state_is_ignored(seeded, clock):
    delivered = make_order(status=OrderStatus.DELIVERED, updated_at=NOW)
    seeded.upsert_order("plat", delivered, "push")
    clock.advance(seconds=5)

    seeded.upsert_order(
        "plat", make_order(status=OrderStatus.DELIVERING, updated_at=NOW - timedelta(minutes=5)), "push"
    )

    assert seeded.fresh_orders("plat", NOW - timedelta(seconds=1), refs=["O1"]) == [delivered]
    with seeded.transaction() as session:
        assert session.scalar(select(OrderRow.received_at)) == NOW


def test_upsert_order_records_source_and_received_time(seeded, clock):
    clock.advance(seconds=7)

    seeded.upsert_order("plat", make_order(), "poll")

    with seeded.transaction() as session:
        row = session.scalars(select(OrderRow)).one()
        assert (row.source, row.received_at) == ("poll", NOW + timedelta(seconds=7))


def test_an_unknown_order_source_is_refused(seeded):
    with pytest.raises(ValueError, match="order source must be one of push, poll, entry"):
        seeded.upsert_order("plat", make_order(), "carrier-pigeon")


def test_upsert_order_joins_the_callers_transaction(seeded):
    with pytest.raises(RuntimeError), seeded.transaction() as session:
        assert seeded.record_push_event("plat", "evt-1", session=session)
        seeded.upsert_order("plat", make_order(), "push", session=session)
        raise RuntimeError("the push handler failed after recording")

    assert seeded.fresh_orders("plat", NOW - timedelta(seconds=1), refs=["O1"]) == []
    assert seeded.record_push_event("plat", "evt-1") is True


def test_a_push_event_is_recorded_once(seeded):
    assert seeded.record_push_event("plat", "evt-1") is True
    assert seeded.record_push_event("plat", "evt-1") is False
    assert seeded.record_push_event("plat", "evt-2") is True
    assert seeded.record_push_event("gatectl", "evt-1") is True


def test_concurrent_deliveries_of_one_push_event_record_it_once(seeded):
    deliveries = 8
    barrier = threading.Barrier(deliveries)
    results: list[bool] = []

    def deliver():
        barrier.wait()
        results.append(seeded.record_push_event("plat", "evt-race"))

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False] * (deliveries - 1) + [True]


def test_a_status_only_report_keeps_whose_order_it_is_and_where_it_goes(seeded, clock):
    seeded.upsert_order("plat", make_order(rider_ref="R1", community_ref="C1", building="3"), "push")
    clock.advance(seconds=10)
    status_only = make_order(
        status=OrderStatus.DELIVERED,
        rider_ref="",
        community_ref="",
        building="",
        updated_at=NOW + timedelta(seconds=10),
    )

    seeded.upsert_order("plat", status_only, "push")

    [stored] = seeded.fresh_orders("plat", NOW - timedelta(minutes=1), refs=["O1"])
    assert (stored.status, stored.rider_ref, stored.community_ref, stored.building) == (
        OrderStatus.DELIVERED,
        "R1",
        "C1",
        "3",
    )
