"""Seed a large, realistic hub database fast (issue 9, scenario d).

Usage::

    python -m benchmarks.seed --database-url sqlite:////tmp/large.sqlite
    python -m benchmarks.seed --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --schema large
    python -m benchmarks.seed --database-url sqlite:////tmp/small.sqlite --communities 10 --riders 1000 \\
        --entries 5000 --open-passes 100

The schema is brought to the newest revision with the hub's own migrations first
(``Store.upgrade()``), then the rows are written in bulk, table by table: raw
``executemany`` in batches of 50,000 inside one transaction per table on SQLite (with
``synchronous=OFF`` and an in-memory journal during the load only; the file is back in
WAL mode afterwards), ``COPY ... FROM STDIN`` through psycopg on PostgreSQL. Values are
converted by the columns' own SQLAlchemy types, so they read back exactly as the hub
wrote them.

What is written (every constraint holds):

- one platform connection (``seed-plat``, plugin ``--platform-plugin``) and one gate
  controller connection (``seed-ctl``), serving every community;
- ``--communities`` communities with ``--gates-per-community`` gates each (gate codes
  are unique);
- ``--riders`` riders of the platform;
- ``--entries`` past entries spread over the last 90 days (90 % granted, 8 % manual
  checks, 2 % denied); each granted one has a pass that ended and was revoked 15 minutes
  later. Their audit records and hook timings are not written: the retention period has
  long purged what an old entry carried besides itself, and an empty audit log is a
  valid chain;
- ``--open-passes`` recent granted entries with a live pass whose order is known as
  still being delivered from a report an hour old: exactly what the reconciliation job
  asks the platform about (scenario e).

The database must hold no hub data yet (a fresh SQLite file, or a fresh PostgreSQL
schema: ``--schema`` creates it).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, make_url, text

from hub.core.db import (
    Base,
    CommunityConnectionRow,
    CommunityRow,
    ConnectionRow,
    EntryRow,
    GateRow,
    OrderRow,
    PassRow,
    RiderRow,
)
from hub.core.model import CommunityPolicy
from hub.core.rows import policy_to_json
from hub.core.secrets import generate_key
from hub.core.store import Store

PLATFORM = "seed-plat"
CONTROLLER = "seed-ctl"
BATCH = 50_000
HISTORY = timedelta(days=90)
#: How long a past entry's pass lasted (it ended and was revoked then).
PASS_LENGTH = timedelta(minutes=15)
#: How long ago the hub last heard of an open pass's order (older than any freshness window).
STALE_BY = timedelta(hours=1)


def entry_id(n: int) -> str:
    """A UUID-shaped id that grows with ``n`` (appends to the primary key's index)."""
    return f"00000000-0000-4000-8000-{n:012d}"


def pass_id(n: int) -> str:
    return f"00000000-0000-4000-9000-{n:012d}"


def open_order_ref(n: int) -> str:
    return f"OPEN-{n:07d}"


def rider_ref(n: int) -> str:
    return f"R{n:07d}"


def gate_code(community: int, gate: int) -> str:
    return f"G{community:05d}-{gate}"


@dataclass(frozen=True)
class Sizes:
    communities: int = 10_000
    gates_per_community: int = 5
    riders: int = 1_000_000
    entries: int = 5_000_000
    open_passes: int = 0


@dataclass
class SeedReport:
    rows: dict[str, int]
    seconds: float


class Loader:
    """Writes rows of one table at a time, converted by the columns' SQLAlchemy types."""

    def __init__(self, url: str, schema: str | None, say: Callable[[str], None]) -> None:
        self.url = make_url(url)
        self.backend = self.url.get_backend_name()
        self.schema = schema
        self.say = say
        self.rows: dict[str, int] = {}

    def load(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]], total: int) -> None:
        started = time.perf_counter()
        convert = self._converters(table, columns)
        if self.backend == "sqlite":
            written = self._sqlite(table, columns, rows, convert, total)
        else:
            written = self._copy(table, columns, rows, convert, total)
        took = time.perf_counter() - started
        self.rows[table.name] = self.rows.get(table.name, 0) + written
        self.say(f"  {table.name}: {written:,} rows in {took:.1f} s ({written / max(took, 1e-9):,.0f} rows/s)")

    def _converters(self, table: Table, columns: Sequence[str]) -> list[Callable[[Any], Any] | None]:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = sqlite.dialect() if self.backend == "sqlite" else postgresql.psycopg.dialect()
        return [table.c[name].type._cached_bind_processor(dialect) for name in columns]

    def _sqlite(self, table, columns, rows, convert, total) -> int:
        connection = self.sqlite_connection
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"
        written = 0
        connection.execute("BEGIN")
        for chunk in _chunks(rows, BATCH):
            connection.executemany(sql, _converted(chunk, convert))
            written += len(chunk)
            self._progress(table.name, written, total)
        connection.execute("COMMIT")
        return written

    def _copy(self, table, columns, rows, convert, total) -> int:
        connection = self.pg_connection
        written = 0
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            for chunk in _chunks(rows, BATCH):
                for row in _converted(chunk, convert):
                    copy.write_row(row)
                written += len(chunk)
                self._progress(table.name, written, total)
        connection.commit()
        return written

    def _progress(self, name: str, written: int, total: int) -> None:
        if total >= 4 * BATCH and (written % (BATCH * 10) == 0 or written == total):
            self.say(f"    {name}: {written:,} / {total:,}")

    # -- connections ------------------------------------------------------------------

    def open(self) -> None:
        if self.backend == "sqlite":
            self.sqlite_connection = sqlite3.connect(self.url.database, isolation_level=None)
            c = self.sqlite_connection
            # During the load only: no fsync, journal in memory, a big page cache.
            c.execute("PRAGMA journal_mode=MEMORY")
            c.execute("PRAGMA synchronous=OFF")
            c.execute("PRAGMA cache_size=-262144")
            c.execute("PRAGMA temp_store=MEMORY")
            c.execute("PRAGMA foreign_keys=ON")
        else:
            import psycopg

            dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self.pg_connection = psycopg.connect(dsn)
            if self.schema:
                self.pg_connection.execute(f'SET search_path TO "{self.schema}"')
            self.pg_connection.execute("SET synchronous_commit TO off")

    def close(self) -> None:
        if self.backend == "sqlite":
            self.say("  analysing and switching back to WAL ...")
            self.sqlite_connection.execute("PRAGMA journal_mode=WAL")
            self.sqlite_connection.execute("ANALYZE")
            self.sqlite_connection.close()
        else:
            self.say("  analysing ...")
            self.pg_connection.execute("ANALYZE")
            self.pg_connection.commit()
            self.pg_connection.close()


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _converted(chunk: list[Sequence[Any]], convert: list[Callable[[Any], Any] | None]) -> Iterator[tuple[Any, ...]]:
    pairs = list(enumerate(convert))
    for row in chunk:
        yield tuple(v if f is None or v is None else f(v) for (_, f), v in zip(pairs, row, strict=True))


