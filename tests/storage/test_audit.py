"""The audit log: hash-chained, append-only, safe under concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hub.core import audit
from hub.core.db import AuditRow
from tests.storage.builders import NOW


def _records(store):
    with store.transaction() as session:
        return session.scalars(select(AuditRow).order_by(AuditRow.id)).all()


def _tamper(store, backend, sql):
    """Change the log behind the hub's back, as someone with database access could."""
    with store.transaction() as session:
        if backend.name == "sqlite":
            session.execute(text("DROP TRIGGER audit_log_no_update"))
            session.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        session.execute(text(sql))


def test_records_chain_onto_each_other(store):
    store.audit("operator:alice", "connection.added", "plat", {"plugin": "acme"})
    store.audit("operator:alice", "gate.opened", "g1")

    first, second = _records(store)

    assert first.prev_hash == "" and second.prev_hash == first.hash
    assert first.hash == audit.record_hash("", NOW, "operator:alice", "connection.added", "plat", {"plugin": "acme"})
    assert (second.data, second.at) == ({}, NOW)
    assert store.verify_audit_chain() is None


def test_an_empty_log_verifies(store):
    assert store.verify_audit_chain() is None


def test_data_is_stored_exactly_as_it_was_hashed(store):
    store.audit("job", "purge", "", {"until": datetime(2026, 1, 1, tzinfo=UTC), "kinds": {"riders", "orders"}})

    (record,) = _records(store)

    assert record.data == {"until": "2026-01-01T00:00:00+00:00", "kinds": ["orders", "riders"]}
    assert store.verify_audit_chain() is None


def test_a_changed_record_is_detected(store, backend):
    for n in range(4):
        store.audit("api", "entry.decided", f"e{n}", {"decision": "granted"})
    second = _records(store)[1]

    _tamper(store, backend, f"UPDATE audit_log SET subject = 'forged' WHERE id = {second.id}")

    assert store.verify_audit_chain() == second.id


def test_a_removed_record_is_detected_at_its_successor(store, backend):
    for n in range(4):
        store.audit("api", "entry.decided", f"e{n}")
    records = _records(store)

    _tamper(store, backend, f"DELETE FROM audit_log WHERE id = {records[1].id}")

    assert store.verify_audit_chain() == records[2].id


def test_the_database_refuses_to_change_or_remove_records(store):
    store.audit("api", "entry.decided", "e1")

    for sql in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.transaction() as session:
            session.execute(text(sql))

    assert [r.actor for r in _records(store)] == ["api"]


def test_concurrent_writers_keep_one_unbroken_chain(store):
    writers, appends = 6, 10
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n):
        barrier.wait()
        try:
            for i in range(appends):
                store.audit(f"writer-{n}", "test.append", f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    records = _records(store)
    assert len(records) == writers * appends
    assert len({r.prev_hash for r in records}) == len(records)
    assert store.verify_audit_chain() is None


def test_naive_timestamps_are_refused(store):
    with pytest.raises(ValueError, match="timezone-aware"), store.transaction() as session:
        audit.append(session, "api", "x", "", None, datetime(2026, 1, 5, 12, 0))
