"""Persistence for the hub: the only door to the database the rest of the hub uses.

:class:`Store` takes and returns the frozen dataclasses of :mod:`hub.core.model`; rows
(:mod:`hub.core.db`, converted by :mod:`hub.core.rows`) never leave it, except through
:meth:`Store.transaction` for jobs that need their own queries. Every method is one transaction. Methods on the entry
path (``gate_by_code``, ``get_community``, ``get_connection``, ``fresh_orders``,
``count_entries``, ``find_idempotent``, ``save_entry``) cost one or two statements each,
apart from ``save_entry``, which writes everything an entry needs in one transaction.

Errors: :class:`~hub.core.errors.NotFound` and :class:`~hub.core.errors.Conflict` with a
message naming the object; ``ValueError`` for invalid arguments (a naive datetime, an
unknown role); :class:`~hub.core.secrets.SecretsError` when secrets cannot be decrypted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import types
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, case, delete, exists, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, aliased, joinedload, selectinload, sessionmaker

from hub.core import audit, doors, migrations, rows
from hub.core import outbox as outbox_queue
from hub.core.apikeys import ALL, ApiKey
from hub.core.catalog import CatalogCache
from hub.core.clock import Clock
from hub.core.db import (
    ORDER_SOURCES,
    SQLITE_BEGIN,
    USER_ROLES,
    ApiKeyRow,
    AuditRow,
    CatalogStateRow,
    CommunityConnectionRow,
    CommunityProfileRow,
    CommunityPublicationRow,
    CommunityRow,
    ConnectionHealthRow,
    ConnectionRow,
    ConsoleSessionRow,
    EntryRow,
    FeedbackResponseRow,
    FeedbackRow,
    GateRow,
    HookCallRow,
    JobRunRow,
    LockerAllocationRow,
    OrderRow,
    OutboxRow,
    PassRow,
    PushEventRow,
    RiderRow,
    SingleUseCodeRow,
    SyncCursorRow,
    UserCommunityRow,
    UserGateRow,
    UserRow,
    ZoneRow,
    dialect_insert,
    insert_for,
    make_engine,
)
from hub.core.doors import DoorEventsResult
from hub.core.errors import Conflict, NotFound
from hub.core.health import ConnectionHealth
from hub.core.masking import mask_phones_in
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    Connection,
    Decision,
    Entry,
    Feedback,
    FeedbackCategory,
    FeedbackSource,
    FeedbackStatus,
    Gate,
    Health,
    Order,
    OrderStatus,
    PushEvent,
    Reason,
    RiderIdentity,
    RiderStatus,
    Zone,
)
from hub.core.outbox import DeadItem, LeasedItem, OutboxItem
from hub.core.publishing import ProfileVersion, Publication
from hub.core.reports import (
    FAILED_OUTCOMES,
    PERCENTILES,
    CallSummary,
    EntryFact,
    MonthGroup,
    MonthlyFacts,
    PendingCheck,
    RankedTimes,
    local_month,
    month_key,
    months_between,
)
from hub.core.revocation import ATTEMPT_ACTIONS, MAX_ATTEMPTS, ExpiredPass, UnrevokedPass, retry_after
from hub.core.scheduler_lock import SchedulerLock
from hub.core.secrets import SecretBox
from hub.core.tasks import WHOLE_JOB, WORKER_LOST, ClaimOutcome, JobClaim
from hub.core.trace import AuditAction
from hub.core.users import ConsoleSession, LoginRecord, Role, UserAccount

#: Order fields a newer report of the same order replaces.
# Statements of the entry path, built once (building one and its cache key cost more
# than running it).
_COUNT_RIDER_ENTRIES = (
    select(func.count())
    .select_from(EntryRow)
    .join(RiderRow, RiderRow.id == EntryRow.rider_id)
    .where(
        RiderRow.connection_id == bindparam("connection_id"),
        RiderRow.platform_ref == bindparam("rider_ref"),
        EntryRow.connection_id == bindparam("connection_id"),
        EntryRow.created_at >= bindparam("since"),
    )
)
_ORDER_BUILDINGS = select(OrderRow.ref, OrderRow.building).where(
    OrderRow.connection_id == bindparam("connection_id"), OrderRow.ref.in_(bindparam("refs", expanding=True))
)
_IDEMPOTENCY_KEY_KNOWN = select(EntryRow.id).where(EntryRow.idempotency_key == bindparam("key"))
_CATALOG_VERSION = select(CatalogStateRow.version).where(CatalogStateRow.id == 1)
_ORDER_FIELDS = ("status", "rider_ref", "community_ref", "building", "address", "eta", "updated_at")
#: Order fields a report without them (an empty string) leaves as stored.
_ORDER_IDENTITY = ("rider_ref", "community_ref", "building", "address")


class Store:
    """The hub's database: SQLite (embedded default) or PostgreSQL.

    One instance serves the whole process and is safe to share between threads.

    :param url: a SQLAlchemy URL (``sqlite:////abs/path.sqlite``,
        ``postgresql+psycopg://user:password@host/db``).
    :param secret_keys: Fernet keys for connection secrets; the first encrypts.
    :param clock: the source of "now" for every timestamp the store sets.
    :param echo: log SQL statements (parameters stay hidden).
    :param connect_args: passed to the driver, e.g. ``{"options": "-csearch_path=x"}``.
    :param catalog_cache_s: how long this process trusts its cached catalog
        (communities, zones, gates, connections, API keys) before checking the
        database's catalog version again: changes made by another process are seen
        within this time, this process's own at once (see :mod:`hub.core.catalog`).
    """

    def __init__(
        self,
        url: str,
        secret_keys: Sequence[str],
        clock: Clock | None = None,
        echo: bool = False,
        *,
        connect_args: Mapping[str, Any] | None = None,
        catalog_cache_s: float = 1.0,
    ) -> None:
        self._engine = make_engine(url, echo=echo, connect_args=dict(connect_args or {}))
        self._box = SecretBox(secret_keys)
        self._catalog = CatalogCache(self._catalog_version, catalog_cache_s)
        self.clock = clock or Clock()
        self._reads = sessionmaker(self._engine, expire_on_commit=False)
        # SQLite: writers take the write lock at BEGIN and queue on the busy timeout,
        # instead of failing when two of them try to upgrade their read locks.
        writer = self._engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._writes = sessionmaker(writer, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL with its password masked: safe to print and log."""
        return self._engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- lifecycle -------------------------------------------------------------------

    def upgrade(self) -> None:
        """Migrate the database to the newest schema; a no-op when it is there."""
        migrations.upgrade(self._engine)

    def current_revision(self) -> str | None:
        """The schema revision of the database; ``None`` when never migrated."""
        return migrations.current_revision(self._engine)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a write transaction: committed when the block succeeds, rolled
        back when it raises.

        On SQLite the transaction holds the database's write lock from its start, so
        keep the block short and never wait on the network inside it."""
        with _value_errors(), self._writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or after forking)."""
        self._engine.dispose()

    def scheduler_lock(self, **options: Any) -> SchedulerLock:
        """The lock that lets one scheduler at a time run jobs on this database (see
        :mod:`hub.core.scheduler_lock`; ``options`` are its keyword arguments)."""
        return SchedulerLock(self._engine, self.clock, **options)

    @contextlib.contextmanager
    def _changing_catalog(self) -> Iterator[Session]:
        """A write transaction that changes the catalog: it raises the catalog's
        version with the change, and this process's cached catalog is emptied once it
        is over."""
        try:
            with self.transaction() as s:
                yield s
                s.execute(update(CatalogStateRow).values(version=CatalogStateRow.version + 1))
        finally:
            self._catalog.clear()

    def _catalog_version(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(_CATALOG_VERSION).scalar_one()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Session]:
        with _value_errors(), self._reads() as session:
            yield session

    @contextlib.contextmanager
    def _within(self, session: Session | None) -> Iterator[Session]:
        """The caller's session (its transaction, its commit), or a transaction of our own."""
        if session is not None:
            with _value_errors():
                yield session
        else:
            with self.transaction() as own:
                yield own

    # -- communities, buildings, zones, gates ----------------------------------------

    def add_community(self, community: Community) -> Community:
        """Store a community with its buildings.

        :raises Conflict: the id exists, or a building id is listed twice.
        """
        _check_buildings(community)
        with _conflict_on_integrity(f"community {community.id!r} already exists"), self._changing_catalog() as s:
            if s.get(CommunityRow, community.id) is not None:
                raise Conflict(f"community {community.id!r} already exists")
            row = CommunityRow(id=community.id, created_at=self.clock.now())
            rows.fill_community(row, community)
            s.add(row)
        return community

    def update_community(self, community: Community) -> Community:
        """Replace a community's fields, policy and buildings.

        :raises NotFound: no community has this id.
        """
        _check_buildings(community)
        with self._changing_catalog() as s:
            row = _one(s, _community_query(community.id), f"community {community.id!r} not found")
            rows.fill_community(row, community)
        return community

    def get_community(self, community_id: str) -> Community:
        return self._catalog.get("community", community_id, lambda: self._load_community(community_id))

    def _load_community(self, community_id: str) -> Community:
        with self._reading() as s:
            return rows.community_model(
                _one(s, _community_query(community_id), f"community {community_id!r} not found")
            )

    def list_communities(self, *, connection_id: str | None = None) -> list[Community]:
        """Every community, by id; with ``connection_id``, those the connection serves."""
        query = select(CommunityRow).options(selectinload(CommunityRow.buildings)).order_by(CommunityRow.id)
        if connection_id is not None:
            query = query.join(CommunityConnectionRow, CommunityConnectionRow.community_id == CommunityRow.id).where(
                CommunityConnectionRow.connection_id == connection_id
            )
        with self._reading() as s:
            return [rows.community_model(row) for row in s.scalars(query)]

    def add_zone(self, community_id: str, zone: Zone) -> Zone:
        """Mark an area of a community.

        :raises NotFound: unknown community. :raises Conflict: the zone id is taken there.
        """
        message = f"zone {zone.id!r} already exists in community {community_id!r}"
        with _conflict_on_integrity(message), self._changing_catalog() as s:
            _require(s, CommunityRow, community_id, "community")
            if s.get(ZoneRow, (community_id, zone.id)) is not None:
                raise Conflict(message)
            s.add(rows.zone_row(community_id, zone))
        return zone

    def list_zones(self, community_id: str) -> list[Zone]:
        return list(self._catalog.get("zones", community_id, lambda: self._load_zones(community_id)))

    def _load_zones(self, community_id: str) -> tuple[Zone, ...]:
        with self._reading() as s:
            found = s.scalars(
                select(ZoneRow).where(ZoneRow.community_id == community_id).order_by(ZoneRow.kind, ZoneRow.id)
            )
            return tuple(rows.zone_model(row) for row in found)

    def get_zone(self, community_id: str, zone_id: str) -> Zone:
        """One marked area of a community.

        :raises NotFound: no zone has this id in this community.
        """
        with self._reading() as s:
            return rows.zone_model(_require_zone(s, community_id, zone_id))

    def update_zone(self, community_id: str, zone: Zone) -> Zone:
        """Replace the kind, name, points and notes of a community's zone (found by
        ``zone.id``).

        :raises NotFound: no zone has this id in this community.
        """
        with self._changing_catalog() as s:
            row = _require_zone(s, community_id, zone.id)
            row.kind = zone.kind
            row.name = zone.name
            row.points = [list(point) for point in zone.points]
            row.notes = zone.notes
        return zone

    def remove_zone(self, community_id: str, zone_id: str) -> None:
        """Remove a community's zone.

        :raises NotFound: no zone has this id in this community.
        """
        with self._changing_catalog() as s:
            s.delete(_require_zone(s, community_id, zone_id))

    def add_gate(self, gate: Gate) -> Gate:
        """Store a gate.

        :raises NotFound: unknown community or access connection.
        :raises Conflict: the gate id or the gate code is taken.
        """
        with (
            _conflict_on_integrity(f"gate {gate.id!r} or code {gate.code!r} already exists"),
            self._changing_catalog() as s,
        ):
            _require(s, CommunityRow, gate.community_id, "community")
            if gate.access_connection_id is not None:
                _require(s, ConnectionRow, gate.access_connection_id, "access connection")
            clash = s.execute(select(GateRow.id).where(or_(GateRow.id == gate.id, GateRow.code == gate.code))).first()
            if clash is not None:
                if clash.id == gate.id:
                    raise Conflict(f"gate {gate.id!r} already exists")
                raise Conflict(f"gate code {gate.code!r} is already used by gate {clash.id!r}")
            s.add(
                GateRow(
                    id=gate.id,
                    community_id=gate.community_id,
                    name=gate.name,
                    code=gate.code,
                    door_no=gate.door_no,
                    access_connection_id=gate.access_connection_id,
                )
            )
        return gate

    def update_gate(self, gate: Gate) -> Gate:
        """Replace a gate's name, code, door number and access connection. A gate stays
        in its community: it is found by ``gate.id`` among ``gate.community_id``'s gates.

        :raises NotFound: no gate has this id in this community, or unknown access
            connection.
        :raises Conflict: another gate uses the code.
        """
        message = f"gate code {gate.code!r} is already used by another gate"
        with _conflict_on_integrity(message), self._changing_catalog() as s:
            row = _one(
                s,
                select(GateRow).where(GateRow.id == gate.id, GateRow.community_id == gate.community_id),
                f"gate {gate.id!r} not found in community {gate.community_id!r}",
            )
            if gate.access_connection_id is not None:
                _require(s, ConnectionRow, gate.access_connection_id, "access connection")
            clash = s.scalar(select(GateRow.id).where(GateRow.code == gate.code, GateRow.id != gate.id))
            if clash is not None:
                raise Conflict(f"gate code {gate.code!r} is already used by gate {clash!r}")
            row.name = gate.name
            row.code = gate.code
            row.door_no = gate.door_no
            row.access_connection_id = gate.access_connection_id
        return gate

    def get_gate(self, gate_id: str) -> Gate:
        return self._catalog.get("gate", gate_id, lambda: self._load_gate(GateRow.id, gate_id, "gate {!r} not found"))

    def gate_by_code(self, code: str) -> Gate:
        return self._catalog.get(
            "gate_code", code, lambda: self._load_gate(GateRow.code, code, "no gate has code {!r}")
        )

    def _load_gate(self, column: Any, value: str, missing: str) -> Gate:
        # The query is built only on a cache miss: a hit costs a dictionary lookup.
        with self._reading() as s:
            return rows.gate_model(_one(s, select(GateRow).where(column == value), missing.format(value)))

    def list_gates(self, community_id: str | None = None, *, access_connection_id: str | None = None) -> list[Gate]:
        """The gates (of one community, of one access connection), by community and id."""
        query = select(GateRow).order_by(GateRow.community_id, GateRow.id)
        if community_id is not None:
            query = query.where(GateRow.community_id == community_id)
        if access_connection_id is not None:
            query = query.where(GateRow.access_connection_id == access_connection_id)
        with self._reading() as s:
            return [rows.gate_model(row) for row in s.scalars(query)]

    # -- connections -----------------------------------------------------------------

    def add_connection(
        self, connection: Connection, secret_names: Collection[str], community_ids: Collection[str] = ()
    ) -> Connection:
        """Store a connection; the settings named in ``secret_names`` are encrypted.

        :param community_ids: communities the connection serves from now on.
        :raises Conflict: the id exists. :raises NotFound: an unknown community.
        """
        with _conflict_on_integrity(f"connection {connection.id!r} already exists"), self._changing_catalog() as s:
            if s.get(ConnectionRow, connection.id) is not None:
                raise Conflict(f"connection {connection.id!r} already exists")
            for community_id in community_ids:
                _require(s, CommunityRow, community_id, "community")
            row = ConnectionRow(id=connection.id, created_at=self.clock.now())
            self._fill_connection(row, connection, secret_names)
            s.add(row)
            # The connection row must exist before rows that reference it.
            s.flush()
            s.add_all(CommunityConnectionRow(community_id=c, connection_id=connection.id) for c in set(community_ids))
        return connection

    def update_connection(self, connection: Connection, secret_names: Collection[str]) -> Connection:
        """Replace a connection's plugin, name, settings (secrets re-encrypted with the
        first key), timeout, freshness and enabled flag.

        :raises NotFound: no connection has this id.
        """
        with self._changing_catalog() as s:
            row = _require(s, ConnectionRow, connection.id, "connection")
            self._fill_connection(row, connection, secret_names)
        return connection

    def get_connection(self, connection_id: str) -> Connection:
        """A connection with its settings and decrypted secrets merged."""
        return self._catalog.get("connection", connection_id, lambda: self._load_connection(connection_id))

    def _load_connection(self, connection_id: str) -> Connection:
        with self._reading() as s:
            return self._connection_model(_require(s, ConnectionRow, connection_id, "connection"))

    def list_connections(self) -> list[Connection]:
        with self._reading() as s:
            return [self._connection_model(row) for row in s.scalars(select(ConnectionRow).order_by(ConnectionRow.id))]

    def connections_for_community(self, community_id: str) -> list[Connection]:
        """The connections linked to a community (empty for an unknown community)."""
        load = functools.partial(self._load_community_connections, community_id)
        return list(self._catalog.get("community_connections", community_id, load))

    def _load_community_connections(self, community_id: str) -> tuple[Connection, ...]:
        query = (
            select(ConnectionRow)
            .join(CommunityConnectionRow, CommunityConnectionRow.connection_id == ConnectionRow.id)
            .where(CommunityConnectionRow.community_id == community_id)
            .order_by(ConnectionRow.id)
        )
        with self._reading() as s:
            return tuple(self._connection_model(row) for row in s.scalars(query))

    def link_connection(self, community_id: str, connection_id: str) -> None:
        """Let a connection serve a community; linking twice is a no-op.

        :raises NotFound: unknown community or connection.
        """
        with self._changing_catalog() as s:
            _require(s, CommunityRow, community_id, "community")
            _require(s, ConnectionRow, connection_id, "connection")
            stmt = insert_for(s, CommunityConnectionRow).values(community_id=community_id, connection_id=connection_id)
            s.execute(stmt.on_conflict_do_nothing())

    def connection_community_ids(self) -> dict[str, list[str]]:
        """For every linked connection, the ids of the communities it serves."""
        query = select(CommunityConnectionRow).order_by(
            CommunityConnectionRow.connection_id, CommunityConnectionRow.community_id
        )
        links: dict[str, list[str]] = {}
        with self._reading() as s:
            for row in s.scalars(query):
                links.setdefault(row.connection_id, []).append(row.community_id)
        return links

    def unlink_connection(self, community_id: str, connection_id: str) -> None:
        """Stop a connection serving a community; a link that does not exist is a no-op."""
        with self._changing_catalog() as s:
            s.execute(
                delete(CommunityConnectionRow).where(
                    CommunityConnectionRow.community_id == community_id,
                    CommunityConnectionRow.connection_id == connection_id,
                )
            )

    def rotate_secrets(self) -> int:
        """Re-encrypt every connection's secrets (and every console user's TOTP secret)
        with the first key, so older keys can be dropped from the configuration. Returns
        how many connections were updated."""
        with self._changing_catalog() as s:
            sealed = s.scalars(select(ConnectionRow).where(ConnectionRow.secrets.is_not(None))).all()
            for row in sealed:
                row.secrets = self._box.rotate(row.secrets or "", owner=f"connection {row.id}")
            for user in s.scalars(select(UserRow).where(UserRow.totp_secret.is_not(None))):
                user.totp_secret = self._box.rotate(user.totp_secret or "", owner=f"user {user.username}")
            return len(sealed)

    def _fill_connection(self, row: ConnectionRow, connection: Connection, secret_names: Collection[str]) -> None:
        names = set(secret_names)
        hidden = {k: v for k, v in connection.settings.items() if k in names}
        row.plugin = connection.plugin
        row.name = connection.name
        row.settings = {k: v for k, v in connection.settings.items() if k not in names}
        row.secrets = self._box.encrypt(hidden, owner=f"connection {connection.id}") if hidden else None
        row.timeout_s = connection.timeout_s
        row.freshness_s = connection.freshness_s
        row.enabled = connection.enabled

    def _connection_model(self, row: ConnectionRow) -> Connection:
        settings = dict(row.settings)
        if row.secrets is not None:
            settings.update(self._box.decrypt(row.secrets, owner=f"connection {row.id}"))
        return Connection(
            id=row.id,
            plugin=row.plugin,
            name=row.name,
            # Read-only: the same connection is shared by every reader of the cache.
            settings=types.MappingProxyType(settings),
            timeout_s=row.timeout_s,
            freshness_s=row.freshness_s,
            enabled=row.enabled,
        )

    # -- orders and pushes -----------------------------------------------------------

    def upsert_order(self, connection_id: str, order: Order, source: str, session: Session | None = None) -> None:
        """Record the platform's report of an order (``source``: push, poll or entry),
        received now.

        A report older than the stored state (by ``updated_at``, e.g. a late push) is
        ignored, so out-of-order pushes never roll an order back.
        """
        if source not in ORDER_SOURCES:
            raise ValueError(f"order source must be one of {', '.join(ORDER_SOURCES)}, not {source!r}")
        with self._within(session) as s:
            _upsert_orders(s, connection_id, [order], source, self.clock.now(), confirm=True)

    def fresh_orders(
        self,
        connection_id: str,
        received_after: datetime,
        *,
        refs: Collection[str] = (),
        rider_ref: str | None = None,
    ) -> list[Order]:
        """Orders of a connection the platform reported after ``received_after``: those
        named in ``refs``, or else those of ``rider_ref`` (both filters apply when both
        are given).

        :raises ValueError: neither ``refs`` nor ``rider_ref`` given; never every order.
        """
        query = select(OrderRow).where(OrderRow.connection_id == connection_id, OrderRow.received_at > received_after)
        if refs:
            query = query.where(OrderRow.ref.in_(sorted(set(refs))))
        if rider_ref is not None:
            query = query.where(OrderRow.rider_ref == rider_ref)
        if not refs and rider_ref is None:
            raise ValueError("fresh_orders needs refs or a rider_ref")
        with self._reading() as s:
            return [rows.order_model(row) for row in s.scalars(query.order_by(OrderRow.ref))]

    def record_push_event(self, connection_id: str, event_id: str, session: Session | None = None) -> bool:
        """Remember a push event; ``False`` when it was seen before (drop the repeat).

        Race-safe: of two concurrent deliveries of one event exactly one gets ``True``.
        """
        with self._within(session) as s:
            stmt = insert_for(s, PushEventRow).values(
                connection_id=connection_id, event_id=event_id, received_at=self.clock.now()
            )
            # RETURNING rather than rowcount, which drivers report unreliably here.
            return s.execute(stmt.on_conflict_do_nothing().returning(PushEventRow.id)).first() is not None

    def apply_push(self, connection_id: str, events: Sequence[PushEvent], actor: str) -> list[PushEvent]:
        """Store the events of an accepted push, in one transaction, and return those
        not seen before (repeats are dropped by event id).

        An order's new state is recorded as pushed now, so the entry engine may use it
        within the connection's freshness window. A delivered or cancelled order
        shortens the live passes of the entries it let in to the community's exit grace
        from the delivery, unless the entry still has another unfinished order. One
        audit record ``push.applied`` lists the event ids; each shortened pass gets
        ``pass.shortened``. A door event sets its entry's entry or exit time, as
        :meth:`record_door_events` does.
        """
        now = self.clock.now()
        with self.transaction() as s:
            fresh = [e for e in events if self.record_push_event(connection_id, e.event_id, session=s)]
            orders = [e.order for e in fresh if e.order is not None]
            records = _record_orders(s, connection_id, orders, "push", now, actor)
            # Door events take the same path as those the doors.events job reads.
            door_events = [e.access_event for e in fresh if e.access_event is not None]
            records += _apply_door_events(s, connection_id, door_events, actor, now)[1]
            if fresh:
                applied = {"connection": connection_id, "events": [e.event_id for e in fresh]}
                records.insert(0, audit.AuditRecord(actor, "push.applied", connection_id, applied))
                audit.append_many(s, records, now)
        return fresh

    def claim_single_use(self, connection_id: str, code_id: str, expires_at: datetime) -> bool:
        """Accept a single-use credential; ``False`` when it was used before.

        Race-safe: of two concurrent uses of one code exactly one gets ``True``.
        """
        with self.transaction() as s:
            stmt = insert_for(s, SingleUseCodeRow).values(
                connection_id=connection_id, code_id=code_id, used_at=self.clock.now(), expires_at=expires_at
            )
            return s.execute(stmt.on_conflict_do_nothing().returning(SingleUseCodeRow.id)).first() is not None

    # -- entries ---------------------------------------------------------------------

    def find_idempotent(self, key: str) -> tuple[Entry, str] | None:
        """The entry stored under an idempotency key, with the request fingerprint it
        was stored with; ``None`` when the key is new."""
        with self._reading() as s:
            # Most keys are new: ask with an indexed one-column read first.
            if s.scalar(_IDEMPOTENCY_KEY_KNOWN, {"key": key}) is None:
                return None
            row = s.scalars(_entry_query().where(EntryRow.idempotency_key == key)).first()
            if row is None:
                return None
            return rows.entry_model(row), row.fingerprint or ""

    def count_entries(self, connection_id: str, rider_ref: str, since: datetime) -> int:
        """How many entries (any decision) a platform's rider had since ``since``."""
        params = {"connection_id": connection_id, "rider_ref": rider_ref, "since": since}
        with self._reading() as s:
            return s.scalar(_COUNT_RIDER_ENTRIES, params) or 0

    def save_entry(
        self,
        entry: Entry,
        *,
        rider: RiderIdentity | None,
        orders: Sequence[Order],
        idempotency_key: str | None,
        fingerprint: str | None,
        actions: Sequence[AuditAction],
        outbox: Sequence[OutboxItem],
        actor: str,
    ) -> Entry:
        """Commit a decided entry and everything that belongs to it, all or nothing.

        In one transaction: the rider (masked fields only), the orders the decision used
        (new ones recorded with source ``entry``; known ones updated when newer, without
        extending how fresh they count, which only the platform can do), the entry, its
        pass and hook calls, the outbox items, and the audit records: ``entry.decided``
        (no personal data) and one per action.

        :raises Conflict: the idempotency key (or entry id) is already stored, e.g. by a
            concurrent duplicate request; nothing of this entry was stored, and the
            caller re-reads with :meth:`find_idempotent`.
        """
        rider_ref = rider.platform_ref if rider is not None else entry.rider_ref
        if rider is not None and entry.rider_ref and entry.rider_ref != rider.platform_ref:
            raise ValueError(
                f"entry {entry.id} names rider {entry.rider_ref!r} but rider {rider.platform_ref!r} was given"
            )
        now = self.clock.now()
        records = [_decided_record(entry, actor), *(_action_record(entry, a, actor) for a in actions)]
        try:
            with self.transaction() as s:
                rider_id = _upsert_rider(s, entry.connection_id, rider_ref, rider, now) if rider_ref else None
                _upsert_orders(s, entry.connection_id, orders, "entry", now, confirm=False)
                rows.insert_entry(s, entry, rider_id, idempotency_key, fingerprint)
                outbox_queue.enqueue(s, outbox, now)
                # Last: on PostgreSQL the audit append holds a lock until commit.
                audit.append_many(s, records, now)
        except IntegrityError as exc:
            conflict = self._duplicate_entry(entry.id, idempotency_key)
            if conflict is None:
                raise
            raise conflict from exc
        return entry

    def get_entry(self, entry_id: str) -> Entry:
        """An entry with its pass and hook calls."""
        with self._reading() as s:
            return rows.entry_model(
                _one(s, _entry_query().where(EntryRow.id == entry_id), f"entry {entry_id!r} not found")
            )

    def list_entries(
        self,
        *,
        community_ids: Collection[str] | None = None,
        gate_id: str | None = None,
        connection_id: str | None = None,
        decision: Decision | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[Entry]:
        """Entries newest first (by creation time, then id), for the console.

        :param community_ids: only these communities' entries; ``None``: every community.
        :param since: created at or after this; ``until``: created before this.
        :param before: the creation time and id of the last entry of the page before
            (keyset paging: later pages cost the same as the first).
        :raises ValueError: an unknown decision, or ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = _entry_query().order_by(EntryRow.created_at.desc(), EntryRow.id.desc()).limit(limit)
        if community_ids is not None:
            query = query.where(EntryRow.community_id.in_(sorted(set(community_ids))))
        if gate_id is not None:
            query = query.where(EntryRow.gate_id == gate_id)
        if connection_id is not None:
            query = query.where(EntryRow.connection_id == connection_id)
        if decision is not None:
            query = query.where(EntryRow.decision == Decision(decision).value)
        if since is not None:
            query = query.where(EntryRow.created_at >= since)
        if until is not None:
            query = query.where(EntryRow.created_at < until)
        if before is not None:
            at, entry_id = before
            query = query.where(or_(EntryRow.created_at < at, and_(EntryRow.created_at == at, EntryRow.id < entry_id)))
        with self._reading() as s:
            return [rows.entry_model(row) for row in s.scalars(query).unique()]

    def entry_rider(self, entry_id: str) -> RiderIdentity | None:
        """The rider of an entry as stored (masked name and phone only); ``None`` when
        the entry has no rider (never verified, or purged after the retention period).

        :raises NotFound: no entry has this id.
        """
        query = select(EntryRow.id, RiderRow).outerjoin(RiderRow, RiderRow.id == EntryRow.rider_id)
        with self._reading() as s:
            found = s.execute(query.where(EntryRow.id == entry_id)).first()
            if found is None:
                raise NotFound(f"entry {entry_id!r} not found")
            rider = found[1]
            if rider is None:
                return None
            return RiderIdentity(rider.platform_ref, rider.masked_name, rider.masked_phone, RiderStatus(rider.status))

    def get_orders(self, connection_id: str, refs: Sequence[str]) -> list[Order]:
        """A connection's stored orders named in ``refs``, in the order of ``refs``;
        refs not stored are left out."""
        if not refs:
            return []
        query = select(OrderRow).where(OrderRow.connection_id == connection_id, OrderRow.ref.in_(sorted(set(refs))))
        with self._reading() as s:
            found = {row.ref: rows.order_model(row) for row in s.scalars(query)}
        return [found[ref] for ref in dict.fromkeys(refs) if ref in found]

    def record_guard_decision(
        self, entry_id: str, decision: Decision | str, actor: str, reason: str | None = None
    ) -> Entry:
        """A guard's answer to a manual check: the entry becomes ``granted`` or
        ``denied``, audited as ``entry.guard_decided``.

        A grant clears the manual-check reasons (the guard lets the rider in; no device
        pass is issued). A denial gets the reason ``guard_denied``, with ``reason`` (the
        guard's words, shown to the rider) appended when given.

        :raises ValueError: ``decision`` is neither granted nor denied.
        :raises NotFound: no entry has this id.
        :raises Conflict: the entry is not (or no longer) waiting for a manual check;
            of two guards deciding at once, the second gets this.
        """
        decision = Decision(decision)
        if decision is Decision.MANUAL_CHECK:
            raise ValueError("a guard decides granted or denied, not manual_check")
        reasons = () if decision is Decision.GRANTED else (_guard_denied(reason),)
        now = self.clock.now()
        with self.transaction() as s:
            # One conditional UPDATE, so two guards racing cannot both decide.
            changed = s.execute(
                update(EntryRow)
                .where(EntryRow.id == entry_id, EntryRow.decision == Decision.MANUAL_CHECK.value)
                .values(decision=decision.value, reasons=[{"code": r.code, "zh": r.zh, "en": r.en} for r in reasons])
                .returning(EntryRow.community_id, EntryRow.gate_id)
            ).first()
            if changed is None:
                current = s.scalar(select(EntryRow.decision).where(EntryRow.id == entry_id))
                if current is None:
                    raise NotFound(f"entry {entry_id!r} not found")
                raise Conflict(f"entry {entry_id} is {current}, not waiting for a manual check")
            # Codes and ids only, like entry.decided: the guard's words stay with the entry.
            data = {
                "decision": decision.value,
                "previous": Decision.MANUAL_CHECK.value,
                "reasons": [r.code for r in reasons],
                "community": changed.community_id,
                "gate": changed.gate_id,
            }
            audit.append(s, actor, "entry.guard_decided", entry_id, data, now)
        return self.get_entry(entry_id)

    def _duplicate_entry(self, entry_id: str, idempotency_key: str | None) -> Conflict | None:
        with self._reading() as s:
            if idempotency_key is not None:
                other = s.scalar(select(EntryRow.id).where(EntryRow.idempotency_key == idempotency_key))
                if other is not None:
                    return Conflict(f"idempotency key already used by entry {other}")
            if s.get(EntryRow, entry_id) is not None:
                return Conflict(f"entry {entry_id} is already stored")
        return None

    def record_exit(self, entry_id: str, actor: str) -> tuple[Entry, bool]:
        """Record that the rider of an entry left, now; ``True`` with the entry when
        this call recorded it, ``False`` when an earlier one had (its time is kept).

        The first time, in one transaction: ``entries.exited_at``, the entry's pass cut
        to end now (whether or not its device can be reached, the hub no longer counts
        it valid; the device is told separately, see :meth:`record_pass_revocation`) and
        an ``entry.exited`` audit record.

        :raises NotFound: no entry has this id.
        """
        now = self.clock.now()
        with self.transaction() as s:
            # A conditional UPDATE, so that of two concurrent calls exactly one records.
            marked = s.execute(
                update(EntryRow)
                .where(EntryRow.id == entry_id, EntryRow.exited_at.is_(None))
                .values(exited_at=now)
                .returning(EntryRow.community_id, EntryRow.gate_id, EntryRow.connection_id)
            ).first()
            if marked is not None:
                ended = s.execute(
                    update(PassRow)
                    .where(PassRow.entry_id == entry_id, PassRow.valid_until > now)
                    .values(valid_until=now)
                    .returning(PassRow.id)
                ).first()
                data = {
                    "community": marked.community_id,
                    "gate": marked.gate_id,
                    "connection": marked.connection_id,
                    "pass_ended": ended is not None,
                }
                audit.append(s, actor, "entry.exited", entry_id, data, now)
            row = _one(s, _entry_query().where(EntryRow.id == entry_id), f"entry {entry_id!r} not found")
            return rows.entry_model(row), marked is not None

    def record_pass_revocation(
        self,
        entry_id: str,
        *,
        confirmed: bool,
        actions: Sequence[AuditAction],
        actor: str,
        error: str | None = None,
    ) -> None:
        """Record an attempt to take an entry's pass back at its device: the audit
        records of the attempt (``actions``), and ``passes.revoked_at`` when the device
        ``confirmed`` (kept from the first confirmation).

        An unconfirmed attempt on a pass not revoked yet adds one to
        ``passes.revoke_attempts`` and keeps ``error`` (the latest) in
        ``passes.revoke_error``; the expiry job retries the pass. The attempt that makes
        :data:`~hub.core.revocation.MAX_ATTEMPTS` is audited ``pass.revoke_given_up``.

        :raises NotFound: the entry has no pass.
        """
        now = self.clock.now()
        with self.transaction() as s:
            grant = s.scalars(select(PassRow).where(PassRow.entry_id == entry_id)).one_or_none()
            if grant is None:
                raise NotFound(f"entry {entry_id!r} has no pass")
            if confirmed and grant.revoked_at is None:
                grant.revoked_at = now
            records = [
                audit.AuditRecord(
                    actor, a.action, a.subject or grant.id, {**a.data, "connection": a.connection_id, "entry": entry_id}
                )
                for a in actions
            ]
            if not confirmed and grant.revoked_at is None:
                error = (error or "the device did not confirm")[:300]
                # In SQL, so that two failing attempts at once both count.
                attempts = s.execute(
                    update(PassRow)
                    .where(PassRow.id == grant.id)
                    .values(revoke_attempts=PassRow.revoke_attempts + 1, revoke_error=error)
                    .returning(PassRow.revoke_attempts)
                ).scalar_one()
                if attempts == MAX_ATTEMPTS:
                    data = {"connection": grant.connection_id, "entry": entry_id, "attempts": attempts, "error": error}
                    records.append(audit.AuditRecord(actor, "pass.revoke_given_up", grant.id, data))
            audit.append_many(s, records, now)

    def record_actions(self, actions: Sequence[AuditAction], *, actor: str, entry_id: str | None = None) -> None:
        """Append the audit records of calls made outside an entry's decision (a guard
        opening a gate from the console), in one transaction; each names its connection
        and, when given, the entry it was made for."""
        now = self.clock.now()
        extra = {"entry": entry_id} if entry_id else {}
        records = [
            audit.AuditRecord(actor, a.action, a.subject, {**a.data, "connection": a.connection_id, **extra})
            for a in actions
        ]
        with self.transaction() as s:
            audit.append_many(s, records, now)

    def order_buildings(self, connection_id: str, refs: Sequence[str]) -> list[str]:
        """The delivery buildings (name or door number, as the platform wrote them) of
        a connection's orders, in the order of ``refs``; orders without one, or not
        stored, are left out."""
        if not refs:
            return []
        with self._reading() as s:
            found = dict(s.execute(_ORDER_BUILDINGS, {"connection_id": connection_id, "refs": sorted(set(refs))}).all())
        return [found[ref] for ref in dict.fromkeys(refs) if found.get(ref)]

    # -- community publishing --------------------------------------------------------

    def record_profile_digest(self, community_id: str, digest: str) -> ProfileVersion:
        """Record a community's profile digest: its version stays when the digest is the
        stored one and grows by one when it differs (the first digest is version 1).

        Race-safe: of two callers recording the same new digest, one grows the version.

        :raises NotFound: no community has this id.
        """
        with self._reading() as s:
            row = s.get(CommunityProfileRow, community_id)
            if row is not None and row.digest == digest:
                return _profile_version(row)
        now = self.clock.now()
        with self.transaction() as s:
            _require(s, CommunityRow, community_id, "community")
            stmt = insert_for(s, CommunityProfileRow).values(
                community_id=community_id, digest=digest, version=1, changed_at=now
            )
            s.execute(
                stmt.on_conflict_do_update(
                    index_elements=[CommunityProfileRow.community_id],
                    set_={"digest": digest, "version": CommunityProfileRow.version + 1, "changed_at": now},
                    where=CommunityProfileRow.digest != digest,
                )
            )
            found = s.scalars(
                select(CommunityProfileRow)
                .where(CommunityProfileRow.community_id == community_id)
                .execution_options(populate_existing=True)
            ).one()
            return _profile_version(found)

    def profile_versions(self, community_ids: Collection[str] | None = None) -> dict[str, ProfileVersion]:
        """The recorded profile version of each community (of these only, when given);
        communities whose profile was never recorded are left out."""
        query = select(CommunityProfileRow).order_by(CommunityProfileRow.community_id)
        if community_ids is not None:
            query = query.where(CommunityProfileRow.community_id.in_(sorted(set(community_ids))))
        with self._reading() as s:
            return {row.community_id: _profile_version(row) for row in s.scalars(query)}

    def community_publications(self, community_ids: Collection[str] | None = None) -> list[Publication]:
        """The latest publication of each community (of these only, when given) to each
        platform connection it was attempted on, by community and connection."""
        query = select(CommunityPublicationRow).order_by(
            CommunityPublicationRow.community_id, CommunityPublicationRow.connection_id
        )
        if community_ids is not None:
            query = query.where(CommunityPublicationRow.community_id.in_(sorted(set(community_ids))))
        with self._reading() as s:
            return [_publication(row) for row in s.scalars(query)]

    def record_publication(
        self,
        community_id: str,
        connection_id: str,
        *,
        version: int,
        digest: str,
        error: str | None,
        reason: str = "",
        actions: Sequence[AuditAction] = (),
        actor: str,
    ) -> Publication:
        """Record an attempt to publish a community's profile to a platform connection,
        made now, with its audit records (``actions``, each given the connection and the
        ``reason`` the publication was due), in one transaction.

        Accepted (``error`` is ``None``): the version and digest become the published
        ones and the error is cleared. Failed: the error is kept and what the platform
        accepted before stays as it was.

        :raises NotFound: unknown community or connection.
        """
        now = self.clock.now()
        records = [
            audit.AuditRecord(
                actor, a.action, a.subject or community_id, {**a.data, "connection": a.connection_id, "reason": reason}
            )
            for a in actions
        ]
        with self.transaction() as s:
            _require(s, CommunityRow, community_id, "community")
            _require(s, ConnectionRow, connection_id, "connection")
            row = s.get(CommunityPublicationRow, (community_id, connection_id))
            if row is None:
                row = CommunityPublicationRow(community_id=community_id, connection_id=connection_id)
                s.add(row)
            row.attempted_at = now
            row.error = error
            if error is None:
                row.published_version = version
                row.published_digest = digest
                row.published_at = now
            s.flush()
            publication = _publication(row)
            audit.append_many(s, records, now)
        return publication

    # -- door events -----------------------------------------------------------------

    def record_door_events(
        self,
        connection_id: str,
        events: Sequence[AccessEvent],
        actor: str,
        *,
        gate_id: str | None = None,
        since: datetime | None = None,
    ) -> DoorEventsResult:
        """Turn door events of an access connection into entries' entry and exit times,
        in one transaction (see :mod:`hub.core.doors` for how an event finds its entry);
        each time set is audited (``entry.entered``, ``entry.exited``). Repeats change
        nothing.

        :param gate_id: the gate the events were read at (a poll); otherwise each event's
            ``gate_id``, or its ``door_no`` among the connection's gates, names it.
        :param since: with ``gate_id``, the time the events were read from: the gate's
            cursor (:meth:`door_cursor`) moves to the latest event (but never past now,
            nor back), or to ``since`` when there was none, with the events.
        """
        now = self.clock.now()
        with self.transaction() as s:
            result, records = _apply_door_events(s, connection_id, events, actor, now, gate_id)
            if gate_id is not None and since is not None:
                latest = max([since, *(min(e.occurred_at, now) for e in events)])
                _advance_cursor(s, doors.cursor_name(gate_id), latest, now)
            audit.append_many(s, records, now)
        return result

    def door_cursor(self, gate_id: str) -> datetime | None:
        """The time of the latest door event read at a gate (``None``: never read)."""
        with self._reading() as s:
            row = s.get(SyncCursorRow, doors.cursor_name(gate_id))
            return None if row is None else datetime.fromisoformat(row.value)

    # -- passes: reconciliation and expiry ---------------------------------------------

    def orders_to_reconcile(self, limit: int = 1000, *, connection_id: str | None = None) -> list[tuple[str, str]]:
        """The orders the reconciliation job should ask their platform about, as
        ``(connection id, order ref)``, those not heard of the longest first, at most
        ``limit``.

        They are the orders of entries with a live pass (not revoked, not ended) through
        an enabled connection that the hub does not know, or knows as not final from a
        report older than the connection's freshness window (a recent push or poll is
        trusted, so an order is asked about at most once per window). With
        ``connection_id``: that connection's orders only.

        :raises ValueError: ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        now = self.clock.now()
        live = self._live_entries(now).add_columns(EntryRow.order_refs, ConnectionRow.freshness_s)
        if connection_id is not None:
            live = live.where(EntryRow.connection_id == connection_id)
        due: list[tuple[datetime | None, str, str]] = []
        with self._reading() as s:
            wanted: dict[str, set[str]] = {}
            freshness: dict[str, int] = {}
            for connection_id, refs, freshness_s in s.execute(live):
                wanted.setdefault(connection_id, set()).update(refs or ())
                freshness[connection_id] = freshness_s
            for connection_id, refs in wanted.items():
                stale = now - timedelta(seconds=freshness[connection_id])
                ordered = sorted(refs)
                known = {}
                for start in range(0, len(ordered), 500):
                    known.update(
                        (row.ref, row)
                        for row in s.execute(
                            select(OrderRow.ref, OrderRow.status, OrderRow.received_at).where(
                                OrderRow.connection_id == connection_id, OrderRow.ref.in_(ordered[start : start + 500])
                            )
                        )
                    )
                for ref in ordered:
                    row = known.get(ref)
                    if row is None or (not OrderStatus(row.status).final and row.received_at <= stale):
                        due.append((row.received_at if row is not None else None, connection_id, ref))
        due.sort(key=lambda d: (d[0] is not None, d[0] or now, d[1], d[2]))
        return [(connection_id, ref) for _, connection_id, ref in due[:limit]]

    def _live_entries(self, now: datetime) -> Select[Any]:
        """The connection of each entry with a live pass through an enabled connection."""
        return (
            select(EntryRow.connection_id)
            .join(PassRow, PassRow.entry_id == EntryRow.id)
            .join(ConnectionRow, ConnectionRow.id == EntryRow.connection_id)
            .where(PassRow.revoked_at.is_(None), PassRow.valid_until > now, ConnectionRow.enabled)
        )

    def reconcile_connections(self) -> list[str]:
        """The connections :meth:`orders_to_reconcile` may find orders of: those with an
        entry whose pass is live (the partitions of ``orders.reconcile``)."""
        query = self._live_entries(self.clock.now()).distinct().order_by(EntryRow.connection_id)
        with self._reading() as s:
            return list(s.scalars(query))

    def apply_polled_orders(self, connection_id: str, orders: Sequence[Order], actor: str) -> int:
        """Store orders a job fetched from their platform (source ``poll``), in one
        transaction, exactly as :meth:`apply_push` stores pushed ones: fresh from now, a
        report older than the stored state ignored, and a delivered or cancelled order
        cutting the live passes of the entries it let in to the community's exit grace
        (each audited ``pass.shortened``). Returns how many passes were cut; storing the
        same answers again cuts nothing more."""
        now = self.clock.now()
        with self.transaction() as s:
            records = _record_orders(s, connection_id, orders, "poll", now, actor)
            audit.append_many(s, records, now)
        return len(records)

    def passes_to_revoke(
        self, limit: int = 200, *, connection_id: str | None = None, without_device: bool = False
    ) -> list[ExpiredPass]:
        """Passes past their end, not revoked, that are due to be taken back at their
        device, at most ``limit``: those never tried first (the longest ended first), then
        those whose latest failed attempt (the latest ``access.revoked*`` audit record
        of the pass) is at least :func:`~hub.core.revocation.retry_after` ago. Passes
        given up on (:data:`~hub.core.revocation.MAX_ATTEMPTS` failures) are left out.
        With ``connection_id``: only the passes of that device connection; with
        ``without_device``: only passes that have none (a guard's).

        :raises ValueError: ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        now = self.clock.now()
        query = (
            select(PassRow)
            .where(*_expired_passes(now))
            .order_by(PassRow.revoke_attempts, PassRow.valid_until, PassRow.id)
            # Some of those tried before are not due yet: read more than will be taken.
            .limit(limit * 4)
        )
        if connection_id is not None:
            query = query.where(PassRow.connection_id == connection_id)
        if without_device:
            query = query.where(PassRow.connection_id.is_(None))
        with self._reading() as s:
            found = s.scalars(query).all()
            retried = {row.id: row.revoke_attempts for row in found if row.revoke_attempts}
            last: dict[str, datetime] = {}
            if retried:
                attempts = (
                    select(AuditRow.subject, func.max(AuditRow.at))
                    .where(
                        AuditRow.at >= now - retry_after(max(retried.values())),
                        AuditRow.action.in_(ATTEMPT_ACTIONS),
                        AuditRow.subject.in_(sorted(retried)),
                    )
                    .group_by(AuditRow.subject)
                )
                last = {subject: at for subject, at in s.execute(attempts)}
        due = []
        for row in found:
            at = last.get(row.id)
            if at is not None and at + retry_after(row.revoke_attempts) > now:
                continue
            grant = AccessGrant(row.id, row.kind, row.value, row.valid_from, row.valid_until, row.device_ref)
            due.append(ExpiredPass(row.entry_id, row.gate_id, row.connection_id, grant, row.revoke_attempts, at))
        return due[:limit]

    def revoke_connections(self) -> list[str | None]:
        """The device connections of the passes :meth:`passes_to_revoke` may list
        (``None`` for passes without a device): the partitions of ``passes.expire``."""
        query = select(PassRow.connection_id).where(*_expired_passes(self.clock.now())).distinct()
        with self._reading() as s:
            return sorted(s.scalars(query), key=lambda c: (c is None, c or ""))

    def unrevoked_passes(self, *, community_ids: Collection[str] | None = None, limit: int = 50) -> list[UnrevokedPass]:
        """Passes the device has not taken back: not revoked after one failed attempt or
        more (being retried, or given up on), the latest ended first, for the console.

        :param community_ids: only these communities' passes; ``None``: every community.
        """
        query = (
            select(PassRow, EntryRow.community_id)
            .join(EntryRow, EntryRow.id == PassRow.entry_id)
            .where(PassRow.revoked_at.is_(None), PassRow.revoke_attempts > 0)
            .order_by(PassRow.valid_until.desc(), PassRow.id)
            .limit(limit)
        )
        if community_ids is not None:
            query = query.where(EntryRow.community_id.in_(sorted(set(community_ids))))
        with self._reading() as s:
            return [
                UnrevokedPass(
                    pass_id=row.id,
                    entry_id=row.entry_id,
                    community_id=community_id,
                    gate_id=row.gate_id,
                    connection_id=row.connection_id,
                    valid_until=row.valid_until,
                    attempts=row.revoke_attempts,
                    error=row.revoke_error or "",
                    given_up=row.revoke_attempts >= MAX_ATTEMPTS,
                )
                for row, community_id in s.execute(query)
            ]

    # -- API keys ------------------------------------------------------------------

    def add_api_key(
        self,
        name: str,
        prefix: str,
        secret_hash: str,
        connection_ids: Collection[str],
        community_ids: Collection[str],
        *,
        actor: str,
    ) -> ApiKey:
        """Store an API key (see :func:`hub.core.apikeys.create`, which makes one) and
        audit ``apikey.created``.

        :raises Conflict: the name (or prefix) is taken.
        :raises NotFound: a connection or community in the scope is unknown (``*``
            stands for all of them).
        """
        message = f"an API key named {name!r} already exists"
        now = self.clock.now()
        with _conflict_on_integrity(message), self._changing_catalog() as s:
            if s.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)) is not None:
                raise Conflict(message)
            for connection_id in set(connection_ids) - {ALL}:
                _require(s, ConnectionRow, connection_id, "connection")
            for community_id in set(community_ids) - {ALL}:
                _require(s, CommunityRow, community_id, "community")
            row = ApiKeyRow(
                name=name,
                prefix=prefix,
                secret_hash=secret_hash,
                connection_ids=sorted(set(connection_ids)),
                community_ids=sorted(set(community_ids)),
                created_at=now,
            )
            s.add(row)
            s.flush()
            data = {"name": name, "connections": row.connection_ids, "communities": row.community_ids}
            audit.append(s, actor, "apikey.created", str(row.id), data, now)
            return rows.api_key_model(row)

    def api_key_by_prefix(self, prefix: str) -> tuple[ApiKey, str] | None:
        """The key with this prefix and the hash of its secret; ``None`` when unknown."""
        return self._catalog.get("api_key", prefix, lambda: self._load_api_key(prefix))

    def _load_api_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        with self._reading() as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one_or_none()
            return None if row is None else (rows.api_key_model(row), row.secret_hash)

    def list_api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones too, by name (no secrets, no hashes)."""
        with self._reading() as s:
            return [rows.api_key_model(row) for row in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.name))]

    def revoke_api_key(self, name_or_id: str, *, actor: str) -> ApiKey:
        """Revoke a key, named by its name or its id, and audit ``apikey.revoked``;
        revoking a revoked key changes nothing.

        :raises NotFound: no key has this name or id.
        """
        now = self.clock.now()
        with self._changing_catalog() as s:
            query = select(ApiKeyRow).where(ApiKeyRow.name == name_or_id)
            if name_or_id.isdigit():
                query = select(ApiKeyRow).where(or_(ApiKeyRow.name == name_or_id, ApiKeyRow.id == int(name_or_id)))
            row = _one(s, query, f"no API key is named or numbered {name_or_id!r}")
            if row.revoked_at is None:
                row.revoked_at = now
                audit.append(s, actor, "apikey.revoked", str(row.id), {"name": row.name}, now)
            return rows.api_key_model(row)

    def touch_api_key(self, key_id: int) -> None:
        """Note that a key was used just now."""
        with self.transaction() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                return
            row.last_used_at = self.clock.now()
            prefix = row.prefix
        # Not a catalog change: only this key's cached copy is out of date.
        self._catalog.forget("api_key", prefix)

    # -- audit, users, job runs ------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str = "", data: Mapping[str, Any] | None = None) -> None:
        """Append one record to the audit log, stamped now."""
        with self.transaction() as s:
            audit.append(s, actor, action, subject, data, self.clock.now())

    def verify_audit_chain(self) -> int | None:
        """The id of the first audit record that was altered or whose predecessor was
        removed; ``None`` when the log is intact."""
        with self._reading() as s:
            return audit.verify_chain(s)

    def list_audit(
        self,
        *,
        action_prefix: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[audit.StoredRecord]:
        """Audit records newest first, for the console.

        :param action_prefix: actions starting with this (``entry.`` for every entry
            action); ``actor``: this actor exactly.
        :param since: stamped at or after this; ``until``: stamped before this.
        :param before_id: the id of the last record of the page before (keyset paging).
        :raises ValueError: ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if action_prefix:
            query = query.where(AuditRow.action.startswith(action_prefix, autoescape=True))
        if actor:
            query = query.where(AuditRow.actor == actor)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        with self._reading() as s:
            return [
                audit.StoredRecord(r.id, r.at, r.actor, r.action, r.subject, dict(r.data)) for r in s.scalars(query)
            ]

    def add_user(
        self,
        username: str,
        password_hash: str,
        role: str,
        community_ids: Collection[str] = (),
        gate_ids: Collection[str] = (),
        *,
        actor: str = "cli",
    ) -> int:
        """Create a console user and audit ``user.created``; returns the new user's id.
        ``gate_ids`` narrows a guard to some gates of their communities.

        :raises ValueError: unknown role, or a gate outside the user's communities.
        :raises Conflict: the username is taken. :raises NotFound: an unknown community
            or gate.
        """
        if role not in USER_ROLES:
            raise ValueError(f"role must be one of {', '.join(USER_ROLES)}, not {role!r}")
        message = f"user {username!r} already exists"
        now = self.clock.now()
        with _conflict_on_integrity(message), self.transaction() as s:
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise Conflict(message)
            for community_id in community_ids:
                _require(s, CommunityRow, community_id, "community")
            for gate_id in gate_ids:
                gate = _require(s, GateRow, gate_id, "gate")
                if gate.community_id not in set(community_ids):
                    raise ValueError(f"gate {gate_id!r} is not in the user's communities")
            user = UserRow(username=username, password_hash=password_hash, role=role, disabled=False, created_at=now)
            s.add(user)
            s.flush()
            s.add_all(UserCommunityRow(user_id=user.id, community_id=c) for c in set(community_ids))
            s.add_all(UserGateRow(user_id=user.id, gate_id=g) for g in set(gate_ids))
            data = {"role": role, "communities": sorted(set(community_ids)), "gates": sorted(set(gate_ids))}
            audit.append(s, actor, "user.created", username, data, now)
            return user.id

    def list_users(self) -> list[dict[str, Any]]:
        """Console users without password hashes or TOTP secrets: ``id``, ``username``,
        ``role``, ``disabled``, ``totp`` (enrolled or not), ``created_at`` and the sorted
        ``community_ids`` and ``gate_ids``."""
        with self._reading() as s:
            accounts = _accounts(s, s.scalars(select(UserRow).order_by(UserRow.username)).all())
            return [
                {
                    "id": a.id,
                    "username": a.username,
                    "role": a.role.value,
                    "disabled": a.disabled,
                    "totp": a.totp,
                    "created_at": a.created_at,
                    "community_ids": sorted(a.community_ids),
                    "gate_ids": sorted(a.gate_ids),
                }
                for a in accounts
            ]

    def get_user(self, username: str) -> UserAccount:
        """One console user. :raises NotFound: no user has this name."""
        with self._reading() as s:
            row = _one(s, select(UserRow).where(UserRow.username == username), f"user {username!r} not found")
            return _accounts(s, [row])[0]

    def login_record(self, username: str) -> LoginRecord | None:
        """What signing in as ``username`` checks (the TOTP secret decrypted); ``None``
        when no user has this name."""
        with self._reading() as s:
            row = s.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()
            if row is None:
                return None
            account = _accounts(s, [row])[0]
        secret = None
        if row.totp_secret is not None:
            secret = self._box.decrypt(row.totp_secret, owner=f"user {username}")["totp"]
        return LoginRecord(account, row.password_hash, secret)

    def set_password(self, username: str, password_hash: str, *, actor: str) -> int:
        """Replace a user's password hash, end every session of theirs and audit
        ``user.password_reset``; returns how many sessions ended.

        :raises NotFound: no user has this name.
        """
        now = self.clock.now()
        with self.transaction() as s:
            user = _one(s, select(UserRow).where(UserRow.username == username), f"user {username!r} not found")
            user.password_hash = password_hash
            ended = _end_sessions(s, user.id, "password_reset", now)
            audit.append(s, actor, "user.password_reset", username, {"sessions_ended": ended}, now)
            return ended

    def set_user_disabled(self, username: str, disabled: bool, *, actor: str) -> int:
        """Disable (ending every session of theirs) or enable a user, audited as
        ``user.disabled`` or ``user.enabled``; returns how many sessions ended. Doing it
        twice changes nothing the second time.

        :raises NotFound: no user has this name.
        """
        now = self.clock.now()
        with self.transaction() as s:
            user = _one(s, select(UserRow).where(UserRow.username == username), f"user {username!r} not found")
            ended = _end_sessions(s, user.id, "disabled", now) if disabled else 0
            if user.disabled != disabled:
                user.disabled = disabled
                action = "user.disabled" if disabled else "user.enabled"
                audit.append(s, actor, action, username, {"sessions_ended": ended}, now)
            return ended

    def set_totp_secret(self, username: str, secret: str | None, *, actor: str) -> None:
        """Set (encrypted like connection secrets) or remove a user's TOTP secret,
        audited as ``user.totp_set`` or ``user.totp_removed`` (never the secret).

        :raises NotFound: no user has this name.
        """
        sealed = None if secret is None else self._box.encrypt({"totp": secret}, owner=f"user {username}")
        now = self.clock.now()
        with self.transaction() as s:
            user = _one(s, select(UserRow).where(UserRow.username == username), f"user {username!r} not found")
            user.totp_secret = sealed
            audit.append(s, actor, "user.totp_set" if secret else "user.totp_removed", username, {}, now)

    # -- console sessions and sign-in attempts -----------------------------------------

    def start_console_session(
        self, session_id: str, user_id: int, address: str, data: Mapping[str, Any] | None = None
    ) -> ConsoleSession:
        """Store a new console session and audit ``console.signed_in`` (subject: the
        username; data: the client address, the session's short id and ``data``).

        :raises NotFound: no user has this id.
        """
        now = self.clock.now()
        with self.transaction() as s:
            user = _require(s, UserRow, user_id, "user")
            s.add(ConsoleSessionRow(id=session_id, user_id=user_id, address=address, created_at=now, last_seen_at=now))
            record = {"address": address, "session": session_id[:12], **(data or {})}
            audit.append(s, f"user:{user.username}", "console.signed_in", user.username, record, now)
            account = _accounts(s, [user])[0]
        return ConsoleSession(session_id, account, address, now, now)

    def console_session(self, session_id: str) -> ConsoleSession | None:
        """A session with its user (as stored now: role, disabled, communities, gates);
        ``None`` when there is none with this id. Ended sessions are returned too: the
        caller checks ``ended_at`` and the timeouts."""
        with self._reading() as s:
            row = s.get(ConsoleSessionRow, session_id)
            if row is None:
                return None
            account = _accounts(s, [s.get_one(UserRow, row.user_id)])[0]
            return ConsoleSession(
                row.id, account, row.address, row.created_at, row.last_seen_at, row.ended_at, row.end_reason
            )

    def touch_console_session(self, session_id: str) -> None:
        """Note activity in a session now (what its idle timeout counts from)."""
        with self.transaction() as s:
            s.execute(
                update(ConsoleSessionRow)
                .where(ConsoleSessionRow.id == session_id, ConsoleSessionRow.ended_at.is_(None))
                .values(last_seen_at=self.clock.now())
            )

    def end_console_session(self, session_id: str, reason: str) -> bool:
        """End a session (``signed_out``, ``idle``, ``expired``, ...) and audit it as
        ``console.signed_out`` (or ``console.session_ended`` for any other reason);
        ``False`` when it had ended before or does not exist."""
        now = self.clock.now()
        with self.transaction() as s:
            ended = s.execute(
                update(ConsoleSessionRow)
                .where(ConsoleSessionRow.id == session_id, ConsoleSessionRow.ended_at.is_(None))
                .values(ended_at=now, end_reason=reason)
                .returning(ConsoleSessionRow.user_id)
            ).first()
            if ended is None:
                return False
            username = s.scalar(select(UserRow.username).where(UserRow.id == ended.user_id)) or ""
            action = "console.signed_out" if reason == "signed_out" else "console.session_ended"
            data = {"session": session_id[:12], "reason": reason}
            audit.append(s, f"user:{username}", action, username, data, now)
            return True

    def record_login_failure(self, username: str, address: str, reason: str) -> None:
        """Audit a failed console sign-in as ``console.sign_in_failed`` (subject: the
        username as typed; data: the client address and why, e.g. ``password``,
        ``unknown_user``, ``disabled``, ``totp``). These records are what
        :meth:`login_failures` counts."""
        data = {"address": address, "reason": reason}
        with self.transaction() as s:
            audit.append(s, "anonymous", "console.sign_in_failed", username, data, self.clock.now())

    def login_failures(
        self, since: datetime, *, username: str | None = None, address: str | None = None, limit: int = 50
    ) -> list[datetime]:
        """When console sign-ins failed since ``since``, newest first (at most
        ``limit``): for one username, not counting failures before that user's latest
        successful sign-in, or from one client address."""
        if (username is None) == (address is None):
            raise ValueError("give exactly one of username or address")
        failed = AuditRow.action == "console.sign_in_failed"
        query = select(AuditRow.at).where(failed, AuditRow.at >= since)
        if username is not None:
            last_success = (
                select(func.max(AuditRow.id))
                .where(AuditRow.action == "console.signed_in", AuditRow.subject == username, AuditRow.at >= since)
                .scalar_subquery()
            )
            query = query.where(AuditRow.subject == username, AuditRow.id > func.coalesce(last_success, 0))
        else:
            query = query.where(AuditRow.data["address"].as_string() == address)
        with self._reading() as s:
            return list(s.scalars(query.order_by(AuditRow.id.desc()).limit(limit)))

    def last_totp_step(self, username: str, since: datetime) -> int | None:
        """The TOTP time step of ``username``'s latest sign-in since ``since`` (a
        code of that step or an earlier one must not be accepted again)."""
        query = (
            select(AuditRow.data)
            .where(AuditRow.action == "console.signed_in", AuditRow.subject == username, AuditRow.at >= since)
            .order_by(AuditRow.id.desc())
        )
        with self._reading() as s:
            steps = [d.get("totp_step") for d in s.scalars(query)]
        return max((step for step in steps if isinstance(step, int)), default=None)

    # -- the console's views of entries ---------------------------------------------------

    def entry_facts(self, community_ids: Collection[str], since: datetime, until: datetime) -> list[EntryFact]:
        """The entries of these communities made in ``[since, until)``, oldest first,
        without personal data."""
        query = (
            select(
                EntryRow.id,
                EntryRow.community_id,
                EntryRow.created_at,
                EntryRow.decision,
                EntryRow.decision_ms,
                EntryRow.reasons,
            )
            .where(
                EntryRow.community_id.in_(sorted(community_ids)),
                EntryRow.created_at >= since,
                EntryRow.created_at < until,
            )
            .order_by(EntryRow.created_at)
        )
        with self._reading() as s:
            return [
                EntryFact(
                    row.id,
                    row.community_id,
                    row.created_at,
                    Decision(row.decision),
                    row.decision_ms,
                    tuple(Reason(r["code"], r["zh"], r["en"]) for r in row.reasons),
                )
                for row in s.execute(query)
            ]

    def guard_decisions(self, since: datetime) -> dict[str, datetime]:
        """When a guard decided each entry they decided since ``since``, by entry id
        (from the audit log's ``entry.guard_decided`` records)."""
        query = select(AuditRow.subject, AuditRow.at).where(
            AuditRow.action == "entry.guard_decided", AuditRow.at >= since
        )
        with self._reading() as s:
            return {subject: at for subject, at in s.execute(query)}

    def call_summaries(self, community_ids: Collection[str], since: datetime) -> dict[str, CallSummary]:
        """Per connection: the hook calls made for the entries of these communities since
        ``since``, how many failed (see :data:`hub.core.reports.FAILED_OUTCOMES`), and the
        newest failure."""
        query = (
            select(HookCallRow.connection_id, HookCallRow.outcome, HookCallRow.started_at, HookCallRow.detail)
            .join(EntryRow, EntryRow.id == HookCallRow.entry_id)
            .where(EntryRow.community_id.in_(sorted(community_ids)), EntryRow.created_at >= since)
            .order_by(HookCallRow.started_at)
        )
        found: dict[str, CallSummary] = {}
        with self._reading() as s:
            for connection_id, outcome, started_at, detail in s.execute(query):
                was = found.get(connection_id, CallSummary())
                failed = outcome in FAILED_OUTCOMES
                found[connection_id] = CallSummary(
                    calls=was.calls + 1,
                    failed=was.failed + failed,
                    last_failure_at=started_at if failed else was.last_failure_at,
                    last_failure=f"{outcome}: {detail}".strip(": ") if failed else was.last_failure,
                )
        return found

    def pending_checks(self, gate_ids: Collection[str], since: datetime, limit: int = 100) -> list[PendingCheck]:
        """Entries at these gates made since ``since`` that still wait for a guard,
        newest first, with the rider's masked name and phone."""
        query = (
            select(EntryRow, GateRow.name, ConnectionRow.name, RiderRow.masked_name, RiderRow.masked_phone)
            .join(GateRow, GateRow.id == EntryRow.gate_id)
            .join(ConnectionRow, ConnectionRow.id == EntryRow.connection_id)
            .outerjoin(RiderRow, RiderRow.id == EntryRow.rider_id)
            .where(
                EntryRow.gate_id.in_(sorted(gate_ids)),
                EntryRow.decision == Decision.MANUAL_CHECK.value,
                EntryRow.created_at >= since,
            )
            .order_by(EntryRow.created_at.desc(), EntryRow.id)
            .limit(limit)
        )
        with self._reading() as s:
            return [
                PendingCheck(
                    entry_id=row.id,
                    community_id=row.community_id,
                    gate_id=row.gate_id,
                    gate_name=gate_name,
                    connection_id=row.connection_id,
                    platform=platform,
                    created_at=row.created_at,
                    masked_name=masked_name or "",
                    masked_phone=masked_phone or "",
                    order_refs=tuple(row.order_refs),
                    reasons=tuple(Reason(r["code"], r["zh"], r["en"]) for r in row.reasons),
                )
                for row, gate_name, platform, masked_name, masked_phone in s.execute(query)
            ]

    # -- the monthly report -------------------------------------------------------------

    def monthly_report(
        self,
        timezones: Mapping[str, str],
        first: date,
        last: date,
        *,
        connection_id: str | None = None,
    ) -> MonthlyFacts:
        """The entries of these communities in the months from ``first`` to ``last``
        (both included), counted by month, community and connection. A community's month
        runs from midnight on its first day in the community's own timezone.

        Counting is done in SQL (GROUP BY a month key computed from each timezone's month
        boundaries); of the times to a decision only those at the ranks the percentiles
        need leave the database (window functions), per group and per month (see
        :func:`hub.core.reports.percentile_ranks`); denied entries' reasons are read for
        the top reason. Manual checks a guard decided are the entries with an
        ``entry.guard_decided`` audit record.

        :param timezones: each community's timezone by community id; only these
            communities are read.
        :param connection_id: only entries through this connection.
        """
        months = months_between(first, last)
        if not timezones or not months:
            return MonthlyFacts()
        facts = _month_facts(timezones, months, connection_id)
        group = (facts.c.month, facts.c.community_id, facts.c.connection_id)
        decided = facts.c.by_guard == 1
        counts = select(
            *group,
            func.count(),
            _count_if(facts.c.decision == Decision.GRANTED.value),
            _count_if(facts.c.decision == Decision.DENIED.value),
            _count_if(facts.c.decision == Decision.MANUAL_CHECK.value),
            _count_if(decided, facts.c.decision == Decision.GRANTED.value),
            _count_if(decided, facts.c.decision == Decision.DENIED.value),
        ).group_by(*group)
        ranked = select(
            *group,
            facts.c.decision_ms,
            func.row_number().over(partition_by=group, order_by=facts.c.decision_ms).label("group_rank"),
            func.count().over(partition_by=group).label("group_n"),
            func.row_number().over(partition_by=facts.c.month, order_by=facts.c.decision_ms).label("month_rank"),
            func.count().over(partition_by=facts.c.month).label("month_n"),
        ).subquery()
        wanted = select(ranked).where(
            or_(
                _wanted_rank(ranked.c.group_rank, ranked.c.group_n),
                _wanted_rank(ranked.c.month_rank, ranked.c.month_n),
            )
        )
        denials = select(*group, facts.c.reasons).where(facts.c.decision == Decision.DENIED.value)
        group_ranks: dict[tuple[str, str, str], tuple[int, dict[int, float]]] = {}
        month_ranks: dict[str, tuple[int, dict[int, float]]] = {}
        reasons: dict[tuple[str, str, str], list[tuple[Reason, ...]]] = {}
        with self._reading() as s:
            found = s.execute(counts).all()
            # A row comes when either of its ranks is wanted; keeping the other is harmless.
            for row in s.execute(wanted):
                key = (row.month, row.community_id, row.connection_id)
                group_ranks.setdefault(key, (row.group_n, {}))[1][row.group_rank] = row.decision_ms
                month_ranks.setdefault(row.month, (row.month_n, {}))[1][row.month_rank] = row.decision_ms
            for month, community_id, conn_id, given in s.execute(denials):
                reasons.setdefault((month, community_id, conn_id), []).append(
                    tuple(Reason(r["code"], r["zh"], r["en"]) for r in given)
                )
        groups = tuple(
            MonthGroup(
                month,
                community_id,
                conn_id,
                entries=entries,
                granted=granted,
                denied=denied,
                waiting=waiting,
                guard_granted=guard_granted,
                guard_denied=guard_denied,
                times=RankedTimes(*group_ranks.get((month, community_id, conn_id), (0, {}))),
                denials=tuple(reasons.get((month, community_id, conn_id), ())),
            )
            for month, community_id, conn_id, entries, granted, denied, waiting, guard_granted, guard_denied in found
        )
        return MonthlyFacts(groups, {month: RankedTimes(*ranks) for month, ranks in month_ranks.items()})

    # -- outbox ---------------------------------------------------------------------

    def lease_outbox(self, limit: int, lease_s: float, *, connection_id: str | None = None) -> list[LeasedItem]:
        """Claim up to ``limit`` due outbox items (of one connection, when given) for
        ``lease_s`` seconds, oldest due first. A claimed item is not due again until its
        lease runs out, so two deliverers never take the same item, and an item whose
        deliverer crashed is picked up again later."""
        now = self.clock.now()
        query = (
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if connection_id is not None:
            query = query.where(OutboxRow.connection_id == connection_id)
        with self.transaction() as s:
            leased = s.scalars(query).all()
            for row in leased:
                row.next_attempt_at = now + timedelta(seconds=lease_s)
            return [
                LeasedItem(r.id, r.kind, r.connection_id, dict(r.payload), r.attempts, r.request_id) for r in leased
            ]

    def outbox_connections(self) -> list[str]:
        """The connections with outbox items due now: the partitions of
        ``outbox.deliver``."""
        query = (
            select(OutboxRow.connection_id)
            .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= self.clock.now())
            .distinct()
            .order_by(OutboxRow.connection_id)
        )
        with self._reading() as s:
            return list(s.scalars(query))

    def settle_outbox(self, item_id: int, *, error: str | None = None, retry_at: datetime | None = None) -> None:
        """Record how a delivery attempt went: done (no ``error``), to be retried at
        ``retry_at``, or dead (an ``error`` and no ``retry_at``; audited as
        ``outbox.dead`` so the failure is visible)."""
        now = self.clock.now()
        with self.transaction() as s:
            row = _require(s, OutboxRow, item_id, "outbox item")
            row.attempts += 1
            row.last_error = error
            if error is None:
                row.status, row.done_at = "done", now
            elif retry_at is not None:
                row.next_attempt_at = retry_at
            else:
                row.status = "dead"
                data = {"kind": row.kind, "connection": row.connection_id, "attempts": row.attempts, "error": error}
                audit.append(s, "outbox", "outbox.dead", str(row.id), data, now)

    def outbox_counts(self) -> dict[str, int]:
        """How many outbox items are pending, done and dead: one ``COUNT … GROUP BY
        status``, answered from the ``(status, next_attempt_at)`` index; cheap enough
        for every metrics scrape (hub.core.metrics)."""
        with self._reading() as s:
            return dict(s.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())

    def dead_outbox(self, limit: int = 50) -> list[DeadItem]:
        """Outbox items given up on (``dead``), the newest first."""
        query = select(OutboxRow).where(OutboxRow.status == "dead").order_by(OutboxRow.id.desc()).limit(limit)
        with self._reading() as s:
            return [
                DeadItem(r.id, r.kind, r.connection_id, r.attempts, r.last_error or "", r.created_at)
                for r in s.scalars(query)
            ]

    def start_job_run(self, job_id: str, *, partition: str | None = None, tick: datetime | None = None) -> int:
        """Record that a scheduled job (one ``partition`` of it; ``None``: the whole
        job) started; returns the run's id. ``tick``: the scheduled time of a run that
        was enqueued (see :mod:`hub.core.tasks`)."""
        with self.transaction() as s:
            run = JobRunRow(
                job_id=job_id, started_at=self.clock.now(), items=0, errors=0, partition=partition, tick=tick
            )
            s.add(run)
            s.flush()
            return run.id

    def claim_job_task(
        self,
        job_id: str,
        partition: str | None,
        task_key: str,
        tick: datetime,
        *,
        stale_after: timedelta,
        max_attempts: int,
    ) -> JobClaim:
        """Claim a Celery task's run by its key, by the rules of :mod:`hub.core.tasks`:
        ``claimed`` (a new run was recorded) or ``taken_over`` (an unfinished run older
        than ``stale_after`` gets one more attempt, at most ``max_attempts``): run it;
        ``finished``, ``busy``, ``given_up``: skip it; ``running``: look again later.

        One transaction, serialised with every other claim of the same job and
        partition (SQLite: the write lock; PostgreSQL: an advisory transaction lock)."""
        now = self.clock.now()
        try:
            return self._claim_job_task(job_id, partition, task_key, tick, now - stale_after, max_attempts)
        except IntegrityError:  # the key was inserted meanwhile (the lock makes that unlikely)
            return JobClaim(ClaimOutcome.RUNNING, stale_in_s=1.0)

    def _claim_job_task(
        self, job_id: str, partition: str | None, task_key: str, tick: datetime, stale: datetime, max_attempts: int
    ) -> JobClaim:
        now = self.clock.now()
        same = and_(
            JobRunRow.job_id == job_id,
            JobRunRow.partition.is_(None) if partition is None else JobRunRow.partition == partition,
            JobRunRow.task_key.is_not(None),
            JobRunRow.task_key != task_key,
            JobRunRow.ended_at.is_(None),
        )
        with self.transaction() as s:
            if _dialect(s) == "postgresql":
                s.execute(_PG_CLAIM_LOCK, {"key": f"last100 job {job_id} {partition}"})
            row = s.scalars(select(JobRunRow).where(JobRunRow.task_key == task_key)).one_or_none()
            if row is not None and row.ended_at is not None:
                return JobClaim(ClaimOutcome.FINISHED, row.id, row.attempts)
            if row is not None and row.started_at > stale:
                left = (row.started_at - stale).total_seconds()
                return JobClaim(ClaimOutcome.RUNNING, row.id, row.attempts, stale_in_s=left)
            busy = s.scalars(select(JobRunRow.id).where(same, JobRunRow.started_at > stale).limit(1)).first()
            if row is not None and busy is not None:
                # Its worker died, and a later run of the partition is doing its work.
                row.ended_at, row.errors, row.error = now, 1, WORKER_LOST
                return JobClaim(ClaimOutcome.BUSY, busy, row.attempts)
            if row is not None and row.attempts >= max_attempts:
                # Every worker that ran it died: not run for ever.
                row.ended_at, row.errors = now, 1
                row.error = f"given up after {row.attempts} attempts: {WORKER_LOST}"
                return JobClaim(ClaimOutcome.GIVEN_UP, row.id, row.attempts)
            if busy is not None:
                return JobClaim(ClaimOutcome.BUSY, busy)
            # Runs of this partition whose workers died and whose tasks never came back:
            # this run does their work.
            s.execute(
                update(JobRunRow)
                .where(same, JobRunRow.started_at <= stale)
                .values(ended_at=now, errors=1, error=WORKER_LOST)
                .execution_options(synchronize_session=False)
            )
            if row is not None:
                row.started_at, row.attempts = now, row.attempts + 1
                return JobClaim(ClaimOutcome.TAKEN_OVER, row.id, row.attempts)
            run = JobRunRow(
                job_id=job_id,
                partition=partition,
                task_key=task_key,
                tick=tick,
                started_at=now,
                items=0,
                errors=0,
                attempts=1,
            )
            s.add(run)
            s.flush()
            return JobClaim(ClaimOutcome.CLAIMED, run.id, 1)

    def last_job_runs(self) -> dict[str, dict[str, Any]]:
        """The latest run of every job that ran: started, ended, items, errors, error,
        as :meth:`job_runs` gives it (a run on Celery workers adds up its partitions)."""
        latest = select(JobRunRow.job_id, func.max(JobRunRow.id).label("id")).group_by(JobRunRow.job_id).subquery()
        with self._reading() as s:
            runs = s.scalars(select(JobRunRow).join(latest, JobRunRow.id == latest.c.id)).all()
            ticks = [(r.job_id, r.tick) for r in runs if r.tick is not None]
            parts = _tick_runs(s, ticks)
            return {r.job_id: _job_run(parts.get((r.job_id, r.tick), [r]) if r.tick else [r]) for r in runs}

    def job_runs(self, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs of one job, newest first: ``id``, ``started_at``,
        ``ended_at`` (``None``: unfinished), ``items``, ``errors``, ``error``.

        A run on Celery workers (see :mod:`hub.core.tasks`) is one entry for all the
        partitions enqueued at one ``tick``: started when the first started, ended when
        the last ended (``None`` while one runs), items and errors added up, the errors
        as ``<partition>: <error>``; ``parts`` lists each partition's run (``partition``,
        ``task_key``, ``attempts`` and the fields above). A run in one process has
        ``tick`` ``None``, ``partition`` ``None`` and no ``parts``."""
        by_tick = (
            select(JobRunRow.tick, func.min(JobRunRow.started_at).label("started_at"))
            .where(JobRunRow.job_id == job_id, JobRunRow.tick.is_not(None))
            .group_by(JobRunRow.tick)
            .order_by(JobRunRow.tick.desc())
            .limit(limit)
        )
        whole = (
            select(JobRunRow)
            .where(JobRunRow.job_id == job_id, JobRunRow.tick.is_(None))
            .order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
            .limit(limit)
        )
        with self._reading() as s:
            ticks = s.execute(by_tick).all()
            parts = _tick_runs(s, [(job_id, t.tick) for t in ticks])
            groups = [parts[(job_id, t.tick)] for t in ticks if (job_id, t.tick) in parts]
            groups += [[r] for r in s.scalars(whole)]
        runs = [_job_run(group) for group in groups]
        runs.sort(key=lambda r: (r["started_at"], r["id"]), reverse=True)
        return runs[:limit]

    def finish_job_run(
        self,
        run_id: int,
        *,
        items: int = 0,
        errors: int = 0,
        error: str | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Record how a job run ended: items handled, items failed, and the error that
        stopped it, if any. With ``attempt`` (a claimed task's run), only while that
        attempt still holds the run: ``False`` when another worker took it over or it
        was closed meanwhile (nothing is written)."""
        with self.transaction() as s:
            if attempt is not None:
                done = s.execute(
                    update(JobRunRow)
                    .where(JobRunRow.id == run_id, JobRunRow.attempts == attempt, JobRunRow.ended_at.is_(None))
                    .values(ended_at=self.clock.now(), items=items, errors=errors, error=error)
                    .execution_options(synchronize_session=False)
                )
                return bool(done.rowcount)
            run = _require(s, JobRunRow, run_id, "job run")
            run.ended_at = self.clock.now()
            run.items = items
            run.errors = errors
            run.error = error
            return True

    # -- feedback --------------------------------------------------------------------

    def add_feedback(
        self,
        community_id: str,
        *,
        source: FeedbackSource | str,
        category: FeedbackCategory | str,
        body: str,
        contact: str = "",
        gate_id: str | None = None,
        connection_id: str | None = None,
        external_ref: str | None = None,
        actor: str,
        address: str | None = None,
    ) -> tuple[Feedback, bool]:
        """Store an open report and audit ``feedback.created``; returns the report and
        whether it is new.

        A platform's report (``connection_id`` with ``external_ref``) is stored once:
        sent again with the same community, source, category, body, contact and gate,
        the stored report is returned as it is now (``False``) and nothing is written.

        :param contact: the reporter's name or phone as given (personal data; read back
            whole only with :meth:`feedback_contact`).
        :param address: the client address of a report from the rider page, kept in the
            audit record for :meth:`feedback_sent_from`.
        :raises Conflict: the connection's ``external_ref`` was stored with other content.
        :raises NotFound: the community, the gate (in this community) or the connection
            is unknown.
        :raises ValueError: an unknown source or category, an empty body, or an
            ``external_ref`` without a connection.
        """
        values = {
            "community_id": community_id,
            "source": FeedbackSource(source).value,
            "category": FeedbackCategory(category).value,
            "body": body,
            "contact": contact,
            "gate_id": gate_id,
        }
        if not body.strip():
            raise ValueError("a report needs a body")
        if external_ref is not None and connection_id is None:
            raise ValueError("external_ref names a platform's report: give its connection_id too")
        now = self.clock.now()
        try:
            with self.transaction() as s:
                if external_ref is not None:
                    known = s.scalars(_feedback_by_ref(connection_id, external_ref)).one_or_none()
                    if known is not None:
                        return _same_report(known, values), False
                _require(s, CommunityRow, community_id, "community")
                if gate_id is not None:
                    gate = s.get(GateRow, gate_id)
                    if gate is None or gate.community_id != community_id:
                        raise NotFound(f"gate {gate_id!r} not found in community {community_id!r}")
                if connection_id is not None:
                    _require(s, ConnectionRow, connection_id, "connection")
                row = FeedbackRow(
                    **values,
                    connection_id=connection_id,
                    external_ref=external_ref,
                    status=FeedbackStatus.OPEN.value,
                    created_at=now,
                    updated_at=now,
                    responses=[],
                )
                s.add(row)
                s.flush()
                data = {
                    "community": community_id,
                    "source": row.source,
                    "category": row.category,
                    "gate": gate_id,
                    "connection": connection_id,
                    "external_ref": external_ref,
                }
                if address is not None:
                    data["address"] = address
                audit.append(s, actor, "feedback.created", str(row.id), data, now)
                return rows.feedback_model(row), True
        except IntegrityError:
            # A concurrent sender stored the same platform report first (PostgreSQL).
            if external_ref is None:
                raise
            with self._reading() as s:
                known = s.scalars(_feedback_by_ref(connection_id, external_ref)).one_or_none()
                if known is None:
                    raise
                return _same_report(known, values), False

    def get_feedback(self, feedback_id: int, *, community_ids: Collection[str] | None = None) -> Feedback:
        """A report with its answers.

        :param community_ids: only a report of these communities (``None``: any).
        :raises NotFound: no such report (or not in ``community_ids``).
        """
        with self._reading() as s:
            return rows.feedback_model(_one(s, _feedback_query(feedback_id, community_ids), _no_report(feedback_id)))

    def feedback_by_ref(self, connection_id: str, external_ref: str) -> Feedback:
        """The report a platform sent with its own id ``external_ref``.

        :raises NotFound: the connection sent no such report.
        """
        with self._reading() as s:
            row = s.scalars(_feedback_by_ref(connection_id, external_ref)).one_or_none()
            if row is None:
                raise NotFound(f"connection {connection_id!r} sent no report {external_ref!r}")
            return rows.feedback_model(row)

    def list_feedback(
        self,
        *,
        community_ids: Collection[str] | None = None,
        status: FeedbackStatus | str | None = None,
        source: FeedbackSource | str | None = None,
        before: tuple[datetime, int] | None = None,
        limit: int = 50,
    ) -> list[Feedback]:
        """Reports newest first (by creation time, then id), with their answers.

        :param community_ids: only these communities' reports; ``None``: every community.
        :param before: the creation time and id of the last report of the page before
            (keyset paging).
        :raises ValueError: an unknown status or source, or ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = (
            select(FeedbackRow)
            .options(selectinload(FeedbackRow.responses))
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            .limit(limit)
        )
        query = _feedback_filters(query, community_ids, source)
        if status is not None:
            query = query.where(FeedbackRow.status == FeedbackStatus(status).value)
        if before is not None:
            at, last_id = before
            query = query.where(
                or_(FeedbackRow.created_at < at, and_(FeedbackRow.created_at == at, FeedbackRow.id < last_id))
            )
        with self._reading() as s:
            return [rows.feedback_model(row) for row in s.scalars(query)]

    def feedback_counts(
        self, *, community_ids: Collection[str] | None = None, source: FeedbackSource | str | None = None
    ) -> dict[FeedbackStatus, int]:
        """How many reports have each status (every status, zeros too), filtered like
        :meth:`list_feedback`."""
        query = select(FeedbackRow.status, func.count()).group_by(FeedbackRow.status)
        query = _feedback_filters(query, community_ids, source)
        with self._reading() as s:
            found = dict(s.execute(query).all())
        return {status: found.get(status.value, 0) for status in FeedbackStatus}

    def respond_to_feedback(
        self,
        feedback_id: int,
        body: str,
        *,
        shared_with_reporter: bool = False,
        actor: str,
        community_ids: Collection[str] | None = None,
    ) -> Feedback:
        """Add an answer by ``actor`` and audit ``feedback.responded`` (not its text).

        :raises NotFound: no such report (or not in ``community_ids``).
        :raises ValueError: an empty answer.
        """
        if not body.strip():
            raise ValueError("an answer needs a body")
        now = self.clock.now()
        with self.transaction() as s:
            row = _one(s, _feedback_query(feedback_id, community_ids), _no_report(feedback_id))
            answer = FeedbackResponseRow(
                author=actor, body=body, created_at=now, shared_with_reporter=shared_with_reporter
            )
            row.responses.append(answer)
            row.updated_at = now
            s.flush()
            data = {"community": row.community_id, "response": answer.id, "shared_with_reporter": shared_with_reporter}
            audit.append(s, actor, "feedback.responded", str(row.id), data, now)
            return rows.feedback_model(row)

    def set_feedback_status(
        self,
        feedback_id: int,
        status: FeedbackStatus | str,
        *,
        actor: str,
        community_ids: Collection[str] | None = None,
    ) -> tuple[Feedback, bool]:
        """Change a report's status and audit ``feedback.status_changed`` (from, to);
        returns the report and whether it changed (setting the status it has changes
        and audits nothing).

        :raises NotFound: no such report (or not in ``community_ids``).
        :raises ValueError: an unknown status.
        """
        new = FeedbackStatus(status).value
        now = self.clock.now()
        with self.transaction() as s:
            row = _one(s, _feedback_query(feedback_id, community_ids), _no_report(feedback_id))
            old = row.status
            if old == new:
                return rows.feedback_model(row), False
            row.status = new
            row.updated_at = now
            data = {"community": row.community_id, "from": old, "to": new}
            audit.append(s, actor, "feedback.status_changed", str(row.id), data, now)
            return rows.feedback_model(row), True

    def feedback_contact(self, feedback_id: int, *, community_ids: Collection[str] | None = None) -> str:
        """The reporter's contact whole, as given (empty when none): personal data, for
        an audited reveal only.

        :raises NotFound: no such report (or not in ``community_ids``).
        """
        query = select(FeedbackRow.contact).where(FeedbackRow.id == feedback_id)
        if community_ids is not None:
            query = query.where(FeedbackRow.community_id.in_(sorted(set(community_ids))))
        with self._reading() as s:
            contact = s.scalars(query).one_or_none()
        if contact is None:
            raise NotFound(_no_report(feedback_id))
        return contact

    def feedback_sent_from(self, address: str, since: datetime) -> int:
        """How many reports were sent from one client address since ``since`` (those
        stored with an ``address``: the rider page's)."""
        query = (
            select(func.count())
            .select_from(AuditRow)
            .where(
                AuditRow.action == "feedback.created",
                AuditRow.at >= since,
                AuditRow.data["address"].as_string() == address,
            )
        )
        with self._reading() as s:
            return s.scalar(query) or 0

    # -- connection health -------------------------------------------------------------

    def record_connection_health(self, connection_id: str, health: Health, circuit: str, *, actor: str) -> str | None:
        """Keep a connection's latest health check, made now, with the circuit state the
        checking process saw, and audit a change in the same transaction:
        ``connection.unhealthy`` when the check fails after a healthy one (or is the
        first), ``connection.recovered`` when it passes after a failing one. Returns the
        audited action; ``None`` when nothing changed (nothing audited).

        :raises NotFound: no connection has this id.
        """
        now = self.clock.now()
        values = {
            "ok": health.ok,
            "message": health.message,
            "latency_ms": health.latency_ms,
            "circuit": circuit,
            "checked_at": now,
        }
        with self.transaction() as s:
            _require(s, ConnectionRow, connection_id, "connection")
            # Insert, or lock the row that is there, so two checks at once cannot both insert.
            inserted = s.execute(
                insert_for(s, ConnectionHealthRow)
                .values(connection_id=connection_id, **values)
                .on_conflict_do_nothing()
                .returning(ConnectionHealthRow.connection_id)
            ).first()
            was_ok: bool | None = None
            if inserted is None:
                row = s.get_one(ConnectionHealthRow, connection_id, with_for_update=True, populate_existing=True)
                was_ok = row.ok
                for name, value in values.items():
                    setattr(row, name, value)
            if not health.ok and was_ok is not False:
                action = "connection.unhealthy"
            elif health.ok and was_ok is False:
                action = "connection.recovered"
            else:
                return None
            latency = None if health.latency_ms is None else round(health.latency_ms, 1)
            data = {"message": health.message, "latency_ms": latency, "circuit": circuit}
            audit.append(s, actor, action, connection_id, data, now)
            return action

    def connection_health(self) -> dict[str, ConnectionHealth]:
        """The latest stored health check of every connection checked so far, by id."""
        with self._reading() as s:
            return {
                r.connection_id: ConnectionHealth(
                    r.connection_id, r.ok, r.message, r.latency_ms, r.circuit, r.checked_at
                )
                for r in s.scalars(select(ConnectionHealthRow))
            }

    # -- retention ---------------------------------------------------------------------
    #
    # Each method below is one short transaction over at most ``limit`` rows that still
    # hold what it removes (so a rerun never counts a row twice), and adds its count to
    # a retention tally kept in ``sync_cursors``; ``close_retention_tallies`` audits the
    # tallies and clears them. See hub.core.retention for the rules.

    def list_connection_ids(self) -> list[str]:
        """Every connection's id, enabled or not (no settings are decrypted)."""
        with self._reading() as s:
            return list(s.scalars(select(ConnectionRow.id).order_by(ConnectionRow.id)))

    def anonymise_entries(self, community_id: str, before: datetime, *, limit: int = 500) -> int:
        """Anonymise up to ``limit`` of a community's entries made before ``before``
        that still hold personal data, oldest first; returns how many (tally
        ``entries_anonymised`` of the community).

        Removed: the rider link, the order references, the idempotency key and request
        fingerprint, the pass value, the locker PIN, and the details of hook calls that
        ended ``error`` or ``rejected`` (an adapter's or platform's words). Kept: the
        decision, reasons, times, gate, connection, and each call's hook, duration and
        outcome.
        """
        now = self.clock.now()
        mark = f"{_ENTRIES_MARK}{community_id}"
        with self.transaction() as s:
            query = (
                select(EntryRow.id, EntryRow.created_at)
                .where(EntryRow.community_id == community_id, EntryRow.created_at < before, _holds_personal_data())
                .order_by(EntryRow.created_at, EntryRow.id)
                .limit(limit)
                .with_for_update()
            )
            done_before = _cursor_time(s, mark)
            if done_before is not None:
                # Entries older than the newest one anonymised before were all handled.
                query = query.where(EntryRow.created_at >= done_before)
            found = s.execute(query).all()
            if not found:
                return 0
            ids = [row.id for row in found]
            s.execute(
                update(EntryRow)
                .where(EntryRow.id.in_(ids))
                .values(rider_id=None, order_refs=[], idempotency_key=None, fingerprint=None)
            )
            s.execute(update(PassRow).where(PassRow.entry_id.in_(ids)).values(value=""))
            s.execute(update(LockerAllocationRow).where(LockerAllocationRow.entry_id.in_(ids)).values(pin=""))
            s.execute(
                update(HookCallRow)
                .where(HookCallRow.entry_id.in_(ids), HookCallRow.outcome.in_(_PERSONAL_DETAIL_OUTCOMES))
                .values(detail="")
            )
            _set_cursor(s, mark, max(row.created_at for row in found).isoformat(), now)
            _add_to_tally(s, community_id, "entries_anonymised", len(ids), now)
            return len(ids)

    def anonymise_feedback(self, community_id: str, before: datetime, *, limit: int = 500) -> int:
        """Blank the reporter's contact of up to ``limit`` of a community's reports made
        before ``before``; returns how many (tally ``feedback_anonymised``). The report
        and its answers stay."""
        now = self.clock.now()
        query = (
            select(FeedbackRow.id)
            .where(FeedbackRow.community_id == community_id, FeedbackRow.created_at < before, FeedbackRow.contact != "")
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.transaction() as s:
            ids = list(s.scalars(query))
            if ids:
                s.execute(update(FeedbackRow).where(FeedbackRow.id.in_(ids)).values(contact=""))
                _add_to_tally(s, community_id, "feedback_anonymised", len(ids), now)
            return len(ids)

    def delete_riders(self, connection_id: str, before: datetime, *, tally: str, limit: int = 500) -> int:
        """Delete up to ``limit`` of a connection's riders last seen before ``before``
        whom no entry links to any more; returns how many (tally ``riders_deleted`` of
        ``tally``: a community's id, ``""`` for the hub-wide part)."""
        linked = exists().where(EntryRow.connection_id == RiderRow.connection_id, EntryRow.rider_id == RiderRow.id)
        conditions = (RiderRow.connection_id == connection_id, RiderRow.last_seen < before, ~linked)
        return self._purge(RiderRow, conditions, tally, "riders_deleted", limit)

    def delete_orders(self, connection_id: str, before: datetime, *, tally: str, limit: int = 500) -> int:
        """Delete up to ``limit`` of a connection's orders the platform last reported
        before ``before`` (tally ``orders_deleted``)."""
        conditions = (OrderRow.connection_id == connection_id, OrderRow.received_at < before)
        return self._purge(OrderRow, conditions, tally, "orders_deleted", limit)

    def delete_settled_outbox(self, connection_id: str, before: datetime, *, tally: str, limit: int = 500) -> int:
        """Delete up to ``limit`` of a connection's outbox items made before ``before``
        that are done or dead (tally ``outbox_deleted``); pending ones stay."""
        conditions = (
            OutboxRow.connection_id == connection_id,
            OutboxRow.created_at < before,
            OutboxRow.status.in_(("done", "dead")),
        )
        return self._purge(OutboxRow, conditions, tally, "outbox_deleted", limit)

    def delete_push_events(self, before: datetime, *, tally: str = "", limit: int = 500) -> int:
        """Forget up to ``limit`` push event ids received before ``before`` (tally
        ``push_events_deleted``)."""
        return self._purge(PushEventRow, (PushEventRow.received_at < before,), tally, "push_events_deleted", limit)

    def delete_single_use_codes(self, expired_before: datetime, *, tally: str = "", limit: int = 500) -> int:
        """Forget up to ``limit`` single-use codes that expired before ``expired_before``
        (tally ``single_use_codes_deleted``)."""
        conditions = (SingleUseCodeRow.expires_at < expired_before,)
        return self._purge(SingleUseCodeRow, conditions, tally, "single_use_codes_deleted", limit)

    def delete_job_runs(self, before: datetime, *, tally: str = "", limit: int = 500) -> int:
        """Forget up to ``limit`` runs of scheduled jobs that ended before ``before``, of
        jobs that have started a run since (tally ``job_runs_deleted``): a job keeps its
        recent runs, and its latest ones however old they are; a run still going stays."""
        newer = aliased(JobRunRow)
        ran_since = exists().where(newer.job_id == JobRunRow.job_id, newer.started_at >= before)
        conditions = (JobRunRow.ended_at.is_not(None), JobRunRow.ended_at < before, ran_since)
        return self._purge(JobRunRow, conditions, tally, "job_runs_deleted", limit)

    def delete_console_sessions(self, before: datetime, *, tally: str = "", limit: int = 500) -> int:
        """Delete up to ``limit`` console sessions that ended before ``before``, or that
        never ended and were last used before it (tally ``console_sessions_deleted``)."""
        ended = ConsoleSessionRow.ended_at
        conditions = (
            or_(
                and_(ended.is_not(None), ended < before),
                and_(ended.is_(None), ConsoleSessionRow.last_seen_at < before),
            ),
        )
        return self._purge(ConsoleSessionRow, conditions, tally, "console_sessions_deleted", limit)

    def retention_tallies(self) -> dict[str, dict[str, int]]:
        """The counts purged since the tallies were last audited, by subject (a
        community's id, ``""`` for the hub-wide part): left by a run that has not
        finished, or crashed."""
        with self._reading() as s:
            return {
                row.name.removeprefix(_TALLY): json.loads(row.value)
                for row in s.scalars(select(SyncCursorRow).where(_tally_rows()).order_by(SyncCursorRow.name))
            }

    def close_retention_tallies(
        self, *, actor: str, notes: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, dict[str, int]]:
        """Audit the tallies and clear them, in one transaction: ``retention.purged``
        per community (subject: its id; data: ``community``, the counts that are not
        zero and that community's ``notes``) and ``retention.housekept`` for the
        hub-wide counts. Returns the audited counts by subject; nothing is audited when
        nothing was purged."""
        now = self.clock.now()
        audited: dict[str, dict[str, int]] = {}
        records: list[audit.AuditRecord] = []
        with self.transaction() as s:
            for row in s.scalars(
                select(SyncCursorRow).where(_tally_rows()).order_by(SyncCursorRow.name).with_for_update()
            ).all():
                subject = row.name.removeprefix(_TALLY)
                counts = {k: v for k, v in sorted(json.loads(row.value).items()) if v}
                s.delete(row)
                if not counts:
                    continue
                audited[subject] = counts
                if subject:
                    data = {"community": subject, **(notes or {}).get(subject, {}), **counts}
                    records.append(audit.AuditRecord(actor, "retention.purged", subject, data))
                else:
                    records.append(audit.AuditRecord(actor, "retention.housekept", "", counts))
            audit.append_many(s, records, now)
        return audited

    def _purge(self, entity: Any, conditions: Sequence[Any], tally: str, key: str, limit: int) -> int:
        """Delete up to ``limit`` rows of ``entity`` (which has an ``id``) matching
        ``conditions``, lowest ids first, and add how many to ``tally``'s ``key``."""
        now = self.clock.now()
        query = select(entity.id).where(*conditions).order_by(entity.id).limit(limit).with_for_update(skip_locked=True)
        with self.transaction() as s:
            ids = list(s.scalars(query))
            if ids:
                s.execute(delete(entity).where(entity.id.in_(ids)))
                _add_to_tally(s, tally, key, len(ids), now)
            return len(ids)


# ---------------------------------------------------------------------------
# Helpers: errors and lookups
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _value_errors() -> Iterator[None]:
    """Surface the ``ValueError`` a column type raised for a bad value (a naive
    datetime) as itself, not wrapped in SQLAlchemy's ``StatementError``."""
    try:
        yield
    except StatementError as exc:
        if type(exc) is StatementError and isinstance(exc.orig, ValueError):
            raise exc.orig from None
        raise


@contextlib.contextmanager
def _conflict_on_integrity(message: str) -> Iterator[None]:
    """Turn a unique violation that slipped past a pre-check (a concurrent writer on
    PostgreSQL) into the same ``Conflict`` the pre-check raises."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(message) from exc


def _require(session: Session, entity: type[Any], key: Any, what: str) -> Any:
    row = session.get(entity, key)
    if row is None:
        raise NotFound(f"{what} {key!r} not found")
    return row


def _one(session: Session, query: Select[Any], message: str) -> Any:
    row = session.scalars(query).unique().one_or_none()
    if row is None:
        raise NotFound(message)
    return row


# ---------------------------------------------------------------------------
# Helpers: communities and gates
# ---------------------------------------------------------------------------


def _community_query(community_id: str) -> Select[Any]:
    return select(CommunityRow).options(joinedload(CommunityRow.buildings)).where(CommunityRow.id == community_id)


def _require_zone(session: Session, community_id: str, zone_id: str) -> ZoneRow:
    row = session.get(ZoneRow, (community_id, zone_id))
    if row is None:
        raise NotFound(f"zone {zone_id!r} not found in community {community_id!r}")
    return row


def _check_buildings(community: Community) -> None:
    seen: set[str] = set()
    for building in community.buildings:
        if building.id in seen:
            raise Conflict(f"community {community.id!r} lists building {building.id!r} twice")
        seen.add(building.id)


# ---------------------------------------------------------------------------
# Helpers: riders, orders, entries
# ---------------------------------------------------------------------------


def _upsert_rider(
    session: Session, connection_id: str, platform_ref: str, rider: RiderIdentity | None, now: datetime
) -> int:
    """Insert or refresh a rider; returns its id. Without an identity (the platform
    could not be asked) only ``last_seen`` of a known rider changes."""
    values = {
        "connection_id": connection_id,
        "platform_ref": platform_ref,
        "masked_name": rider.masked_name if rider else "",
        # Masked again here: whatever a plugin left whole is never stored.
        "masked_phone": mask_phones_in(rider.masked_phone) if rider else "",
        "status": (rider.status if rider else RiderStatus.UNKNOWN).value,
        "first_seen": now,
        "last_seen": now,
    }
    return session.execute(_rider_upsert(_dialect(session), rider is not None), values).scalar_one()


def _upsert_orders(
    session: Session, connection_id: str, orders: Sequence[Order], source: str, now: datetime, *, confirm: bool
) -> None:
    """Insert or update orders in one statement.

    ``confirm``: the platform reported these orders just now, so they count as fresh
    from now (``received_at``) and the ``source`` is updated. Without it (orders an
    entry used, maybe from the fresh store itself) only newer state is copied.
    """
    if not orders:
        return
    # One row per ref: the database refuses to update a row twice in one statement.
    by_ref = {
        o.ref: {
            "connection_id": connection_id,
            "ref": o.ref,
            "status": o.status.value,
            "rider_ref": o.rider_ref,
            "community_ref": o.community_ref,
            "building": o.building,
            "address": o.address,
            "eta": o.eta,
            "updated_at": o.updated_at,
            "received_at": now,
            "source": source,
        }
        for o in orders
    }
    session.execute(_order_upsert(_dialect(session), confirm), list(by_ref.values()))


def _expired_passes(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Passes past their end, not revoked and not given up on."""
    return (PassRow.revoked_at.is_(None), PassRow.valid_until <= now, PassRow.revoke_attempts < MAX_ATTEMPTS)


_PG_CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || :key, 0))")


def _tick_runs(session: Session, ticks: Sequence[tuple[str, datetime]]) -> dict[tuple[str, datetime], list[JobRunRow]]:
    """The runs of each (job, tick), by partition."""
    found: dict[tuple[str, datetime], list[JobRunRow]] = {}
    for job_id in {job for job, _ in ticks}:
        wanted = sorted({tick for job, tick in ticks if job == job_id})
        query = (
            select(JobRunRow)
            .where(JobRunRow.job_id == job_id, JobRunRow.tick.in_(wanted))
            .order_by(JobRunRow.partition, JobRunRow.id)
        )
        for row in session.scalars(query):
            found.setdefault((row.job_id, row.tick), []).append(row)
    return found


def _job_run(rows: Sequence[JobRunRow]) -> dict[str, Any]:
    """A job run as :meth:`Store.job_runs` gives it: one row, or a tick's partitions."""
    first = rows[0]
    run: dict[str, Any] = {
        "id": min(r.id for r in rows),
        "started_at": min(r.started_at for r in rows),
        "ended_at": None if any(r.ended_at is None for r in rows) else max(r.ended_at for r in rows),
        "items": sum(r.items for r in rows),
        "errors": sum(r.errors for r in rows),
        "error": first.error,
        "tick": first.tick,
        "partition": first.partition if len(rows) == 1 else None,
    }
    if first.tick is None:
        return run
    failed = [r for r in rows if r.error]
    if len(rows) > 1 or first.partition is not None:
        run["error"] = "; ".join(f"{r.partition or WHOLE_JOB}: {r.error}" for r in failed) or None
    run["parts"] = [
        {
            "id": r.id,
            "partition": r.partition,
            "task_key": r.task_key,
            "attempts": r.attempts,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "items": r.items,
            "errors": r.errors,
            "error": r.error,
        }
        for r in rows
    ]
    return run


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# The upserts of the entry path, built once per backend: building one (and its cache
# key) cost more than running it.


@functools.cache
def _rider_upsert(dialect: str, identified: bool) -> Any:
    riders = RiderRow.__table__
    stmt = dialect_insert(dialect, riders)
    updated = ("masked_name", "masked_phone", "status", "last_seen") if identified else ("last_seen",)
    return stmt.on_conflict_do_update(
        index_elements=["connection_id", "platform_ref"], set_={c: stmt.excluded[c] for c in updated}
    ).returning(riders.c.id)


@functools.cache
def _order_upsert(dialect: str, confirm: bool) -> Any:
    orders = OrderRow.__table__
    stmt = dialect_insert(dialect, orders)
    updated = _ORDER_FIELDS + (("received_at", "source") if confirm else ())
    not_older = or_(
        stmt.excluded.updated_at.is_(None),
        orders.c.updated_at.is_(None),
        stmt.excluded.updated_at >= orders.c.updated_at,
    )
    # Many reports carry only the status: they must not wipe who delivers where.
    kept = {c: func.coalesce(func.nullif(stmt.excluded[c], ""), orders.c[c]) for c in _ORDER_IDENTITY}
    return stmt.on_conflict_do_update(
        index_elements=["connection_id", "ref"],
        set_={c: kept.get(c, stmt.excluded[c]) for c in updated},
        where=not_older,
    )


def _entry_query() -> Select[Any]:
    return select(EntryRow).options(
        joinedload(EntryRow.rider),
        joinedload(EntryRow.access_pass),
        joinedload(EntryRow.locker),
        selectinload(EntryRow.hook_calls),
    )


def _guard_denied(note: str | None) -> Reason:
    note = (note or "").strip()
    if not note:
        return Reason("guard_denied", "门岗未予放行", "The guard did not let you in")
    return Reason("guard_denied", f"门岗未予放行：{note}", f"The guard did not let you in: {note}")


def _decided_record(entry: Entry, actor: str) -> audit.AuditRecord:
    # Codes and ids only: the audit log outlives the personal-data retention period.
    return audit.AuditRecord(
        actor=actor,
        action="entry.decided",
        subject=entry.id,
        data={
            "decision": entry.decision.value,
            "reasons": [r.code for r in entry.reasons],
            "community": entry.community_id,
            "gate": entry.gate_id,
            "connection": entry.connection_id,
            "decision_ms": entry.decision_ms,
        },
    )


def _action_record(entry: Entry, action: AuditAction, actor: str) -> audit.AuditRecord:
    return audit.AuditRecord(
        actor=actor,
        action=action.action,
        subject=action.subject or entry.id,
        data={**action.data, "connection": action.connection_id, "entry": entry.id},
    )


def _record_orders(
    session: Session, connection_id: str, orders: Sequence[Order], source: str, now: datetime, actor: str
) -> list[audit.AuditRecord]:
    """Record what the platform just reported about orders (``source``: a push or a
    poll), fresh from now, and cut the live passes of the entries a now final order let
    in to the exit grace (:func:`_shorten_passes`). Returns a ``pass.shortened`` audit
    record for each pass cut, for the caller to append with its own."""
    final = [order for order in orders if order.status.final]
    # Whose orders they were before this report (an order may have changed riders).
    before = _order_riders(session, connection_id, [order.ref for order in final])
    _upsert_orders(session, connection_id, orders, source, now, confirm=True)
    after = _order_riders(session, connection_id, [order.ref for order in final])
    riders = set().union(*(_riders_of(order, before, after) for order in final))
    return [
        audit.AuditRecord(
            actor,
            "pass.shortened",
            pass_id,
            {"connection": connection_id, "order": ref, "valid_until": until.isoformat(), "source": source},
        )
        for ref, pass_id, until in _shorten_passes(session, connection_id, final, now, riders=riders)
    ]


def _riders_of(order: Order, before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    """The riders whose entries may have used ``order``: its rider as reported, as stored
    before the report and as stored now. An empty ref among them (an order stored
    without its rider, which any rider may have used) means "any rider"."""
    riders = {after.get(order.ref, ""), before.get(order.ref, after.get(order.ref, ""))}
    if order.rider_ref:
        riders.add(order.rider_ref)
    return riders


def _order_riders(session: Session, connection_id: str, refs: Sequence[str]) -> dict[str, str]:
    """The stored rider of each of a connection's orders named in ``refs``."""
    found: dict[str, str] = {}
    ordered = sorted(set(refs))
    for start in range(0, len(ordered), 500):
        query = select(OrderRow.ref, OrderRow.rider_ref).where(
            OrderRow.connection_id == connection_id, OrderRow.ref.in_(ordered[start : start + 500])
        )
        found.update((ref, rider_ref) for ref, rider_ref in session.execute(query))
    return found


def _shorten_passes(
    session: Session, connection_id: str, orders: Sequence[Order], now: datetime, *, riders: Collection[str] = ("",)
) -> list[tuple[str, str, datetime]]:
    """Cut the live passes of entries that used a now final order (of ``orders``) to the
    community's exit grace from its delivery; returns (order ref, pass id, new end) of
    each pass shortened, by order.

    ``riders``: the platform refs of the riders the orders belonged to. An entry only
    ever uses its own rider's orders, so only the live passes of those riders' entries
    (and of entries whose rider is gone) are read, in one query through the entries'
    rider index, instead of every live pass of the connection once per order: with many
    passes live that made a run of the reconciliation job quadratic. When a rider is not
    known (an empty ref), every live pass of the connection is read."""
    if not orders:
        return []
    position = {order.ref: n for n, order in enumerate(orders)}
    query = (
        select(PassRow, EntryRow.order_refs, CommunityRow.policy)
        .join(EntryRow, PassRow.entry_id == EntryRow.id)
        .join(CommunityRow, EntryRow.community_id == CommunityRow.id)
        .where(EntryRow.connection_id == connection_id, PassRow.revoked_at.is_(None), PassRow.valid_until > now)
    )
    if "" not in riders:
        ids = select(RiderRow.id).where(
            RiderRow.connection_id == connection_id, RiderRow.platform_ref.in_(sorted(riders))
        )
        query = query.where(or_(EntryRow.rider_id.in_(ids), EntryRow.rider_id.is_(None)))
    shortened: list[tuple[int, int, str, str, datetime]] = []
    for row_no, (access_pass, order_refs, policy) in enumerate(session.execute(query).all()):
        used = sorted(position[ref] for ref in set(order_refs or ()) if ref in position)
        for n in used:
            order = orders[n]
            others = set(order_refs) - {order.ref}
            if others and _any_unfinished(session, connection_id, others):
                continue
            grace = timedelta(minutes=rows.policy_from_json(policy).exit_grace_minutes)
            until = min(access_pass.valid_until, (order.updated_at or now) + grace)
            if until < access_pass.valid_until:
                access_pass.valid_until = until
                shortened.append((n, row_no, order.ref, access_pass.id, until))
    shortened.sort(key=lambda s: (s[0], s[1]))
    return [(ref, pass_id, until) for _, _, ref, pass_id, until in shortened]


def _any_unfinished(session: Session, connection_id: str, refs: Collection[str]) -> bool:
    statuses = session.scalars(
        select(OrderRow.status).where(OrderRow.connection_id == connection_id, OrderRow.ref.in_(sorted(refs)))
    ).all()
    return len(statuses) < len(refs) or any(not OrderStatus(status).final for status in statuses)


def _accounts(session: Session, users: Sequence[UserRow]) -> list[UserAccount]:
    """The accounts of user rows, with their communities and gates (two queries)."""
    ids = [u.id for u in users]
    communities: dict[int, set[str]] = {}
    gates: dict[int, set[str]] = {}
    if ids:
        for user_id, community_id in session.execute(
            select(UserCommunityRow.user_id, UserCommunityRow.community_id).where(UserCommunityRow.user_id.in_(ids))
        ):
            communities.setdefault(user_id, set()).add(community_id)
        for user_id, gate_id in session.execute(
            select(UserGateRow.user_id, UserGateRow.gate_id).where(UserGateRow.user_id.in_(ids))
        ):
            gates.setdefault(user_id, set()).add(gate_id)
    return [
        UserAccount(
            id=u.id,
            username=u.username,
            role=Role(u.role),
            disabled=u.disabled,
            totp=u.totp_secret is not None,
            created_at=u.created_at,
            community_ids=frozenset(communities.get(u.id, ())),
            gate_ids=frozenset(gates.get(u.id, ())),
        )
        for u in users
    ]


def _end_sessions(session: Session, user_id: int, reason: str, now: datetime) -> int:
    """End every open session of a user; returns how many."""
    ended = session.execute(
        update(ConsoleSessionRow)
        .where(ConsoleSessionRow.user_id == user_id, ConsoleSessionRow.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .returning(ConsoleSessionRow.id)
    ).all()
    return len(ended)


# ---------------------------------------------------------------------------
# Helpers: community publishing and door events
# ---------------------------------------------------------------------------


def _profile_version(row: CommunityProfileRow) -> ProfileVersion:
    return ProfileVersion(row.community_id, row.digest, row.version, row.changed_at)


def _publication(row: CommunityPublicationRow) -> Publication:
    return Publication(
        row.community_id,
        row.connection_id,
        row.published_version,
        row.published_digest,
        row.published_at,
        row.attempted_at,
        row.error,
    )


def _advance_cursor(session: Session, name: str, value: datetime, now: datetime) -> None:
    """Move a sync cursor holding a time forward to ``value`` (never back)."""
    row = session.get(SyncCursorRow, name, with_for_update=True)
    text = value.astimezone(UTC).isoformat(timespec="microseconds")
    if row is None:
        session.add(SyncCursorRow(name=name, value=text, updated_at=now))
    elif datetime.fromisoformat(row.value) < value:
        row.value = text
        row.updated_at = now


def _apply_door_events(
    session: Session,
    connection_id: str,
    events: Sequence[AccessEvent],
    actor: str,
    now: datetime,
    gate_id: str | None = None,
) -> tuple[DoorEventsResult, list[audit.AuditRecord]]:
    """Set the entry and exit times door events show, oldest event first; returns the
    counts and the audit records to append."""
    doors_of = dict(
        session.execute(select(GateRow.id, GateRow.door_no).where(GateRow.access_connection_id == connection_id)).all()
    )
    counts = {"entered": 0, "exited": 0, "repeated": 0, "unknown": 0}
    records: list[audit.AuditRecord] = []
    for event in sorted(events, key=lambda e: e.occurred_at):
        gate = gate_id or _event_gate(event, doors_of)
        found = None
        if gate is not None and event.credential_value and event.direction in ("in", "out"):
            found = _door_pass(session, gate, event)
        if found is None:
            counts["unknown"] += 1
            continue
        pass_id, entry_id = found
        record = _set_door_time(session, entry_id, pass_id, event, connection_id, actor)
        if record is None:
            counts["repeated"] += 1
        else:
            counts["entered" if event.direction == "in" else "exited"] += 1
            records.append(record)
    return DoorEventsResult(len(events), **counts), records


def _event_gate(event: AccessEvent, doors_of: Mapping[str, str]) -> str | None:
    """The connection's gate a pushed event happened at: the one it names, or else the
    only one with its door number (any door, when the event names none)."""
    if event.gate_id:
        return event.gate_id if event.gate_id in doors_of else None
    matching = [gate for gate, door in doors_of.items() if not event.door_no or door == event.door_no]
    return matching[0] if len(matching) == 1 else None


def _door_pass(session: Session, gate_id: str, event: AccessEvent) -> tuple[str, str] | None:
    """The pass (and its entry) an event was made with: its value at the gate, usable
    when the event happened (the newest such pass, should a device reuse values)."""
    at = event.occurred_at
    late = doors.CLOCK_SLACK if event.direction == "in" else doors.EXIT_WINDOW
    found = session.execute(
        select(PassRow.id, PassRow.entry_id)
        .where(
            PassRow.gate_id == gate_id,
            PassRow.value == event.credential_value,
            PassRow.valid_from <= at + doors.CLOCK_SLACK,
            PassRow.valid_until >= at - late,
        )
        .order_by(PassRow.valid_from.desc(), PassRow.id)
        .limit(1)
    ).first()
    return None if found is None else (found.id, found.entry_id)


def _set_door_time(
    session: Session, entry_id: str, pass_id: str, event: AccessEvent, connection_id: str, actor: str
) -> audit.AuditRecord | None:
    """Set an entry's entry time (the earliest ``in``, not after its exit) or exit time
    (the earliest ``out`` not before its entry, which also ends the pass then); the
    audit record when it changed, ``None`` when the time was already set (or earlier)."""
    at = event.occurred_at
    if event.direction == "in":
        condition = and_(
            or_(EntryRow.entered_at.is_(None), EntryRow.entered_at > at),
            or_(EntryRow.exited_at.is_(None), EntryRow.exited_at >= at),
        )
        values = {"entered_at": at}
    else:
        condition = and_(
            EntryRow.entered_at.is_not(None),
            EntryRow.entered_at <= at,
            or_(EntryRow.exited_at.is_(None), EntryRow.exited_at > at),
        )
        values = {"exited_at": at}
    # A conditional UPDATE: a repeat, or a concurrent push of the same event, changes nothing.
    changed = session.execute(
        update(EntryRow)
        .where(EntryRow.id == entry_id, condition)
        .values(**values)
        .returning(EntryRow.community_id, EntryRow.gate_id)
    ).first()
    if changed is None:
        return None
    data: dict[str, Any] = {
        "community": changed.community_id,
        "gate": changed.gate_id,
        "connection": connection_id,
        "event": event.event_id,
        "at": at.isoformat(),
        "source": "door",
    }
    if event.direction == "in":
        return audit.AuditRecord(actor, "entry.entered", entry_id, data)
    cut = update(PassRow).where(PassRow.id == pass_id, PassRow.valid_until > at).values(valid_until=at)
    ended = session.execute(cut.returning(PassRow.id)).first()
    return audit.AuditRecord(actor, "entry.exited", entry_id, {**data, "pass_ended": ended is not None})


# ---------------------------------------------------------------------------
# Helpers: retention
# ---------------------------------------------------------------------------

#: ``sync_cursors`` names: a retention tally (then the subject), and how far a
#: community's entries were anonymised (then the community's id).
_TALLY = "retention.tally:"
_ENTRIES_MARK = "retention.entries:"
#: Hook call outcomes whose detail is an adapter's or a platform's words (cleared when
#: the entry is anonymised); "timeout" and "circuit_open" details are the hub's own.
_PERSONAL_DETAIL_OUTCOMES = ("error", "rejected")


def _holds_personal_data() -> ColumnElement[bool]:
    """An entry that still holds something :meth:`Store.anonymise_entries` removes."""
    return or_(
        EntryRow.rider_id.is_not(None),
        func.json_array_length(EntryRow.order_refs) > 0,
        EntryRow.idempotency_key.is_not(None),
        EntryRow.fingerprint.is_not(None),
        exists().where(PassRow.entry_id == EntryRow.id, PassRow.value != ""),
        exists().where(LockerAllocationRow.entry_id == EntryRow.id, LockerAllocationRow.pin != ""),
        exists().where(
            HookCallRow.entry_id == EntryRow.id,
            HookCallRow.outcome.in_(_PERSONAL_DETAIL_OUTCOMES),
            HookCallRow.detail != "",
        ),
    )


def _tally_rows() -> ColumnElement[bool]:
    return SyncCursorRow.name.startswith(_TALLY, autoescape=True)


def _add_to_tally(session: Session, subject: str, key: str, count: int, now: datetime) -> None:
    name = f"{_TALLY}{subject}"
    stmt = insert_for(session, SyncCursorRow).values(name=name, value="{}", updated_at=now)
    session.execute(stmt.on_conflict_do_nothing())
    row = session.get_one(SyncCursorRow, name, with_for_update=True, populate_existing=True)
    counts = json.loads(row.value)
    counts[key] = counts.get(key, 0) + count
    row.value = json.dumps(counts, sort_keys=True)
    row.updated_at = now


def _cursor_time(session: Session, name: str) -> datetime | None:
    value = session.scalar(select(SyncCursorRow.value).where(SyncCursorRow.name == name))
    return datetime.fromisoformat(value) if value else None


def _set_cursor(session: Session, name: str, value: str, now: datetime) -> None:
    stmt = insert_for(session, SyncCursorRow).values(name=name, value=value, updated_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value, "updated_at": now}))


# ---------------------------------------------------------------------------
# Helpers: feedback
# ---------------------------------------------------------------------------

#: What must be equal for a platform's report sent again to be "the same report".
_REPORT_FIELDS = ("community_id", "source", "category", "body", "contact", "gate_id")


def _no_report(feedback_id: int) -> str:
    return f"report {feedback_id!r} not found"


def _feedback_query(feedback_id: int, community_ids: Collection[str] | None) -> Select[Any]:
    query = select(FeedbackRow).options(selectinload(FeedbackRow.responses)).where(FeedbackRow.id == feedback_id)
    if community_ids is not None:
        query = query.where(FeedbackRow.community_id.in_(sorted(set(community_ids))))
    return query


def _feedback_by_ref(connection_id: str | None, external_ref: str) -> Select[Any]:
    return (
        select(FeedbackRow)
        .options(selectinload(FeedbackRow.responses))
        .where(FeedbackRow.connection_id == connection_id, FeedbackRow.external_ref == external_ref)
    )


def _feedback_filters(
    query: Select[Any], community_ids: Collection[str] | None, source: FeedbackSource | str | None
) -> Select[Any]:
    if community_ids is not None:
        query = query.where(FeedbackRow.community_id.in_(sorted(set(community_ids))))
    if source is not None:
        query = query.where(FeedbackRow.source == FeedbackSource(source).value)
    return query


def _same_report(row: FeedbackRow, values: Mapping[str, Any]) -> Feedback:
    """The stored report when ``values`` are what it was sent with.

    :raises Conflict: the platform reused its id for a different report.
    """
    if any(getattr(row, name) != values[name] for name in _REPORT_FIELDS):
        raise Conflict(f"report {row.external_ref!r} of connection {row.connection_id!r} was sent with other content")
    return rows.feedback_model(row)


# ---------------------------------------------------------------------------
# Helpers: the monthly report
# ---------------------------------------------------------------------------


def _month_facts(timezones: Mapping[str, str], months: Sequence[date], connection_id: str | None) -> Any:
    """The entries of the report as a subquery: community, connection, ``month`` (the
    key of the month it falls in, in its community's timezone), decision, time to
    decide, reasons and ``by_guard`` (1 when a guard decided it)."""
    by_zone: dict[str, list[str]] = {}
    for community_id, timezone in sorted(timezones.items()):
        by_zone.setdefault(timezone, []).append(community_id)
    in_range: list[ColumnElement[bool]] = []
    month_of: list[tuple[ColumnElement[bool], Any]] = []
    since: datetime | None = None
    for timezone, community_ids in sorted(by_zone.items()):
        starts = [local_month(month, timezone)[0] for month in months]
        ends = [*starts[1:], local_month(months[-1], timezone)[1]]
        ours = EntryRow.community_id.in_(community_ids)
        in_range.append(and_(ours, EntryRow.created_at >= starts[0], EntryRow.created_at < ends[-1]))
        # Months in order: the first end an entry is before names its month.
        bounded = [(EntryRow.created_at < end, month_key(month)) for month, end in zip(months, ends, strict=True)]
        month_of.append((ours, case(*bounded)))
        since = starts[0] if since is None else min(since, starts[0])
    # A guard decides after the entry was made: their records since the range's start.
    by_guard = (
        select(AuditRow.subject)
        .where(AuditRow.action == "entry.guard_decided", AuditRow.at >= since)
        .distinct()
        .subquery()
    )
    query = (
        select(
            EntryRow.community_id,
            EntryRow.connection_id,
            case(*month_of).label("month"),
            EntryRow.decision,
            EntryRow.decision_ms,
            EntryRow.reasons,
            case((by_guard.c.subject.is_not(None), 1), else_=0).label("by_guard"),
        )
        .outerjoin(by_guard, by_guard.c.subject == EntryRow.id)
        .where(or_(*in_range))
    )
    if connection_id is not None:
        query = query.where(EntryRow.connection_id == connection_id)
    # A subquery: grouping by its month column, PostgreSQL would not recognise the
    # CASE expression repeated with other bound parameters as the same expression.
    return query.subquery()


def _count_if(*conditions: ColumnElement[bool]) -> Any:
    return func.sum(case((and_(*conditions), 1), else_=0))


def _wanted_rank(rank: Any, count: Any) -> ColumnElement[bool]:
    """Whether ``rank`` of ``count`` is one :func:`hub.core.reports.percentile_ranks`
    names for a percentile (the same integer arithmetic, in SQL)."""
    ranks = []
    for q in PERCENTILES:
        low = (count - 1) * q // 100 + 1
        ranks += [rank == low, rank == low + 1]
    return or_(*ranks)
