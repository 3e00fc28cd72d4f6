"""The database schema (SQLAlchemy 2 declarative models) and engine setup.

Only :mod:`hub.core.store` and the Alembic migrations should need these rows; the rest
of the hub works with the frozen dataclasses of :mod:`hub.core.model`. Any change here
needs a migration in ``hub/core/migrations/versions``: the test suite fails when the
migrated schema and these models differ.

Conventions:

* every timestamp is a :class:`UTCDateTime` (aware UTC in, aware UTC out);
* constraint names come from :data:`NAMING_CONVENTION`, because Alembic's batch mode
  (how SQLite alters tables) can only drop or change constraints that have a name;
* JSON columns hold plain JSON values (lists, not tuples; sorted lists, not sets), so
  what is read back equals what was written on both backends.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    make_url,
    pool,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: The values some string columns may take (enforced with CHECK constraints).
OUTBOX_STATUSES = ("pending", "done", "dead")
ORDER_SOURCES = ("push", "poll", "entry")
USER_ROLES = ("operator", "manager", "guard")
DECISIONS = ("granted", "denied", "manual_check")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones and would hand back naive
    values, so the value is normalised to UTC on the way in and marked UTC on the way
    out. Naive datetimes are refused: guessing their zone is how off-by-eight-hours bugs
    are born.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; a fixed UTC form keeps string comparison equal to time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _in(*values: str) -> str:
    return "IN (" + ", ".join(f"'{v}'" for v in values) + ")"


# ---------------------------------------------------------------------------
# Communities, buildings, zones, gates
# ---------------------------------------------------------------------------


class CommunityRow(Base):
    __tablename__ = "communities"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str]
    address: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str]
    policy: Mapped[dict[str, Any]]
    geofence: Mapped[list[Any]]
    platform_refs: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    buildings: Mapped[list[BuildingRow]] = relationship(
        order_by="BuildingRow.position", cascade="all, delete-orphan", passive_deletes=True
    )


class BuildingRow(Base):
    """A building of a community; ids are unique within their community only.
    ``position`` keeps the order the community lists its buildings in."""

    __tablename__ = "buildings"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int]
    name: Mapped[str]
    door_no: Mapped[str]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class ZoneRow(Base):
    """A marked area of a community; ids are unique within their community only."""

    __tablename__ = "zones"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str]
    name: Mapped[str]
    points: Mapped[list[Any]]
    notes: Mapped[str] = mapped_column(Text)


class GateRow(Base):
    __tablename__ = "gates"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str]
    code: Mapped[str] = mapped_column(unique=True)
    door_no: Mapped[str]
    access_connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"))


# ---------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------


class ConnectionRow(Base):
    """A configured plugin instance. ``settings`` holds only the non-secret settings;
    ``secrets`` is a Fernet token (see :mod:`hub.core.secrets`), ``None`` when the
    connection has no secret settings."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    plugin: Mapped[str]
    name: Mapped[str]
    settings: Mapped[dict[str, Any]]
    secrets: Mapped[str | None] = mapped_column(Text)
    timeout_s: Mapped[float] = mapped_column(Float)
    freshness_s: Mapped[int]
    enabled: Mapped[bool]
    created_at: Mapped[datetime]


class CommunityConnectionRow(Base):
    """Which connections serve which community."""

    __tablename__ = "community_connections"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    connection_id: Mapped[str] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# ---------------------------------------------------------------------------
# Riders and orders
# ---------------------------------------------------------------------------


