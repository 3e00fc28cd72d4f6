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
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from hub.core import audit, migrations, rows
from hub.core import outbox as outbox_queue
from hub.core.apikeys import ALL, ApiKey
from hub.core.clock import Clock
from hub.core.db import (
    ORDER_SOURCES,
    SQLITE_BEGIN,
    USER_ROLES,
    ApiKeyRow,
    AuditRow,
    CommunityConnectionRow,
    CommunityRow,
    ConnectionRow,
    ConsoleSessionRow,
    EntryRow,
    GateRow,
    HookCallRow,
    JobRunRow,
    OrderRow,
    OutboxRow,
    PassRow,
    PushEventRow,
    RiderRow,
    SingleUseCodeRow,
    UserCommunityRow,
    UserGateRow,
    UserRow,
    ZoneRow,
    insert_for,
    make_engine,
)
from hub.core.errors import Conflict, NotFound
from hub.core.model import (
    Community,
    Connection,
    Decision,
    Entry,
    Gate,
    Order,
    OrderStatus,
    PushEvent,
    Reason,
    RiderIdentity,
    RiderStatus,
    Zone,
)
from hub.core.outbox import DeadItem, LeasedItem, OutboxItem
from hub.core.reports import FAILED_OUTCOMES, CallSummary, EntryFact, PendingCheck
from hub.core.secrets import SecretBox
from hub.core.trace import AuditAction
from hub.core.users import ConsoleSession, LoginRecord, Role, UserAccount

