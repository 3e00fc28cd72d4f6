"""The persisted outbox: side effects that must happen, but not on the rider's path.

A notice to the rider, a visitor record, a locker allocation: the work that decided an
entry enqueues them in its own transaction, so they are stored exactly when the entry
is. The delivery job picks them up, retries with back-off, and marks them ``done`` or
``dead`` (visibly failed). ``dedupe_key`` names one side effect: enqueueing it twice (a
retried request, a replayed push) stores it once. Each item keeps the request id of the
request that enqueued it (see :mod:`hub.core.logs`); its delivery logs under that id.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.core.db import OutboxRow, dialect_insert
from hub.core.logs import current_request_id


@dataclass(frozen=True)
class OutboxItem:
    """One side effect to deliver through ``connection_id``. ``payload`` must be JSON."""

    kind: str
    connection_id: str
    payload: dict[str, Any]
    dedupe_key: str


@dataclass(frozen=True)
class LeasedItem:
    """An outbox item claimed for one delivery attempt; ``attempts`` made before it;
    ``request_id``: of the request that enqueued it (``None``: enqueued outside one)."""

    id: int
    kind: str
    connection_id: str
    payload: dict[str, Any]
    attempts: int
    request_id: str | None = None


@dataclass(frozen=True)
class DeadItem:
    """An outbox item that was given up on (``dead``): visible in the console."""

    id: int
    kind: str
    connection_id: str
    attempts: int
    last_error: str
    created_at: datetime


def enqueue(session: Session, items: Iterable[OutboxItem], now: datetime) -> int:
    """Add ``items`` to the outbox in the session's transaction, due at once, each with
    the current request id.

    Items whose ``dedupe_key`` is already queued (by this call or an earlier one) are
    skipped, not an error. Returns how many items were newly queued.
    """
    rows: dict[str, dict[str, Any]] = {}
    request_id = current_request_id()
    for item in items:
        rows.setdefault(
            item.dedupe_key,
            {
                "kind": item.kind,
                "connection_id": item.connection_id,
                "payload": item.payload,
                "dedupe_key": item.dedupe_key,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "request_id": request_id,
            },
        )
    if not rows:
        return 0
    return len(session.execute(_enqueue(session.get_bind().dialect.name), list(rows.values())).all())


@functools.cache
def _enqueue(dialect: str) -> Any:
    """The outbox INSERT, built once per backend (building it cost more than running it)."""
    outbox = OutboxRow.__table__
    return dialect_insert(dialect, outbox).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(outbox.c.id)