class RiderRow(Base):
    """A rider as a platform vouched for them: masked fields only, never raw ones."""

    __tablename__ = "riders"
    __table_args__ = (UniqueConstraint("connection_id", "platform_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    platform_ref: Mapped[str]
    masked_name: Mapped[str]
    masked_phone: Mapped[str]
    status: Mapped[str]
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)


class OrderRow(Base):
    """The latest known state of an order. ``received_at`` is when the hub last learned
    it from the platform; ``source`` says how (push, poll or an entry's own lookup)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("connection_id", "ref"),
        Index("ix_orders_connection_id_rider_ref", "connection_id", "rider_ref"),
        CheckConstraint(f"source {_in(*ORDER_SOURCES)}", name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    ref: Mapped[str]
    status: Mapped[str]
    rider_ref: Mapped[str]
    community_ref: Mapped[str]
    building: Mapped[str]
    address: Mapped[str] = mapped_column(Text)
    eta: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    source: Mapped[str]


class PushEventRow(Base):
    """Push event ids already handled; the unique constraint is what drops repeats."""

    __tablename__ = "push_events"
    __table_args__ = (UniqueConstraint("connection_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    event_id: Mapped[str]
    received_at: Mapped[datetime] = mapped_column(index=True)


class SingleUseCodeRow(Base):
    """Single-use credentials already accepted (the ``jti`` of signed entry codes); the
    unique constraint is what refuses a second use, across every process."""

    __tablename__ = "single_use_codes"
    __table_args__ = (UniqueConstraint("connection_id", "code_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    code_id: Mapped[str]
    used_at: Mapped[datetime]
    # Past this the code is refused anyway (it expired), so the row may be purged.
    expires_at: Mapped[datetime] = mapped_column(index=True)


# ---------------------------------------------------------------------------
# Entries, passes and hook calls
# ---------------------------------------------------------------------------


class EntryRow(Base):
    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_connection_id_rider_id_created_at", "connection_id", "rider_id", "created_at"),
        Index("ix_entries_community_id_created_at", "community_id", "created_at"),
        CheckConstraint(f"decision {_in(*DECISIONS)}", name="decision"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id"))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    # Riders are purged after the retention period; their entries stay, anonymous.
    rider_id: Mapped[int | None] = mapped_column(ForeignKey("riders.id", ondelete="SET NULL"))
    decision: Mapped[str]
    reasons: Mapped[list[Any]]
    order_refs: Mapped[list[Any]]
    created_at: Mapped[datetime]
    decision_ms: Mapped[float] = mapped_column(Float)
    idempotency_key: Mapped[str | None] = mapped_column(unique=True)
    fingerprint: Mapped[str | None]
    entered_at: Mapped[datetime | None]
    exited_at: Mapped[datetime | None]

    rider: Mapped[RiderRow | None] = relationship()
    access_pass: Mapped[PassRow | None] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True
    )
    locker: Mapped[LockerAllocationRow | None] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True
    )
    hook_calls: Mapped[list[HookCallRow]] = relationship(
        order_by=lambda: (HookCallRow.started_at, HookCallRow.id),
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class PassRow(Base):
    """The pass issued for a granted entry; ``id`` is the grant id the device knows."""

    __tablename__ = "passes"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id"))
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"))
    kind: Mapped[str]
    value: Mapped[str]
    valid_from: Mapped[datetime]
    # The expiry job looks for passes past their end that are not revoked yet.
    valid_until: Mapped[datetime] = mapped_column(index=True)
    device_ref: Mapped[str]
    revoked_at: Mapped[datetime | None]
    #: Unconfirmed attempts to take the pass back at its device, and the latest error
    #: (the expiry job retries until the device confirms or the attempts run out).
    revoke_attempts: Mapped[int] = mapped_column(server_default="0")
    revoke_error: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[EntryRow] = relationship(back_populates="access_pass")


class LockerAllocationRow(Base):
    """A food-locker compartment reserved for an entry at a community whose riders use
    lockers instead of going in. ``allocation_id`` is the locker bank's own id."""

    __tablename__ = "locker_allocations"
    __table_args__ = (UniqueConstraint("connection_id", "allocation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), unique=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    bank_id: Mapped[str]
    allocation_id: Mapped[str]
    locker_no: Mapped[str]
    pin: Mapped[str]
    valid_until: Mapped[datetime | None] = mapped_column(index=True)
    released_at: Mapped[datetime | None]

    entry: Mapped[EntryRow] = relationship(back_populates="locker")


class HookCallRow(Base):
    """One timed upstream call made while deciding an entry. ``connection_id`` is not a
    foreign key: broadcast hooks run outside any connection (empty string)."""

    __tablename__ = "hook_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    hook: Mapped[str]
    plugin: Mapped[str]
    connection_id: Mapped[str]
    started_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str]
    detail: Mapped[str] = mapped_column(Text)


# ---------------------------------------------------------------------------
# Outbox, audit log, job runs
# ---------------------------------------------------------------------------


class OutboxRow(Base):
    """A side effect waiting for delivery (see :mod:`hub.core.outbox`)."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(f"status {_in(*OUTBOX_STATUSES)}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
    connection_id: Mapped[str]
    payload: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str] = mapped_column(unique=True)
    status: Mapped[str]
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    #: The request that enqueued it (see hub.core.logs); its delivery logs under it.
    request_id: Mapped[str | None]


class AuditRow(Base):
    """One audit record, chained to the previous one by ``prev_hash`` (see
    :mod:`hub.core.audit`). The initial migration adds triggers that refuse UPDATE and
    DELETE on this table; a batch migration that recreates it on SQLite must re-add
    them."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str]
    action: Mapped[str]
    subject: Mapped[str]
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class JobRunRow(Base):
    """One run of a scheduled job, or of one ``partition`` of it (``None``: the whole
    job). A run of a Celery task has its ``task_key`` (the worker that claims the key
    runs the task) and its ``tick``, the scheduled time shared by the partitions of one
    run; ``attempts`` counts the workers that claimed it (more than 1: the run of a
    worker that died was taken over). See :mod:`hub.core.tasks`."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_job_id_started_at", "job_id", "started_at"),
        Index("ix_job_runs_job_id_tick", "job_id", "tick"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    items: Mapped[int]
    errors: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
    partition: Mapped[str | None]
    task_key: Mapped[str | None] = mapped_column(unique=True)
    tick: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default="1")


# ---------------------------------------------------------------------------
# What the scheduled syncs remember between runs
# ---------------------------------------------------------------------------


class SchedulerLockRow(Base):
    """The lease of the one scheduler a database may have at a time (on SQLite; on
    PostgreSQL an advisory lock is the lock, and the row only says who holds it).
    ``holder`` names the process (see :mod:`hub.core.scheduler_lock`)."""

    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    holder: Mapped[str]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class SyncCursorRow(Base):
    """How far a sync has read an external system (e.g. a gate's door events: the time
    of the last event read), so the next run goes on from there."""

    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str]
    updated_at: Mapped[datetime]


class CatalogStateRow(Base):
    """The one row holding the catalog's version (see :mod:`hub.core.catalog`)."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)


class CommunityProfileRow(Base):
    """The digest of a community's published profile and its version, which grows
    whenever the digest changes."""

    __tablename__ = "community_profiles"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    changed_at: Mapped[datetime]


class CommunityPublicationRow(Base):
    """The latest attempt to publish a community's profile to one platform connection:
    the version it accepted last (``published_*``) and the latest error, if any."""

    __tablename__ = "community_publications"

    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    published_version: Mapped[int | None]
    published_digest: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None]
    attempted_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)