def _table(entity: type[Base]) -> Table:
    return entity.__table__  # type: ignore[return-value]


def connect_args_for(url: str, schema: str | None) -> dict[str, Any]:
    if schema and make_url(url).get_backend_name() == "postgresql":
        return {"options": f"-csearch_path={schema}"}
    return {}


def prepare(url: str, schema: str | None, say: Callable[[str], None]) -> Store:
    """The hub's store on the (fresh) database, migrated to the newest schema."""
    if schema and make_url(url).get_backend_name() == "postgresql":
        admin = Store(url, [generate_key()])
        with admin.transaction() as s:
            s.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()
    store = Store(url, [generate_key()], connect_args=connect_args_for(url, schema))
    started = time.perf_counter()
    store.upgrade()
    say(f"  schema upgraded to {store.current_revision()} in {time.perf_counter() - started:.1f} s")
    with store.transaction() as s:
        for entity in (CommunityRow, RiderRow, EntryRow):
            if s.execute(text(f"SELECT 1 FROM {_table(entity).name} LIMIT 1")).first() is not None:
                raise SystemExit(f"{store.url} already holds {_table(entity).name}: seed a fresh database")
    return store


def seed(
    url: str,
    sizes: Sizes,
    *,
    schema: str | None = None,
    platform_plugin: str = "riderpass",
    controller_plugin: str = "hikvision",
    freshness_s: int = 120,
    now: datetime | None = None,
    seed_value: int = 9,
    say: Callable[[str], None] = print,
) -> SeedReport:
    """Write the rows :data:`Sizes` asks for into a fresh database; returns the counts."""
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rng = random.Random(seed_value)
    store = prepare(url, schema, say)
    store.dispose()
    loader = Loader(url, schema, say)
    loader.open()
    try:
        _seed(loader, sizes, now, rng, platform_plugin, controller_plugin, freshness_s)
    finally:
        loader.close()
    took = time.perf_counter() - started
    say(f"seeded {sum(loader.rows.values()):,} rows in {took:.1f} s")
    return SeedReport(dict(loader.rows), took)


