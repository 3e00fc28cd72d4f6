"""Entries: saved all-or-nothing with their pass, hook calls, audit and outbox."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.core.db import AuditRow, OrderRow, OutboxRow, PassRow, RiderRow
from hub.core.errors import Conflict, NotFound
from hub.core.model import Decision, OrderStatus, Reason
from hub.core.outbox import OutboxItem
from hub.core.trace import AuditAction
from tests.storage.builders import NOW, make_entry, make_order, make_rider, row_counts, save

NOTIFY = OutboxItem("notify_rider", "plat", {"entry": "e", "kind": "gate_open"}, "notify_rider:e")
GRANTED = AuditAction("access.granted", "gatectl", "g1", {"pass_kind": "qr"})


def test_a_saved_entry_reads_back_whole(seeded):
    entry = make_entry()

    save(seeded, entry)

    assert seeded.get_entry(entry.id) == entry


def test_an_entry_without_rider_or_pass_reads_back_whole(seeded):
    entry = make_entry(
        decision=Decision.MANUAL_CHECK,
        reasons=(Reason("platform_timeout", "平台未响应", "The platform did not answer"),),
        rider_ref="",
        order_refs=(),
        access_pass=None,
        hook_calls=(),
    )

    save(seeded, entry, rider=None, orders=[])

    assert seeded.get_entry(entry.id) == entry


def test_save_entry_writes_rider_orders_pass_audit_and_outbox_together(seeded):
    entry = make_entry()

    save(seeded, entry, outbox=[NOTIFY], actions=[GRANTED], actor="api:acme")

    with seeded.transaction() as session:
        rider = session.scalars(select(RiderRow)).one()
        assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == ("R1", "王*", "138****5678")
        order = session.scalars(select(OrderRow)).one()
        assert (order.ref, order.source, order.received_at) == ("O1", "entry", NOW)
        grant = session.scalars(select(PassRow)).one()
        assert (grant.id, grant.entry_id, grant.connection_id) == (entry.id, entry.id, "gatectl")
        item = session.scalars(select(OutboxRow)).one()
        assert (item.kind, item.dedupe_key, item.status, item.attempts) == (
            "notify_rider",
            "notify_rider:e",
            "pending",
            0,
        )
        records = session.scalars(select(AuditRow).order_by(AuditRow.id)).all()
        assert [(r.actor, r.action, r.subject) for r in records] == [
            ("api:acme", "entry.decided", entry.id),
            ("api:acme", "access.granted", "g1"),
        ]
        assert records[0].data == {
            "decision": "granted",
            "reasons": ["order_active"],
            "community": "c1",
            "gate": "g1",
            "connection": "plat",
            "decision_ms": 12.5,
        }
        assert records[1].data == {"pass_kind": "qr", "connection": "gatectl", "entry": entry.id}
    assert seeded.verify_audit_chain() is None


def test_a_guard_pass_at_a_gate_without_device_has_no_connection(seeded):
    entry = make_entry(gate_id="g2")

    save(seeded, entry)

    with seeded.transaction() as session:
        assert session.scalar(select(PassRow.connection_id)) is None


def test_the_entry_audit_record_holds_no_personal_data(seeded):
    save(seeded, make_entry())

    with seeded.transaction() as session:
        data = repr(session.scalars(select(AuditRow.data)).all())
    assert "王" not in data and "5678" not in data and "R1" not in data


def test_a_duplicate_idempotency_key_is_a_conflict_that_leaves_nothing_behind(seeded):
    save(seeded, make_entry(), idempotency_key="key-1", fingerprint="fp")
    before = row_counts(seeded)
    twin = make_entry(rider_ref="R2", order_refs=("O2",))

    with pytest.raises(Conflict, match="idempotency key already used by entry"):
        save(
            seeded,
            twin,
            rider=make_rider(platform_ref="R2"),
            orders=[make_order(ref="O2", rider_ref="R2")],
            idempotency_key="key-1",
            fingerprint="fp",
            outbox=[NOTIFY],
            actions=[GRANTED],
        )

    assert row_counts(seeded) == before
    with pytest.raises(NotFound):
        seeded.get_entry(twin.id)
    assert seeded.verify_audit_chain() is None


def test_saving_an_entry_id_twice_is_a_conflict(seeded):
    entry = make_entry()
    save(seeded, entry)

    with pytest.raises(Conflict, match=f"entry {entry.id} is already stored"):
        save(seeded, entry)


def test_a_failure_that_is_no_duplicate_is_not_disguised_as_a_conflict(seeded):
    before = row_counts(seeded)

    with pytest.raises(IntegrityError):
        save(seeded, make_entry(gate_id="no-such-gate"))

    assert row_counts(seeded) == before


def test_concurrent_twins_store_one_entry_and_the_other_gets_a_conflict(seeded):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide():
        entry = make_entry()
        barrier.wait()
        try:
            save(seeded, entry, idempotency_key="retry-key", fingerprint="fp")
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["conflict", "saved"]
    assert row_counts(seeded)["entries"] == 1


def test_find_idempotent_returns_the_entry_and_its_fingerprint(seeded):
    entry = make_entry()
    save(seeded, entry, idempotency_key="key-1", fingerprint="sha256:abc")

    assert seeded.find_idempotent("key-1") == (entry, "sha256:abc")
    assert seeded.find_idempotent("key-2") is None


def test_count_entries_counts_a_riders_entries_in_the_window(seeded, clock):
    for minutes in (0, 20, 50):
        save(seeded, make_entry(created_at=NOW + timedelta(minutes=minutes)))
    save(seeded, make_entry(created_at=NOW + timedelta(minutes=55), rider_ref="R2"))

    since = NOW + timedelta(minutes=20)

    assert seeded.count_entries("plat", "R1", since) == 2
    assert seeded.count_entries("plat", "R1", NOW) == 3
    assert seeded.count_entries("plat", "R2", since) == 1
    assert seeded.count_entries("plat", "R9", NOW) == 0
    assert seeded.count_entries("gatectl", "R1", NOW) == 0


def test_the_rider_is_updated_with_its_latest_masked_identity(seeded, clock):
    save(seeded, make_entry())
    clock.advance(minutes=5)

    save(seeded, make_entry(), rider=make_rider(masked_name="王*明", status="suspended"))

    with seeded.transaction() as session:
        rider = session.scalars(select(RiderRow)).one()
        assert (rider.masked_name, rider.status) == ("王*明", "suspended")
        assert (rider.first_seen, rider.last_seen) == (NOW, NOW + timedelta(minutes=5))


@pytest.mark.parametrize("sent", ["13812345678", "+86 138 1234 5678", "138-1234-5678"])
def test_a_phone_number_a_plugin_left_whole_is_masked_before_it_is_stored(seeded, sent):
    save(seeded, make_entry(), rider=make_rider(masked_phone=sent))

    with seeded.transaction() as session:
        assert session.scalars(select(RiderRow.masked_phone)).one() == "138****5678"


def test_orders_an_entry_used_do_not_count_as_freshly_reported(seeded, clock):
    seeded.upsert_order("plat", make_order(), "push")
    clock.advance(seconds=100)

    save(seeded, make_entry(created_at=clock.now()))

    # Re-saving the pushed state must not restart its freshness window.
    assert seeded.fresh_orders("plat", NOW + timedelta(seconds=1), refs=["O1"]) == []


def test_orders_an_entry_used_update_older_stored_state(seeded, clock):
    seeded.upsert_order("plat", make_order(updated_at=NOW - timedelta(minutes=3)), "push")
    arrived = make_order(status=OrderStatus.ARRIVED, updated_at=NOW)

    save(seeded, make_entry(), orders=[arrived])

    assert seeded.fresh_orders("plat", NOW - timedelta(seconds=1), refs=["O1"]) == [arrived]


def test_an_entry_for_another_rider_than_given_is_refused(seeded):
    with pytest.raises(ValueError, match="names rider 'R1' but rider 'R2' was given"):
        save(seeded, make_entry(), rider=make_rider(platform_ref="R2"))


def test_unknown_entries_are_not_found(seeded):
    missing = str(uuid.uuid4())

    with pytest.raises(NotFound, match=f"entry '{missing}' not found"):
        seeded.get_entry(missing)
