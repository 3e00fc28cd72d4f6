"""How long the hub takes to decide an entry, and how much of that is the hub itself.

Runs the real engine, built-in plugins and storage against a platform and a gate
controller that answer after a set delay, in several scenarios:

- ``hub only``: upstream answers at once, so everything measured is the hub's own cost
  (policy, wrappers, database reads and the commit);
- ``cold``: verification and orders take ``--platform-ms`` each, the grant ``--gate-ms``:
  identity and orders run concurrently, so the critical path is platform + gate, not
  2 x platform + gate;
- ``common case``: the identity is cached and the order was pushed: only the grant call
  is on the critical path;
- ``platform down``: verification hangs past the connection's timeout; the answer is a
  manual check after the timeout, then, once the circuit opens, at once;
- ``concurrent``: ``--threads`` riders at a time, cold, to show throughput.

Usage::

    python benchmarks/entry_latency.py                 # SQLite in a temporary folder
    python benchmarks/entry_latency.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Compare ratios within one run; absolute numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from hub import hookimpl
from hub.core.clock import Clock
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.errors import CredentialRejected
from hub.core.model import (
    AccessGrant,
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    Gate,
    GrantRequest,
    Order,
    OrderStatus,
    PassKind,
    PluginInfo,
    RiderClaim,
    RiderIdentity,
)
from hub.core.plugins import Hub
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins


class SlowPlatform:
    """Any token ``rider-<n>`` is a rider with one order being delivered."""

    def __init__(self, clock: Clock, delay_s: float, community_id: str) -> None:
        self.clock = clock
        self.delay_s = delay_s
        self.community_id = community_id
        self.hang_s = 0.0  # set to make verification hang (platform down)

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="slowplatform", kinds={"platform"}, version="1")

    @hookimpl
    def hub_verify_rider(self, credential: Credential) -> RiderIdentity:
        time.sleep(self.hang_s or self.delay_s)
        if not credential.value.startswith("rider-"):
            raise CredentialRejected("unknown")
        return RiderIdentity(credential.value.upper(), "王*", "138****0000", cache_seconds=600)

    @hookimpl
    def hub_active_orders(self, rider: RiderClaim) -> list[Order]:
        time.sleep(self.delay_s)
        ref = rider.platform_ref or rider.credential.value.upper()
        eta = self.clock.now() + timedelta(minutes=10)
        return [Order(f"O-{ref}", OrderStatus.DELIVERING, ref, self.community_id, "3", eta=eta)]


class SlowGate:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="slowgate", kinds={"access"}, version="1")

    @hookimpl
    def hub_grant_access(self, grant: GrantRequest) -> AccessGrant:
        time.sleep(self.delay_s)
        return AccessGrant(grant.grant_id, PassKind.QR, uuid.uuid4().hex[:12], grant.valid_from, grant.valid_until)


class Bench:
    """One hub with its own community, connections and gate. On SQLite each bench gets a
    fresh file; on PostgreSQL the ids are unique so benches can share a database."""

    def __init__(self, url: str | None, platform_ms: float, gate_ms: float, timeout_s: float) -> None:
        tag = uuid.uuid4().hex[:8]
        self.community_id, self.platform_id, self.gate_code = f"bench-{tag}", f"plat-{tag}", f"north-{tag}"
        clock = Clock()
        self.store = Store(
            url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}", [generate_key()], clock=clock
        )
        self.store.upgrade()
        hub = Hub()
        self.platform = SlowPlatform(clock, platform_ms / 1000, self.community_id)
        for plugin in [
            *builtin_plugins(clock, failure_threshold=3, reset_after_s=600),
            self.platform,
            SlowGate(gate_ms / 1000),
        ]:
            hub.register(plugin)
        policy = CommunityPolicy(max_entries_per_hour=1000)
        self.store.add_community(Community(self.community_id, "Bench Garden", policy=policy))
        ctl = f"ctl-{tag}"
        for conn_id, plugin in ((self.platform_id, "slowplatform"), (ctl, "slowgate")):
            self.store.add_connection(
                Connection(conn_id, plugin, conn_id, timeout_s=timeout_s), (), [self.community_id]
            )
        self.store.add_gate(Gate(f"gate-{tag}", self.community_id, "North", self.gate_code, "1", ctl))
        self.engine = EntryEngine(hub, self.store, clock, max_workers=64)

    def enter(self, token: str, **kwargs) -> float:
        """Decide one entry; milliseconds it took."""
        start = time.perf_counter()
        request = EntryRequest(self.gate_code, self.platform_id, Credential("token", token), **kwargs)
        entry = self.engine.decide(request)
        assert entry.decision.value in {"granted", "manual_check"}, entry.reasons
        return (time.perf_counter() - start) * 1000

    def push(self, order: Order) -> None:
        self.store.upsert_order(self.platform_id, order, source="push")

    def close(self) -> None:
        self.engine.close()
        self.store.dispose()


def summary(name: str, samples: list[float], critical_ms: float) -> str:
    median = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    return f"| {name} | {len(samples)} | {median:.1f} | {p95:.1f} | {critical_ms:.0f} | {median - critical_ms:.1f} |"


def run(args: argparse.Namespace) -> list[str]:
    rows = [
        "| scenario | entries | median ms | p95 ms | upstream critical path ms | hub overhead ms (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    n, p, g, url = args.entries, args.platform_ms, args.gate_ms, args.database_url

    bench = Bench(url, 0, 0, timeout_s=5)
    for i in range(20):
        bench.enter(f"rider-warm{i}")
    rows.append(summary("hub only (upstream answers at once)", [bench.enter(f"rider-a{i}") for i in range(n)], 0))
    bench.close()

    bench = Bench(url, p, g, timeout_s=args.timeout_ms / 1000)
    for i in range(5):
        bench.enter(f"rider-warm{i}")
    cold = [bench.enter(f"rider-b{i}") for i in range(n)]
    rows.append(summary("cold: verify + orders concurrent, then grant", cold, p + g))

    common = []
    for i in range(n):
        token = f"rider-c{i}"
        bench.enter(token)  # caches the identity
        bench.push(Order(f"P-{i}", OrderStatus.DELIVERING, token.upper(), bench.community_id))
        common.append(bench.enter(token, order_ref=f"P-{i}"))
    rows.append(summary("common case: cached identity, pushed order", common, g))

    bench.platform.hang_s = args.timeout_ms / 1000 * 3
    down = [bench.enter(f"rider-d{i}") for i in range(3)]
    rows.append(summary("platform down: until the circuit opens (3 calls)", down, args.timeout_ms))
    rows.append(summary("platform down: circuit open", [bench.enter(f"rider-e{i}") for i in range(n)], 0))
    bench.close()

    bench = Bench(url, p, g, timeout_s=args.timeout_ms / 1000)
    start = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        samples = list(pool.map(bench.enter, (f"rider-t{i}" for i in range(n * 2))))
    elapsed = time.perf_counter() - start
    rows.append(summary(f"concurrent: {args.threads} riders at a time, cold", samples, p + g))
    rows.append(f"\nThroughput with {args.threads} concurrent riders: {len(samples) / elapsed:.0f} entries/s")
    bench.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--entries", type=int, default=100, help="entries per scenario")
    parser.add_argument("--platform-ms", type=float, default=60, help="platform call latency")
    parser.add_argument("--gate-ms", type=float, default=30, help="grant call latency")
    parser.add_argument("--timeout-ms", type=float, default=300, help="connection timeout")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {args.database_url or 'SQLite'}", file=sys.stderr)
    for row in run(args):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