def _seed(
    loader: Loader,
    sizes: Sizes,
    now: datetime,
    rng: random.Random,
    platform_plugin: str,
    controller_plugin: str,
    freshness_s: int,
) -> None:
    n_communities, per = sizes.communities, sizes.gates_per_community
    if n_communities < 1 or per < 1 or sizes.riders < 1:
        raise ValueError("at least one community, one gate per community and one rider")
    policy = json.loads(json.dumps(policy_to_json(CommunityPolicy())))
    loader.load(
        _table(ConnectionRow),
        ["id", "plugin", "name", "settings", "secrets", "timeout_s", "freshness_s", "enabled", "created_at"],
        [
            (PLATFORM, platform_plugin, "Seeded platform", {}, None, 2.0, freshness_s, True, now - HISTORY),
            (CONTROLLER, controller_plugin, "Seeded gate controllers", {}, None, 2.0, freshness_s, True, now - HISTORY),
        ],
        2,
    )
    loader.load(
        _table(CommunityRow),
        ["id", "name", "address", "timezone", "policy", "geofence", "platform_refs", "created_at"],
        (
            (
                community_id(c),
                f"Garden {c}",
                f"{c} Seed Road",
                "Asia/Shanghai",
                policy,
                [],
                {PLATFORM: f"PC-{c}"},
                now - HISTORY,
            )
            for c in range(n_communities)
        ),
        n_communities,
    )
    loader.load(
        _table(CommunityConnectionRow),
        ["community_id", "connection_id"],
        ((community_id(c), conn) for c in range(n_communities) for conn in (PLATFORM, CONTROLLER)),
        n_communities * 2,
    )
    loader.load(
        _table(GateRow),
        ["id", "community_id", "name", "code", "door_no", "access_connection_id"],
        (
            (gate_id(c, g), community_id(c), f"Gate {g}", gate_code(c, g), str(g + 1), CONTROLLER)
            for c in range(n_communities)
            for g in range(per)
        ),
        n_communities * per,
    )
    first_seen = now - HISTORY
    loader.load(
        _table(RiderRow),
        ["id", "connection_id", "platform_ref", "masked_name", "masked_phone", "status", "first_seen", "last_seen"],
        (
            (r, PLATFORM, rider_ref(r), "王*", "138****0000", "active", first_seen, now - timedelta(seconds=r % 86400))
            for r in range(1, sizes.riders + 1)
        ),
        sizes.riders,
    )
    total = sizes.entries + sizes.open_passes
    # Past entries: (n, community, gate, rider, decision, created_at); drawn once, used twice.
    span = HISTORY.total_seconds()
    step = span / max(sizes.entries, 1)
    start = now - HISTORY
    past_seed, recent_seed = rng.random(), rng.random()

    def past() -> Iterator[tuple[int, int, int, int, str, datetime]]:
        draw = random.Random(past_seed)
        for n in range(sizes.entries):
            roll = draw.random()
            decision = "granted" if roll < 0.90 else "manual_check" if roll < 0.98 else "denied"
            c = draw.randrange(n_communities)
            at = start + timedelta(seconds=n * step + draw.random() * step)
            yield n, c, draw.randrange(per), draw.randrange(1, sizes.riders + 1), decision, at

    def recent() -> Iterator[tuple[int, int, int, int, str, datetime]]:
        draw = random.Random(recent_seed)
        for k in range(sizes.open_passes):
            at = now - timedelta(seconds=draw.random() * 600)
            c = draw.randrange(n_communities)
            yield sizes.entries + k, c, draw.randrange(per), draw.randrange(1, sizes.riders + 1), "granted", at

    denied = [{"code": "too_many_entries", "zh": "进入次数过多", "en": "Too many entries"}]
    manual = [{"code": "platform_unavailable", "zh": "平台暂不可用", "en": "The platform is unavailable"}]
    reasons = {"granted": [], "denied": denied, "manual_check": manual}
    entry_columns = [
        "id",
        "community_id",
        "gate_id",
        "connection_id",
        "rider_id",
        "decision",
        "reasons",
        "order_refs",
        "created_at",
        "decision_ms",
    ]

    def entries() -> Iterator[tuple[Any, ...]]:
        for n, c, g, r, decision, at in past():
            refs = [f"O{n:08d}"] if decision != "manual_check" else []
            yield (
                entry_id(n),
                community_id(c),
                gate_id(c, g),
                PLATFORM,
                r,
                decision,
                reasons[decision],
                refs,
                at,
                95.0,
            )
        for n, c, g, r, decision, at in recent():
            refs = [open_order_ref(n - sizes.entries)]
            yield (entry_id(n), community_id(c), gate_id(c, g), PLATFORM, r, decision, [], refs, at, 95.0)

    loader.load(_table(EntryRow), entry_columns, entries(), total)
    pass_columns = [
        "id",
        "entry_id",
        "gate_id",
        "connection_id",
        "kind",
        "value",
        "valid_from",
        "valid_until",
        "device_ref",
        "revoked_at",
        "revoke_attempts",
    ]

    def passes() -> Iterator[tuple[Any, ...]]:
        for n, c, g, _r, decision, at in past():
            if decision == "granted":
                end = at + PASS_LENGTH
                yield (pass_id(n), entry_id(n), gate_id(c, g), CONTROLLER, "qr", f"{n:012x}", at, end, "", end, 0)
        until = now + timedelta(minutes=30)
        for n, c, g, _r, _decision, at in recent():
            yield (pass_id(n), entry_id(n), gate_id(c, g), CONTROLLER, "qr", f"{n:012x}", at, until, "", None, 0)

    loader.load(_table(PassRow), pass_columns, passes(), round(sizes.entries * 0.9) + sizes.open_passes)
    if sizes.open_passes:
        heard = now - STALE_BY
        order_columns = [
            "connection_id",
            "ref",
            "status",
            "rider_ref",
            "community_ref",
            "building",
            "address",
            "eta",
            "updated_at",
            "received_at",
            "source",
        ]
        eta = now + timedelta(minutes=10)
        loader.load(
            _table(OrderRow),
            order_columns,
            (
                (
                    PLATFORM,
                    open_order_ref(k),
                    "delivering",
                    rider_ref(r),
                    f"PC-{c}",
                    "1",
                    "",
                    eta,
                    heard,
                    heard,
                    "entry",
                )
                for k, (_n, c, _g, r, _d, _at) in enumerate(recent())
            ),
            sizes.open_passes,
        )