#: Order fields a newer report of the same order replaces.
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
    """

    def __init__(
        self,
        url: str,
        secret_keys: Sequence[str],
        clock: Clock | None = None,
        echo: bool = False,
        *,
        connect_args: Mapping[str, Any] | None = None,
    ) -> None:
        self._engine = make_engine(url, echo=echo, connect_args=dict(connect_args or {}))
        self._box = SecretBox(secret_keys)
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
        with _conflict_on_integrity(f"community {community.id!r} already exists"), self.transaction() as s:
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
        with self.transaction() as s:
            row = _one(s, _community_query(community.id), f"community {community.id!r} not found")
            rows.fill_community(row, community)
        return community

    def get_community(self, community_id: str) -> Community:
        with self._reading() as s:
            return rows.community_model(
                _one(s, _community_query(community_id), f"community {community_id!r} not found")
            )

    def list_communities(self) -> list[Community]:
        with self._reading() as s:
            found = s.scalars(
                select(CommunityRow).options(selectinload(CommunityRow.buildings)).order_by(CommunityRow.id)
            )
            return [rows.community_model(row) for row in found]

    def add_zone(self, community_id: str, zone: Zone) -> Zone:
        """Mark an area of a community.

        :raises NotFound: unknown community. :raises Conflict: the zone id is taken there.
        """
        message = f"zone {zone.id!r} already exists in community {community_id!r}"
        with _conflict_on_integrity(message), self.transaction() as s:
            _require(s, CommunityRow, community_id, "community")
            if s.get(ZoneRow, (community_id, zone.id)) is not None:
                raise Conflict(message)
            s.add(rows.zone_row(community_id, zone))
        return zone

    def list_zones(self, community_id: str) -> list[Zone]:
        with self._reading() as s:
            found = s.scalars(
                select(ZoneRow).where(ZoneRow.community_id == community_id).order_by(ZoneRow.kind, ZoneRow.id)
            )
            return [rows.zone_model(row) for row in found]

    def add_gate(self, gate: Gate) -> Gate:
        """Store a gate.

        :raises NotFound: unknown community or access connection.
        :raises Conflict: the gate id or the gate code is taken.
        """
        with _conflict_on_integrity(f"gate {gate.id!r} or code {gate.code!r} already exists"), self.transaction() as s:
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

    def get_gate(self, gate_id: str) -> Gate:
        with self._reading() as s:
            return rows.gate_model(_one(s, select(GateRow).where(GateRow.id == gate_id), f"gate {gate_id!r} not found"))

    def gate_by_code(self, code: str) -> Gate:
        with self._reading() as s:
            return rows.gate_model(_one(s, select(GateRow).where(GateRow.code == code), f"no gate has code {code!r}"))

    def list_gates(self, community_id: str | None = None) -> list[Gate]:
        query = select(GateRow).order_by(GateRow.community_id, GateRow.id)
        if community_id is not None:
            query = query.where(GateRow.community_id == community_id)
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
        with _conflict_on_integrity(f"connection {connection.id!r} already exists"), self.transaction() as s:
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
        with self.transaction() as s:
            row = _require(s, ConnectionRow, connection.id, "connection")
            self._fill_connection(row, connection, secret_names)
        return connection

    def get_connection(self, connection_id: str) -> Connection:
        """A connection with its settings and decrypted secrets merged."""
        with self._reading() as s:
            return self._connection_model(_require(s, ConnectionRow, connection_id, "connection"))

    def list_connections(self) -> list[Connection]:
        with self._reading() as s:
            return [self._connection_model(row) for row in s.scalars(select(ConnectionRow).order_by(ConnectionRow.id))]

    def connections_for_community(self, community_id: str) -> list[Connection]:
        """The connections linked to a community (empty for an unknown community)."""
        query = (
            select(ConnectionRow)
            .join(CommunityConnectionRow, CommunityConnectionRow.connection_id == ConnectionRow.id)
            .where(CommunityConnectionRow.community_id == community_id)
            .order_by(ConnectionRow.id)
        )
        with self._reading() as s:
            return [self._connection_model(row) for row in s.scalars(query)]

    def link_connection(self, community_id: str, connection_id: str) -> None:
        """Let a connection serve a community; linking twice is a no-op.

        :raises NotFound: unknown community or connection.
        """
        with self.transaction() as s:
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
        with self.transaction() as s:
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
        with self.transaction() as s:
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
            settings=settings,
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
        ``pass.shortened``.
        """
        now = self.clock.now()
        with self.transaction() as s:
            fresh = [e for e in events if self.record_push_event(connection_id, e.event_id, session=s)]
            orders = [e.order for e in fresh if e.order is not None]
            _upsert_orders(s, connection_id, orders, "push", now, confirm=True)
            records = [
                audit.AuditRecord(
                    actor,
                    "pass.shortened",
                    pass_id,
                    {"connection": connection_id, "order": order.ref, "valid_until": until.isoformat()},
                )
                for order in orders
                if order.status.final
                for pass_id, until in _shorten_passes(s, connection_id, order, now)
            ]
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
            row = s.scalars(_entry_query().where(EntryRow.idempotency_key == key)).first()
            if row is None:
                return None
            return rows.entry_model(row), row.fingerprint or ""

    def count_entries(self, connection_id: str, rider_ref: str, since: datetime) -> int:
        """How many entries (any decision) a platform's rider had since ``since``."""
        query = (
            select(func.count())
            .select_from(EntryRow)
            .join(RiderRow, RiderRow.id == EntryRow.rider_id)
            .where(
                RiderRow.connection_id == connection_id,
                RiderRow.platform_ref == rider_ref,
                EntryRow.connection_id == connection_id,
                EntryRow.created_at >= since,
            )
        )
        with self._reading() as s:
            return s.scalar(query) or 0

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
                s.add(rows.entry_row(entry, rider_id, idempotency_key, fingerprint))
                s.flush()
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
        self, entry_id: str, *, confirmed: bool, actions: Sequence[AuditAction], actor: str
    ) -> None:
        """Record an attempt to take an entry's pass back at its device: the audit
        records of the attempt (``actions``), and ``passes.revoked_at`` when the device
        ``confirmed`` (kept from the first confirmation). An unconfirmed pass is left to
        the expiry job.

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
        query = select(OrderRow.ref, OrderRow.building).where(
            OrderRow.connection_id == connection_id, OrderRow.ref.in_(sorted(set(refs)))
        )
        with self._reading() as s:
            found = dict(s.execute(query).all())
        return [found[ref] for ref in dict.fromkeys(refs) if found.get(ref)]

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
        with _conflict_on_integrity(message), self.transaction() as s:
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
        with self.transaction() as s:
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
            if row is not None:
                row.last_used_at = self.clock.now()

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

    # -- outbox ---------------------------------------------------------------------

    def lease_outbox(self, limit: int, lease_s: float) -> list[LeasedItem]:
        """Claim up to ``limit`` due outbox items for ``lease_s`` seconds, oldest due
        first. A claimed item is not due again until its lease runs out, so two
        deliverers never take the same item, and an item whose deliverer crashed is
        picked up again later."""
        now = self.clock.now()
        query = (
            select(OutboxRow)
            .where(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.transaction() as s:
            leased = s.scalars(query).all()
            for row in leased:
                row.next_attempt_at = now + timedelta(seconds=lease_s)
            return [LeasedItem(r.id, r.kind, r.connection_id, dict(r.payload), r.attempts) for r in leased]

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
        """How many outbox items are pending, done and dead."""
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

    def start_job_run(self, job_id: str) -> int:
        """Record that a scheduled job started; returns the run's id."""
        with self.transaction() as s:
            run = JobRunRow(job_id=job_id, started_at=self.clock.now(), items=0, errors=0)
            s.add(run)
            s.flush()
            return run.id

    def last_job_runs(self) -> dict[str, dict[str, Any]]:
        """The latest run of every job that ran: started, ended, items, errors, error."""
        latest = select(JobRunRow.job_id, func.max(JobRunRow.id).label("id")).group_by(JobRunRow.job_id).subquery()
        with self._reading() as s:
            runs = s.scalars(select(JobRunRow).join(latest, JobRunRow.id == latest.c.id)).all()
            return {
                r.job_id: {
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "items": r.items,
                    "errors": r.errors,
                    "error": r.error,
                }
                for r in runs
            }

    def job_runs(self, job_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs of one job, newest first, each as :meth:`last_job_runs`
        gives it plus its ``id``; an unfinished run has no ``ended_at``."""
        query = (
            select(JobRunRow)
            .where(JobRunRow.job_id == job_id)
            .order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
            .limit(limit)
        )
        with self._reading() as s:
            return [
                {
                    "id": r.id,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "items": r.items,
                    "errors": r.errors,
                    "error": r.error,
                }
                for r in s.scalars(query)
            ]

    def finish_job_run(self, run_id: int, *, items: int = 0, errors: int = 0, error: str | None = None) -> None:
        """Record how a job run ended: items handled, items failed, and the error that
        stopped it, if any."""
        with self.transaction() as s:
            run = _require(s, JobRunRow, run_id, "job run")
            run.ended_at = self.clock.now()
            run.items = items
            run.errors = errors
            run.error = error


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
    stmt = insert_for(session, RiderRow).values(
        connection_id=connection_id,
        platform_ref=platform_ref,
        masked_name=rider.masked_name if rider else "",
        masked_phone=rider.masked_phone if rider else "",
        status=(rider.status if rider else RiderStatus.UNKNOWN).value,
        first_seen=now,
        last_seen=now,
    )
    updated = ("masked_name", "masked_phone", "status", "last_seen") if rider else ("last_seen",)
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection_id", "platform_ref"], set_={c: stmt.excluded[c] for c in updated}
    ).returning(RiderRow.id)
    return session.execute(stmt).scalar_one()


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
    stmt = insert_for(session, OrderRow).values(list(by_ref.values()))
    updated = _ORDER_FIELDS + (("received_at", "source") if confirm else ())
    not_older = or_(
        stmt.excluded.updated_at.is_(None),
        OrderRow.updated_at.is_(None),
        stmt.excluded.updated_at >= OrderRow.updated_at,
    )
    # Many reports carry only the status: they must not wipe who delivers where.
    kept = {c: func.coalesce(func.nullif(stmt.excluded[c], ""), getattr(OrderRow, c)) for c in _ORDER_IDENTITY}
    stmt = stmt.on_conflict_do_update(
        index_elements=["connection_id", "ref"],
        set_={c: kept.get(c, stmt.excluded[c]) for c in updated},
        where=not_older,
    )
    session.execute(stmt)


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


def _shorten_passes(session: Session, connection_id: str, order: Order, now: datetime) -> list[tuple[str, datetime]]:
    """Cut the live passes of entries that used a now final order to the community's
    exit grace from its delivery; returns (pass id, new end) of each pass shortened."""
    live = session.execute(
        select(PassRow, EntryRow.order_refs, CommunityRow.policy)
        .join(EntryRow, PassRow.entry_id == EntryRow.id)
        .join(CommunityRow, EntryRow.community_id == CommunityRow.id)
        .where(EntryRow.connection_id == connection_id, PassRow.revoked_at.is_(None), PassRow.valid_until > now)
    ).all()
    shortened = []
    for access_pass, order_refs, policy in live:
        if order.ref not in (order_refs or ()):
            continue
        others = set(order_refs) - {order.ref}
        if others and _any_unfinished(session, connection_id, others):
            continue
        grace = timedelta(minutes=rows.policy_from_json(policy).exit_grace_minutes)
        until = min(access_pass.valid_until, (order.updated_at or now) + grace)
        if until < access_pass.valid_until:
            access_pass.valid_until = until
            shortened.append((access_pass.id, until))
    return shortened


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
