"""The lock that lets one scheduler at a time run jobs on a database.

``last100 scheduler`` (and the demo's in-process scheduler) runs jobs only while it
holds this lock; a second one against the same database stands by until it is free.

PostgreSQL
    A session-level advisory lock (``pg_try_advisory_lock``) taken on a connection kept
    for as long as the lock is held. PostgreSQL releases it when that connection ends,
    so a scheduler that dies never blocks the next one. The key is derived from the
    lock's name *and* the current schema (``search_path``), so hubs sharing a database
    in separate schemas do not block each other. The ``scheduler_locks`` row is written
    too, but only to say who holds the lock and since when.
SQLite
    A lease: the ``scheduler_locks`` row, taken when absent or expired with one
    conditional ``UPDATE`` / ``INSERT`` in a write transaction, renewed every
    ``renew_s`` seconds (a lease lasts ``lease_s``) and deleted on release. A scheduler
    that dies leaves its row behind; it is taken over once it has expired.

:meth:`SchedulerLock.keep` renews the lock in a background thread and calls back when
it is lost (the lease was taken over, the database connection broke, or the database
could not be reached long enough for the lease to be in doubt); the scheduler then stops
running jobs instead of running beside another.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.core.clock import Clock
from hub.core.db import SQLITE_BEGIN, SchedulerLockRow

log = logging.getLogger(__name__)

#: The lock's name: one scheduler per database (per schema on PostgreSQL).
DEFAULT_NAME = "scheduler"
LEASE_S = 30.0
RENEW_S = 10.0

_TABLE = SchedulerLockRow.__table__
_APPLICATION_NAME = "last100 scheduler "

# Two int4 keys: pg_locks shows them as classid, objid and objsubid 2.
_PG_TRY_LOCK = text("SELECT pg_try_advisory_lock(CAST(:a AS integer), CAST(:b AS integer))")
_PG_UNLOCK = text("SELECT pg_advisory_unlock(CAST(:a AS integer), CAST(:b AS integer))")
_PG_GRANTED = (
    "l.locktype = 'advisory' AND l.classid = CAST(:a AS oid) AND l.objid = CAST(:b AS oid) "
    "AND l.objsubid = 2 AND l.granted"
)
_PG_MINE = text(f"SELECT count(*) FROM pg_locks l WHERE l.pid = pg_backend_pid() AND {_PG_GRANTED}")
_PG_HOLDER = text(
    "SELECT l.pid, a.backend_start FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    f"WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND {_PG_GRANTED}"
)


def default_holder() -> str:
    """How this process names itself as the holder: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, and since when (``None`` when not known)."""

    holder: str
    since: datetime | None

    def describe(self) -> str:
        """``host:pid, since 2026-01-05 04:00:00 UTC``"""
        return f"{self.holder}, since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else self.holder


def advisory_key(schema: str, name: str) -> tuple[int, int]:
    """The two 31-bit keys of the PostgreSQL advisory lock for ``name`` in ``schema``."""
    digest = hashlib.sha256(f"last100:{schema}:{name}".encode()).digest()
    return (
        int.from_bytes(digest[:4], "big") & 0x7FFFFFFF,
        int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF,
    )


class SchedulerLock:
    """One process's hold (or attempt to hold) on the scheduler lock of a database.

    Open one through :meth:`hub.core.store.Store.scheduler_lock`. Thread-safe: the
    renewing thread and the caller may use it at the same time.

    :param engine: the database's engine (the PostgreSQL lock keeps one of its
        connections while held).
    :param clock: the source of "now" for the SQLite lease.
    :param name: the lock's name.
    :param holder: how this process is named to others (default ``host:pid``).
    :param lease_s: how long a SQLite lease lasts unless renewed.
    :param renew_s: how often :meth:`keep` renews it.
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        *,
        name: str = DEFAULT_NAME,
        holder: str | None = None,
        lease_s: float = LEASE_S,
        renew_s: float = RENEW_S,
    ) -> None:
        if not 0 < renew_s < lease_s:
            raise ValueError("renew_s must be positive and shorter than lease_s")
        self._engine = engine
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self._dialect!r}")
        self.clock = clock or Clock()
        self.name = name
        self.holder_name = holder or default_holder()
        self.lease = timedelta(seconds=lease_s)
        self.renew_s = renew_s
        self._mutex = threading.RLock()
        self._held = False
        self._acquired_at: datetime | None = None
        self._expires_at: datetime | None = None
        self._connection: Connection | None = None  # PostgreSQL: the session holding the lock
        self._keeper: threading.Thread | None = None
        self._stop_keeping = threading.Event()

    def __repr__(self) -> str:
        state = "held" if self._held else "not held"
        return f"SchedulerLock({self.name!r}, {self.holder_name!r}, {self._dialect}, {state})"

    @property
    def held(self) -> bool:
        """Whether this process holds the lock, as far as it knows (see :meth:`renew`)."""
        return self._held

    @property
    def acquired_at(self) -> datetime | None:
        return self._acquired_at

    def still_held(self) -> bool:
        """A check without the database, cheap enough before every job run: held, and
        on SQLite the lease not about to run out (renewals failing)."""
        with self._mutex:
            if not self._held:
                return False
            if self._dialect == "sqlite" and self._expires_at is not None:
                return self.clock.now() < self._expires_at - timedelta(seconds=self.renew_s)
            return True

    # -- taking and giving back -----------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; ``True`` when this process holds it now
        (also when it already did)."""
        with self._mutex:
            if self._held:
                return self.renew()
            if self._dialect == "postgresql":
                return self._pg_acquire()
            return self._sqlite_acquire()

    def renew(self) -> bool:
        """Confirm the lock is still ours (on SQLite: extend the lease); ``False`` when
        it was lost, after which :attr:`held` is false too."""
        with self._mutex:
            if not self._held:
                return False
            try:
                ok = self._pg_check() if self._dialect == "postgresql" else self._sqlite_renew()
            except Exception as exc:
                log.warning("could not renew the scheduler lock: %s", type(exc).__name__)
                # On SQLite the lease may still be good for a while; on PostgreSQL a broken
                # session may have taken the lock with it.
                ok = self._dialect == "sqlite" and self.still_held()
            if not ok:
                self._lose()
            return ok

    def release(self) -> None:
        """Give the lock back (and stop renewing it); a no-op when not held."""
        self._stop_keeping.set()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join()
        with self._mutex:
            if not self._held:
                return
            try:
                if self._dialect == "postgresql":
                    self._pg_release()
                else:
                    self._sqlite_release()
            except Exception as exc:
                log.warning("could not release the scheduler lock cleanly: %s", type(exc).__name__)
            finally:
                self._lose()

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the lock every ``renew_s`` seconds in a background thread until
        :meth:`release`; call ``on_lost`` (in that thread) if it is lost."""
        if not self._held:
            raise RuntimeError("keep() needs the lock held")
        self._stop_keeping.clear()

        def run() -> None:
            while not self._stop_keeping.wait(self.renew_s):
                if not self.renew():
                    if not self._stop_keeping.is_set():
                        log.error("lost the scheduler lock %r", self.name)
                        on_lost()
                    return

        self._keeper = threading.Thread(target=run, name=f"scheduler-lock-{self.name}", daemon=True)
        self._keeper.start()

    # -- who holds it ------------------------------------------------------------------

    def holder(self) -> LockHolder | None:
        """Who holds the lock now (this process included); ``None`` when nobody does."""
        if self._dialect == "postgresql":
            return self._pg_holder()
        with self._engine.connect() as connection:
            row = connection.execute(select(_TABLE).where(_TABLE.c.name == self.name)).first()
        if row is None or row.expires_at <= self.clock.now():
            return None
        return LockHolder(row.holder, row.acquired_at)

    # -- SQLite: the lease row ---------------------------------------------------------

    def _writing(self) -> Any:
        return self._engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin()

    def _sqlite_acquire(self) -> bool:
        now = self.clock.now()
        values = {"holder": self.holder_name, "acquired_at": now, "expires_at": now + self.lease}
        with self._writing() as connection:
            taken = connection.execute(
                update(_TABLE).where(_TABLE.c.name == self.name, _TABLE.c.expires_at <= now).values(**values)
            ).rowcount
            if not taken:
                insert = sqlite.insert(_TABLE).values(name=self.name, **values).on_conflict_do_nothing()
                taken = connection.execute(insert).rowcount
        if taken:
            self._took(now, now + self.lease)
        return bool(taken)

    def _mine(self) -> list[Any]:
        return [
            _TABLE.c.name == self.name,
            _TABLE.c.holder == self.holder_name,
            _TABLE.c.acquired_at == self._acquired_at,
        ]

    def _sqlite_renew(self) -> bool:
        expires = self.clock.now() + self.lease
        with self._writing() as connection:
            renewed = connection.execute(update(_TABLE).where(*self._mine()).values(expires_at=expires)).rowcount
        if renewed:
            self._expires_at = expires
        return bool(renewed)

    def _sqlite_release(self) -> None:
        with self._writing() as connection:
            connection.execute(delete(_TABLE).where(*self._mine()))

    # -- PostgreSQL: the advisory lock -------------------------------------------------

    def _keys(self, connection: Connection) -> dict[str, int]:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        a, b = advisory_key(schema or "", self.name)
        return {"a": a, "b": b}

    def _pg_acquire(self) -> bool:
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            keys = self._keys(connection)
            if not connection.execute(_PG_TRY_LOCK, keys).scalar_one():
                connection.close()
                return False
            now = self.clock.now()
            # Only the holder writes the row, which says who holds the lock and since when.
            upsert = postgresql.insert(_TABLE).values(
                name=self.name, holder=self.holder_name, acquired_at=now, expires_at=now + self.lease
            )
            connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=[_TABLE.c.name],
                    set_={"holder": upsert.excluded.holder, "acquired_at": now, "expires_at": now + self.lease},
                )
            )
            connection.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": (_APPLICATION_NAME + self.holder_name)[:63]},
            )
        except Exception:
            connection.invalidate()  # ends the session, and with it any lock taken
            connection.close()
            raise
        self._connection = connection
        self._took(now, None)
        return True

    def _pg_check(self) -> bool:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            return False
        return bool(self._connection.execute(_PG_MINE, self._keys(self._connection)).scalar_one())

    def _pg_release(self) -> None:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            return
        try:
            connection.execute(delete(_TABLE).where(*self._mine()))
            connection.execute(_PG_UNLOCK, self._keys(connection))
        finally:
            self._drop_connection()

    def _drop_connection(self) -> None:
        """Close the lock's session for good (never back to the pool: it carries the
        lock's application name, and maybe the lock)."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            if not connection.invalidated:
                connection.invalidate()
            connection.close()

    def _pg_holder(self) -> LockHolder | None:
        with self._engine.connect() as connection:
            found = connection.execute(_PG_HOLDER, self._keys(connection)).first()
            if found is None:
                return None
            row = connection.execute(select(_TABLE).where(_TABLE.c.name == self.name)).first()
        if row is None:
            return LockHolder(f"PostgreSQL backend {found.pid}", found.backend_start)
        return LockHolder(row.holder, row.acquired_at)

    # -- state -------------------------------------------------------------------------

    def _took(self, at: datetime, expires: datetime | None) -> None:
        self._held = True
        self._acquired_at = at
        self._expires_at = expires
        log.info("took the scheduler lock %r as %s", self.name, self.holder_name)

    def _lose(self) -> None:
        self._held = False
        self._expires_at = None
        if self._dialect == "postgresql":
            self._drop_connection()
