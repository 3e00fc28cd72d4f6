"""The outbox: items queued in the caller's transaction, each dedupe key once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.db import OutboxRow
from hub.core.outbox import OutboxItem, enqueue
from tests.storage.builders import NOW


def _item(key: str, kind: str = "notify_rider") -> OutboxItem:
    return OutboxItem(kind, "plat", {"entry_id": key, "notice": {"kind": "gate_open"}}, key)


def test_items_are_queued_pending_and_due_now(store):
    with store.transaction() as session:
        assert enqueue(session, [_item("a"), _item("b")], NOW) == 2

    with store.transaction() as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert [(r.dedupe_key, r.status, r.attempts, r.next_attempt_at) for r in rows] == [
            ("a", "pending", 0, NOW),
            ("b", "pending", 0, NOW),
        ]
        assert rows[0].payload == {"entry_id": "a", "notice": {"kind": "gate_open"}}


def test_a_queued_dedupe_key_is_skipped_not_an_error(store):
    with store.transaction() as session:
        enqueue(session, [_item("a")], NOW)

    with store.transaction() as session:
        assert enqueue(session, [_item("a", kind="other"), _item("b"), _item("b")], NOW) == 1

    with store.transaction() as session:
        rows = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        assert [(r.dedupe_key, r.kind) for r in rows] == [("a", "notify_rider"), ("b", "notify_rider")]


def test_items_roll_back_with_the_work_that_queued_them(store):
    with pytest.raises(RuntimeError), store.transaction() as session:
        enqueue(session, [_item("a")], NOW)
        raise RuntimeError("the entry was not saved")

    with store.transaction() as session:
        assert session.scalars(select(OutboxRow)).all() == []


def test_enqueueing_nothing_is_a_no_op(store):
    with store.transaction() as session:
        assert enqueue(session, [], NOW) == 0
