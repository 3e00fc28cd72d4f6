"""Passes: what the reconciliation and expiry jobs read and write, on SQLite and
PostgreSQL — the orders to poll, polled orders cutting passes exactly as pushes do, the
passes due to be taken back (with back-off), failed attempts counted and given up on,
and the passes the devices have not taken back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.core.db import ConnectionRow, OrderRow, PassRow
from hub.core.model import Order, OrderStatus, PushEvent
from hub.core.revocation import MAX_ATTEMPTS, retry_after
from hub.core.trace import AuditAction
from tests.storage.builders import NOW, make_entry, make_order, save

GRACE = timedelta(minutes=5)  # the seeded community's exit grace (the default)


def actions(store) -> list[tuple[str, str, str]]:
    return [(r.actor, r.action, r.subject) for r in reversed(store.list_audit(limit=1000))]


def live(store, entry_id: str = "e1", refs=("O1",), gate_id: str = "g1", **overrides):
    """A granted entry with a pass valid for 20 minutes from now (rider R1)."""
    orders = overrides.pop("orders", [make_order(ref=ref) for ref in refs])
    entry = make_entry(id=entry_id, order_refs=tuple(refs), gate_id=gate_id, **overrides)
    return save(store, entry, orders=orders)


def delivered(ref: str = "O1", at=NOW, **overrides) -> Order:
    return make_order(ref=ref, status=OrderStatus.DELIVERED, updated_at=at, **overrides)


def failed_attempt(store, entry_id: str, error: str = "controller offline") -> None:
    action = AuditAction("access.revoked.failed", "gatectl", entry_id, {"error": error})
    store.record_pass_revocation(entry_id, confirmed=False, actions=[action], actor="job:test", error=error)


# -- orders to reconcile ------------------------------------------------------------------


def test_orders_of_live_passes_are_polled_once_their_state_is_older_than_the_freshness(seeded, clock):
    live(seeded, "e1", refs=("O1",))

    assert seeded.orders_to_reconcile() == []  # the entry's own lookup is fresh
    clock.advance(seconds=120)
    assert seeded.orders_to_reconcile() == [("plat", "O1")]

    seeded.apply_polled_orders("plat", [make_order(ref="O1")], "job:test")
    assert seeded.orders_to_reconcile() == []  # the poll is fresh again


def test_unknown_orders_come_first_then_the_longest_unheard(seeded, clock):
    live(seeded, "e1", refs=("O1",))
    clock.advance(seconds=30)
    live(seeded, "e2", refs=("O2", "O3"), orders=[make_order(ref="O2")])  # O3 never stored
    clock.advance(seconds=200)

    assert seeded.orders_to_reconcile() == [("plat", "O3"), ("plat", "O1"), ("plat", "O2")]
    assert seeded.orders_to_reconcile(limit=2) == [("plat", "O3"), ("plat", "O1")]
    with pytest.raises(ValueError):
        seeded.orders_to_reconcile(limit=0)


def test_final_orders_ended_revoked_passes_and_disabled_connections_are_not_polled(seeded, clock):
    live(seeded, "final", refs=("O1",), orders=[delivered("O1")])
    live(seeded, "ended", refs=("O2",))
    live(seeded, "revoked", refs=("O3",))
    seeded.record_exit("ended", "api:test")
    seeded.record_pass_revocation("revoked", confirmed=True, actions=[], actor="api:test")
    clock.advance(minutes=3)
    assert seeded.orders_to_reconcile() == []

    live(seeded, "other", refs=("O4",))
    clock.advance(minutes=3)
    assert seeded.orders_to_reconcile() == [("plat", "O4")]
    with seeded.transaction() as session:
        session.execute(update(ConnectionRow).where(ConnectionRow.id == "plat").values(enabled=False))
    assert seeded.orders_to_reconcile() == []


# -- polled orders --------------------------------------------------------------------------


def test_a_polled_delivery_cuts_the_pass_to_the_exit_grace_once(seeded, clock):
    live(seeded, "e1")
    clock.advance(minutes=3)

    cut = seeded.apply_polled_orders("plat", [delivered(at=NOW + timedelta(minutes=2))], "job:orders.reconcile")
    again = seeded.apply_polled_orders("plat", [delivered(at=NOW + timedelta(minutes=2))], "job:orders.reconcile")

    assert (cut, again) == (1, 0)
    assert seeded.get_entry("e1").access_pass.valid_until == NOW + timedelta(minutes=2) + GRACE
    assert actions(seeded).count(("job:orders.reconcile", "pass.shortened", "e1")) == 1
    [record] = seeded.list_audit(action_prefix="pass.shortened")
    assert record.data == {
        "connection": "plat",
        "order": "O1",
        "valid_until": (NOW + timedelta(minutes=7)).isoformat(),
        "source": "poll",
    }
    with seeded.transaction() as session:
        row = session.scalars(select(OrderRow)).one()
        assert (row.source, row.status, row.received_at) == ("poll", "delivered", NOW + timedelta(minutes=3))


def test_a_pushed_delivery_cuts_the_pass_through_the_same_path(seeded, clock):
    live(seeded, "e1")
    clock.advance(minutes=3)

    seeded.apply_push("plat", [PushEvent("evt-1", "order.status_changed", order=delivered())], "push:plat")

    assert seeded.get_entry("e1").access_pass.valid_until == NOW + GRACE
    [record] = seeded.list_audit(action_prefix="pass.shortened")
    assert (record.actor, record.data["source"]) == ("push:plat", "push")


def test_a_poll_keeps_the_pass_of_an_entry_with_another_unfinished_order(seeded, clock):
    live(seeded, "e1", refs=("O1", "O2"))

    assert seeded.apply_polled_orders("plat", [delivered("O1")], "job:test") == 0
    assert seeded.get_entry("e1").access_pass.valid_until == NOW + timedelta(minutes=20)

    assert seeded.apply_polled_orders("plat", [delivered("O2", at=NOW + timedelta(minutes=1))], "job:test") == 1
    assert seeded.get_entry("e1").access_pass.valid_until == NOW + timedelta(minutes=1) + GRACE


def test_a_polled_order_older_than_the_stored_state_does_not_roll_it_back(seeded, clock):
    live(seeded, "e1", orders=[delivered(at=NOW)])
    clock.advance(minutes=1)

    seeded.apply_polled_orders("plat", [make_order(updated_at=NOW - timedelta(minutes=5))], "job:test")

    assert seeded.get_orders("plat", ["O1"])[0].status is OrderStatus.DELIVERED


# -- passes to revoke ---------------------------------------------------------------------


def test_expired_passes_not_revoked_are_due_the_longest_ended_first(seeded, clock):
    live(seeded, "late")
    live(seeded, "early")
    live(seeded, "valid")
    live(seeded, "revoked")
    with seeded.transaction() as session:
        session.execute(
            update(PassRow).where(PassRow.entry_id == "early").values(valid_until=NOW + timedelta(minutes=10))
        )
    seeded.record_pass_revocation("revoked", confirmed=True, actions=[], actor="api:test")
    seeded.record_exit("late", "api:test")  # ends now, at NOW
    clock.advance(minutes=15)

    due = seeded.passes_to_revoke()

    assert [(p.entry_id, p.grant.grant_id) for p in due] == [("late", "late"), ("early", "early")]
    late = due[0]
    assert (late.gate_id, late.connection_id, late.attempts, late.last_attempt_at) == ("g1", "gatectl", 0, None)
    assert late.grant.value == "PASS-late" and late.grant.valid_until == NOW
    assert [p.entry_id for p in seeded.passes_to_revoke(limit=1)] == ["late"]


def test_a_guards_pass_has_no_device(seeded, clock):
    live(seeded, "guarded", gate_id="g2")
    clock.advance(minutes=21)

    [due] = seeded.passes_to_revoke()

    assert (due.entry_id, due.connection_id) == ("guarded", None)


def test_a_failed_attempt_is_counted_and_retried_after_the_back_off(seeded, clock):
    live(seeded, "e1")
    clock.advance(minutes=21)
    failed_attempt(seeded, "e1")
    failed_at = clock.now()

    assert seeded.passes_to_revoke() == []
    clock.advance((retry_after(1) - timedelta(seconds=1)).total_seconds())
    assert seeded.passes_to_revoke() == []
    clock.advance(seconds=1)
    [due] = seeded.passes_to_revoke()
    assert (due.attempts, due.last_attempt_at) == (1, failed_at)

    failed_attempt(seeded, "e1", "still offline")
    clock.advance(retry_after(1).total_seconds())
    assert seeded.passes_to_revoke() == []  # the second failure waits longer
    clock.advance((retry_after(2) - retry_after(1)).total_seconds())
    assert [p.attempts for p in seeded.passes_to_revoke()] == [2]


def test_never_tried_passes_come_before_retries(seeded, clock):
    live(seeded, "retried")
    clock.advance(minutes=21)
    failed_attempt(seeded, "retried")
    live(seeded, "fresh")
    clock.advance(minutes=21)

    assert [p.entry_id for p in seeded.passes_to_revoke()] == ["fresh", "retried"]


def test_after_the_last_attempt_the_pass_is_given_up_on_once(seeded, clock):
    live(seeded, "e1")
    clock.advance(minutes=21)

    for _ in range(MAX_ATTEMPTS + 1):  # one more, as a rider's exit might make
        failed_attempt(seeded, "e1")

    clock.advance(days=1)
    assert seeded.passes_to_revoke() == []
    assert actions(seeded).count(("job:test", "pass.revoke_given_up", "e1")) == 1
    [given_up] = seeded.list_audit(action_prefix="pass.revoke_given_up")
    assert given_up.data == {
        "connection": "gatectl",
        "entry": "e1",
        "attempts": MAX_ATTEMPTS,
        "error": "controller offline",
    }


def test_a_confirmed_revocation_ends_the_retries_and_a_late_failure_is_not_counted(seeded, clock):
    live(seeded, "e1")
    clock.advance(minutes=21)
    failed_attempt(seeded, "e1")

    seeded.record_pass_revocation("e1", confirmed=True, actions=[], actor="job:test")
    failed_attempt(seeded, "e1")

    clock.advance(hours=1)
    assert seeded.get_entry("e1").pass_revoked_at == NOW + timedelta(minutes=21)
    assert seeded.passes_to_revoke() == []
    assert seeded.unrevoked_passes() == []


# -- passes not taken back -------------------------------------------------------------------


def test_passes_not_taken_back_are_listed_with_their_error_scoped_by_community(seeded, clock):
    live(seeded, "ok")
    live(seeded, "retrying")
    live(seeded, "given-up")
    clock.advance(minutes=21)
    failed_attempt(seeded, "retrying", "HTTP 503")
    for _ in range(MAX_ATTEMPTS):
        failed_attempt(seeded, "given-up", "unknown user")

    listed = {p.pass_id: p for p in seeded.unrevoked_passes()}

    assert set(listed) == {"retrying", "given-up"}
    retrying = listed["retrying"]
    assert (retrying.entry_id, retrying.community_id, retrying.gate_id, retrying.connection_id) == (
        "retrying",
        "c1",
        "g1",
        "gatectl",
    )
    assert (retrying.attempts, retrying.error, retrying.given_up) == (1, "HTTP 503", False)
    assert retrying.valid_until == NOW + timedelta(minutes=20)
    assert (listed["given-up"].attempts, listed["given-up"].given_up) == (MAX_ATTEMPTS, True)
    assert len(seeded.unrevoked_passes(community_ids=["c1"])) == 2
    assert seeded.unrevoked_passes(community_ids=["elsewhere"]) == []
    assert len(seeded.unrevoked_passes(limit=1)) == 1
