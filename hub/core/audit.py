"""The append-only, hash-chained audit log.

Each record stores the hash of the record before it, and its own hash over that and its
content::

    hash = sha256(prev_hash + canonical_json([at.isoformat(), actor, action, subject, data]))

so changing, removing or reordering a stored record breaks the chain at that point, and
:func:`verify_chain` names it (``last100 audit verify`` walks it with progress and prints
the latest hash). (Removing the newest records leaves a shorter valid chain; anchor the
latest hash elsewhere, e.g. in the operator's logs, to catch that.)
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
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
) -> None:
    """Append one record in the session's transaction."""
    append_many(session, [AuditRecord(actor, action, subject, data or {})], at)


def append_many(session: Session, records: Sequence[AuditRecord], at: datetime) -> None:
    """Append ``records`` in order, all stamped ``at``, with one lock and one read.

    ``data`` must be JSON-serialisable; datetimes are stored as ISO strings and sets as
    sorted lists, so the hashed form is exactly the stored one.
    """
    if not records:
        return
    if at.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    at = at.astimezone(UTC)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": ADVISORY_LOCK_KEY})
    # An ORM query: what the session holds unwritten is flushed first.
    prev_hash = session.scalar(_LATEST_HASH) or ""
    values = []
    for record in records:
        data = _plain(record.data)
        digest = record_hash(prev_hash, at, record.actor, record.action, record.subject, data)
        values.append(
            {
                "at": at,
                "actor": record.actor,
                "action": record.action,
                "subject": record.subject,
                "data": data,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    # One INSERT while the lock is held: ids are assigned in chain order.
    session.execute(_INSERT, values)


_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LATEST_HASH = select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
_INSERT = insert(AuditRow.__table__)


def record_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str, data: Mapping[str, Any]) -> str:
    """The hash of one record given the hash of the record before it."""
    content = _canonical([at.astimezone(UTC).isoformat(), actor, action, subject, data])
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What walking the log found: ``checked`` records in order, the first broken one
    (``None`` when the chain is intact), and the last intact record, whose hash an
    operator may anchor elsewhere (see the module's docstring)."""

    checked: int
    broken_at: int | None
    last_id: int | None
    last_hash: str

    @property
    def intact(self) -> bool:
        return self.broken_at is None


#: How many records :func:`walk_chain` checks between two calls of its ``progress``.
PROGRESS_EVERY = 1000


def walk_chain(session: Session, progress: Callable[[int], None] | None = None) -> ChainCheck:
    """Walk the whole log in order, stopping at the first record whose link or hash
    does not match.

    :param progress: called with the number of records checked so far, every
        :data:`PROGRESS_EVERY` records and once at the end.
    """
    prev_hash, last_id, checked = "", None, 0
    rows = session.execute(select(AuditRow).order_by(AuditRow.id).execution_options(yield_per=PROGRESS_EVERY))
    for row in rows.scalars():
        expected = record_hash(prev_hash, row.at, row.actor, row.action, row.subject, row.data)
        if row.prev_hash != prev_hash or row.hash != expected:
            if progress is not None:
                progress(checked)
            return ChainCheck(checked, row.id, last_id, prev_hash)
        prev_hash, last_id, checked = row.hash, row.id, checked + 1
        if progress is not None and checked % PROGRESS_EVERY == 0:
            progress(checked)
    if progress is not None:
        progress(checked)
    return ChainCheck(checked, None, last_id, prev_hash)


def verify_chain(session: Session) -> int | None:
    """Walk the whole log in order; return the id of the first record whose link or
    hash does not match, or ``None`` when the chain is intact."""
    return walk_chain(session).broken_at


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