class ConnectionHealthRow(Base):
    """A connection's latest health check (``hub_check_connection``) and the circuit
    state the checking process saw."""

    __tablename__ = "connection_health"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    ok: Mapped[bool]
    message: Mapped[str] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    circuit: Mapped[str]
    checked_at: Mapped[datetime]


# ---------------------------------------------------------------------------
# Console users, API keys and feedback
# ---------------------------------------------------------------------------


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role {_in(*USER_ROLES)}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]
    role: Mapped[str]
    disabled: Mapped[bool]
    totp_secret: Mapped[str | None]
    created_at: Mapped[datetime]


class UserCommunityRow(Base):
    __tablename__ = "user_communities"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[str] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class UserGateRow(Base):
    """The gates a guard works, when narrower than every gate of their communities."""

    __tablename__ = "user_gates"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"), primary_key=True)


class ConsoleSessionRow(Base):
    """A signed-in console session. ``id`` is the SHA-256 of the random token in the
    browser's cookie, so a copy of the database does not hold live sessions. A session
    ends (``ended_at``, ``end_reason``) at sign-out, on a timeout, or when the user's
    password is reset or the user is disabled."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    address: Mapped[str]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None]


class ApiKeyRow(Base):
    """A key API clients (platform back ends, gate scanners, guard handhelds) send.

    Only the key's ``prefix`` (to find the row) and the SHA-256 of its secret part are
    kept; the key itself is shown once, when it is made. ``connection_ids`` and
    ``community_ids`` are sorted lists: the connections the key may enter riders
    through and the communities whose entries and profiles it may read (``["*"]``:
    all of them; empty: none).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    connection_ids: Mapped[list[Any]]
    community_ids: Mapped[list[Any]]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


#: The values of feedback's enumerated columns (as :mod:`hub.core.model` names them).
FEEDBACK_SOURCES = ("rider", "resident", "platform", "property", "guard")
FEEDBACK_CATEGORIES = ("access", "route", "parking", "safety", "conduct", "other")
FEEDBACK_STATUSES = ("open", "in_progress", "resolved", "closed")