def community_id(c: int) -> str:
    return f"c{c:05d}"


def gate_id(c: int, g: int) -> str:
    return f"c{c:05d}-g{g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="sqlite:////abs/path.sqlite or postgresql+psycopg://...")
    parser.add_argument("--schema", help="PostgreSQL: seed into this schema (created when missing)")
    parser.add_argument("--communities", type=int, default=Sizes.communities)
    parser.add_argument("--gates-per-community", type=int, default=Sizes.gates_per_community)
    parser.add_argument("--riders", type=int, default=Sizes.riders)
    parser.add_argument("--entries", type=int, default=Sizes.entries)
    parser.add_argument("--open-passes", type=int, default=0, help="live passes with an order to reconcile")
    parser.add_argument("--platform-plugin", default="riderpass", help="plugin of the seeded platform connection")
    parser.add_argument("--seed", type=int, default=9, help="random seed")
    args = parser.parse_args(argv)
    sizes = Sizes(args.communities, args.gates_per_community, args.riders, args.entries, args.open_passes)
    print(f"seeding {args.database_url} with {sizes}", file=sys.stderr)
    seed(
        args.database_url,
        sizes,
        schema=args.schema,
        platform_plugin=args.platform_plugin,
        seed_value=args.seed,
        say=lambda line: print(line, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
