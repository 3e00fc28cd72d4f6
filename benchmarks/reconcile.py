"""The reconciliation job over many open passes (issue 9, scenario e).

Usage::

    python -m benchmarks.reconcile                                   # 100,000 passes, SQLite
    python -m benchmarks.reconcile --passes 100000 --latency-ms 50 --workers 128 --batch-size 500
    python -m benchmarks.reconcile --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds ``--passes`` live passes whose orders the hub last heard of an hour ago as still
being delivered (with :mod:`benchmarks.seed`, on 100 communities), then runs the real
``orders.reconcile`` job (built-in plugins, storage, audit) through
:func:`hub.core.scheduler.run_job`, run after run, until no order is due any more, and
prints the passes reconciled per second and the total time.

The platform is an in-process plugin answering ``hub_get_order`` after
``--latency-ms`` (``--delivered`` of the orders delivered, the rest still on their
way), not the riderpass simulator over loopback: 100,000 HTTP calls would measure the
adapter's HTTP client and the simulator's CPU on this 2-core machine as much as the
job, whereas the issue's question is what the hub's own job costs around a platform of
a given latency.

"Reconciled within 60 s" means: from a backlog of ``--passes`` due orders, every one
asked about and its answer stored (delivered ones cutting their pass, audited), with
the job configured by ``--limit`` / ``--workers`` / ``--batch-size`` (the hub's
:class:`~hub.core.reconcile.ReconcileSettings`; the defaults, 2,000 a run and 4 calls
at once, would need 50 runs).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from benchmarks.seed import Sizes, connect_args_for, seed
from hub import hookimpl
from hub.core.clock import Clock
from hub.core.jobs import JobContext
from hub.core.model import Connection, Order, OrderStatus, PluginInfo
from hub.core.plugins import Hub
from hub.core.reconcile import ReconcileSettings
from hub.core.scheduler import run_job
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins

PLUGIN = "benchplatform"


class LaggingPlatform:
    """Answers every order after a delay: delivered for a share of them (by ref)."""

    def __init__(self, clock: Clock, latency_s: float, delivered: float) -> None:
        self.clock = clock
        self.latency_s = latency_s
        self.every = round(1 / delivered) if delivered > 0 else 0
        self.calls = 0

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=PLUGIN, kinds={"platform"}, version="1")

    @hookimpl
    def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
        self.calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        n = int(order_ref.rsplit("-", 1)[1])
        status = OrderStatus.DELIVERED if self.every and n % self.every == 0 else OrderStatus.DELIVERING
        return Order(order_ref, status, "", "", "", updated_at=self.clock.now())


def run(args: argparse.Namespace, say=print) -> dict[str, float]:
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'reconcile.sqlite'}"
    postgres = url.startswith("postgresql")
    schema = args.schema or (f"reconcile_{uuid.uuid4().hex[:8]}" if postgres else None)
    sizes = Sizes(communities=100, gates_per_community=5, riders=max(10, args.passes), entries=0)
    sizes = Sizes(**{**sizes.__dict__, "open_passes": args.passes})
    started = time.perf_counter()
    seed(url, sizes, schema=schema, platform_plugin=PLUGIN, say=lambda line: None)
    say(f"seeded {args.passes:,} open passes in {time.perf_counter() - started:.1f} s ({url}, schema {schema})")
    clock = Clock()
    store = Store(url, [generate_key()], clock=clock, connect_args=connect_args_for(url, schema))
    platform = LaggingPlatform(clock, args.latency_ms / 1000, args.delivered)
    settings = ReconcileSettings(limit=args.limit or args.passes, workers=args.workers, batch_size=args.batch_size)
    hub = Hub()
    for plugin in [*builtin_plugins(clock, reconcile=settings), platform]:
        hub.register(plugin)
    [spec] = [s for s in hub.jobs() if s.id == "orders.reconcile"]
    context = JobContext(hub, store, clock)
    profiler = cProfile.Profile() if args.profile else None
    runs = items = 0
    started = time.perf_counter()
    try:
        if profiler:
            profiler.enable()
        while True:
            result = run_job(spec, context)
            runs += 1
            if not result.ok:
                raise SystemExit(f"run {runs} failed: {result.error}")
            items += result.items
            say(f"  run {runs}: {result.items:,} orders in {result.duration_s:.1f} s")
            # Done once every order of the backlog was asked (a long run lets the first
            # answers go stale again: asking them twice is not the backlog).
            if result.items == 0 or items >= args.passes or not store.orders_to_reconcile(1):
                break
        took = time.perf_counter() - started
    finally:
        if profiler:
            profiler.disable()
    left = len(store.orders_to_reconcile(args.passes + 1))
    with store.transaction() as s:
        soon = clock.now() + timedelta(minutes=10)
        cut = s.execute(
            text("SELECT count(*) FROM passes WHERE revoked_at IS NULL AND valid_until <= :soon"), {"soon": soon}
        ).scalar_one()
    store.dispose()
    if postgres and not args.schema:
        admin = Store(url, [generate_key()])
        with admin.transaction() as s:
            s.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    say(
        f"reconciled {items:,} orders of {args.passes:,} open passes in {took:.1f} s over {runs} run(s): "
        f"{items / took:,.0f} passes/s; {cut:,} passes cut to the exit grace; {left:,} still due; "
        f"{platform.calls:,} platform calls (limit {settings.limit:,}, {settings.workers} workers, "
        f"batches of {settings.batch_size}, {args.latency_ms:g} ms a call)"
    )
    if profiler:
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(30)
        if args.profile != "-":
            stats.dump_stats(args.profile)
    return {"passes": args.passes, "orders": items, "seconds": took, "runs": runs, "left": left, "cut": cut}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument(
        "--schema", help="PostgreSQL: seed into this (fresh) schema and keep it; default: a temporary one"
    )
    parser.add_argument("--passes", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--delivered", type=float, default=0.5, help="share of orders the platform says are delivered")
    parser.add_argument("--limit", type=int, default=0, help="orders per run (default: --passes)")
    parser.add_argument("--workers", type=int, default=128, help="platform calls at once")
    parser.add_argument("--batch-size", type=int, default=500, help="answers stored per transaction")
    parser.add_argument("--profile", help="cProfile the job; write the stats to this file ('-': print only)")
    args = parser.parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