class FeedbackRow(Base):
    """A report from a rider, resident, platform, property company or guard.
    ``contact`` is the reporter's name or phone as given (personal data; empty when
    none). A platform's report carries its ``connection_id`` and its own id,
    ``external_ref``, unique per connection: what makes re-sending it idempotent."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_ref"),
        Index("ix_feedback_community_id_created_at", "community_id", "created_at"),
        Index("ix_feedback_created_at", "created_at"),
        CheckConstraint(f"source {_in(*FEEDBACK_SOURCES)}", name="source"),
        CheckConstraint(f"category {_in(*FEEDBACK_CATEGORIES)}", name="category"),
        CheckConstraint(f"status {_in(*FEEDBACK_STATUSES)}", name="status"),
        CheckConstraint("external_ref IS NULL OR connection_id IS NOT NULL", name="external_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"))
    gate_id: Mapped[str | None] = mapped_column(ForeignKey("gates.id", ondelete="SET NULL"))
    source: Mapped[str]
    category: Mapped[str]
    body: Mapped[str] = mapped_column(Text)
    contact: Mapped[str] = mapped_column(Text)
    connection_id: Mapped[str | None] = mapped_column(ForeignKey("connections.id"))
    external_ref: Mapped[str | None]
    status: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    responses: Mapped[list[FeedbackResponseRow]] = relationship(
        order_by=lambda: (FeedbackResponseRow.created_at, FeedbackResponseRow.id),
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class FeedbackResponseRow(Base):
    """An answer to a report; ``author`` is the audit log's actor (``user:anna``)."""

    __tablename__ = "feedback_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    author: Mapped[str]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    shared_with_reporter: Mapped[bool]


# ---------------------------------------------------------------------------
# Engine
# ---------------------------------------------------------------------------

#: Execution option naming how a SQLite transaction begins (see :func:`make_engine`).
SQLITE_BEGIN = "hub_sqlite_begin"
_SQLITE_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def make_engine(url: str, *, echo: bool = False, connect_args: dict[str, Any] | None = None) -> Engine:
    """Create the engine for a SQLite or PostgreSQL URL, set up for the hub.

    SQLite files run in WAL mode (readers do not block the writer) with foreign keys
    on and a 5 s busy timeout. The driver's own transaction handling is switched off so
    the hub can say how each transaction begins: a connection with the execution option
    ``hub_sqlite_begin="IMMEDIATE"`` takes the write lock at ``BEGIN``, which makes
    concurrent writers wait for each other (up to the busy timeout) instead of failing
    when they upgrade a read lock. ``sqlite://`` (in memory) shares one connection, so
    it suits single-threaded tests only.

    Bound parameters are kept out of logs and error messages (``hide_parameters``):
    they carry masked personal data and pass values.
    """
    parsed = make_url(url)
    args: dict[str, Any] = dict(connect_args or {})
    options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        args.setdefault("check_same_thread", False)
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = pool.StaticPool
    elif backend == "postgresql":
        options["pool_pre_ping"] = True
    else:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    engine = create_engine(parsed, connect_args=args, **options)
    if backend == "sqlite":
        _set_up_sqlite(engine, in_file=parsed.database not in (None, "", ":memory:"))
    return engine


def _use_wal(cursor: Any, patience_s: float = 5.0) -> None:
    """Put the file in WAL mode (it stays so). Changing the journal mode does not wait
    on the busy timeout while another connection holds a lock, so a new file opened by
    two processes at once is retried here for a while instead of failing."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _set_up_sqlite(engine: Engine, *, in_file: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: BEGIN is emitted by _on_begin below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that switching a new file to WAL waits for a concurrent opener.
            cursor.execute("PRAGMA busy_timeout=5000")
            if in_file:
                _use_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN} must be one of {', '.join(_SQLITE_BEGIN_MODES)}")
        connection.exec_driver_sql(f"BEGIN {mode}")


def insert_for(session: Session, entity: Any) -> Any:
    """An ``INSERT`` with the backend's ``ON CONFLICT`` support (both SQLite and
    PostgreSQL spell it the same way in SQLAlchemy)."""
    return dialect_insert(session.get_bind().dialect.name, entity)


def dialect_insert(name: str, entity: Any) -> Any:
    """:func:`insert_for` by the backend's name (``"sqlite"``, ``"postgresql"``), for
    statements built once and reused."""
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise ValueError(f"unsupported database {name!r}")
