"""The append-only, hash-chained audit log.

Each record stores the hash of the record before it, and its own hash over that and its
content::

    hash = sha256(prev_hash + canonical_json([at.isoformat(), actor, action, subject, data]))

so changing, removing or reordering a stored record breaks the chain at that point, and
:func:`verify_chain` names it. (Removing the newest records leaves a shorter valid
chain; anchor the latest hash elsewhere, e.g. in the operator's logs, to catch that.)
The database also refuses UPDATE and DELETE on the table (triggers added by the initial
migration).

Appends must be serialised, or two writers would chain onto the same record. On
PostgreSQL an append takes a transaction-scoped advisory lock, held until the
surrounding transaction ends, so append last in a transaction to hold it briefly. On
SQLite the hub's write transactions begin with ``BEGIN IMMEDIATE`` (see
:func:`hub.core.db.make_engine`), which serialises them already.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hub.core.db import AuditRow

#: pg_advisory_xact_lock key serialising appends: the ASCII bytes of "L100AUDI".
ADVISORY_LOCK_KEY = 0x4C31303041554449


@dataclass(frozen=True)
class AuditRecord:
    """One record to append."""

    actor: str
    action: str
    subject: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredRecord:
    """One record as the log holds it (read back for the console)."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    data: Mapping[str, Any]


def append(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    data: Mapping[str, Any] | None,
    at: datetime,
) -> AuditRow:
    """Append one record in the session's transaction and return its row."""
    return append_many(session, [AuditRecord(actor, action, subject, data or {})], at)[0]


def append_many(session: Session, records: Sequence[AuditRecord], at: datetime) -> list[AuditRow]:
    """Append ``records`` in order, all stamped ``at``, with one lock and one read.

    ``data`` must be JSON-serialisable; datetimes are stored as ISO strings and sets as
    sorted lists, so the hashed form is exactly the stored one.
    """
    if not records:
        return []
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    at = at.astimezone(UTC)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    prev_hash = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)) or ""
    rows = []
    for record in records:
        data = _plain(record.data)
        digest = record_hash(prev_hash, at, record.actor, record.action, record.subject, data)
        rows.append(
            AuditRow(
                at=at,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                data=data,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    session.add_all(rows)
    # Flush now: the ids must be assigned while the lock is held, in chain order.
    session.flush()
    return rows


def record_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str, data: Mapping[str, Any]) -> str:
    """The hash of one record given the hash of the record before it."""
    content = _canonical([at.astimezone(UTC).isoformat(), actor, action, subject, data])
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def verify_chain(session: Session) -> int | None:
    """Walk the whole log in order; return the id of the first record whose link or
    hash does not match, or ``None`` when the chain is intact."""
    prev_hash = ""
    rows = session.execute(select(AuditRow).order_by(AuditRow.id).execution_options(yield_per=1000))
    for row in rows.scalars():
        expected = record_hash(prev_hash, row.at, row.actor, row.action, row.subject, row.data)
        if row.prev_hash != prev_hash or row.hash != expected:
            return row.id
        prev_hash = row.hash
    return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as plain JSON values, exactly as it will read back from the database."""
    return json.loads(json.dumps(dict(data), allow_nan=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"audit data cannot hold a {type(value).__name__}")
