"""End-to-end entry benchmark: the hub in production mode against simulated upstreams,
side by side with a naive hand-written integration (``benchmarks/baseline.py``).

``python -m benchmarks.entry [--database sqlite|postgres] [--duration S]
[--concurrency 1,16,64] [--scenario pull,push,codes] [--smoke] [--out DIR]``

Starts, each in its own process: the RiderPass and Hikvision simulators (with injected
latency and error rate), the hub (``last100 serve`` on a fresh instance, seeded with a
community, a gate, both connections and an API key), the baseline under gunicorn
(gthread), and for each measurement a load generator (``benchmarks/loadgen.py``). See
``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
COMMUNITY = "bench"
PLATFORM = "bench-riderpass"
FAULTY = "bench-riderpass-faulty"
CONTROLLER = "bench-hikvision"
GATE_CODE = "bench-north"
RIDERS = 20000
SCENARIOS = ("pull", "push", "codes", "faults")
#: Scenario (f): the faulty platform fails this share of its calls (503), and answers
#: this share of the others this late; its connection times out after FAULTY_TIMEOUT_S.
FAULTY_ERROR_RATE, FAULTY_SLOW_RATE, FAULTY_SLOW_MS, FAULTY_TIMEOUT_S = 0.2, 0.1, 2000, 1.0


# -- processes --------------------------------------------------------------------------


def forget_redis_keys(url: str, prefix: str) -> None:
    """Delete every key of the Redis at ``url`` that starts with ``prefix``: what a run
    left there (circuits and their index have no expiry)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(f"{prefix}*", count=1000):
            client.delete(key)
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.args} did not listen on {port}")


def read_settings(proc: subprocess.Popen) -> dict[str, Any]:
    """The connection settings a simulator prints (indented JSON) on start."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise RuntimeError(f"{proc.args} printed no settings")


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (kept open for the process)
        proc = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **(env or {})}, stderr=log, stdout=kw.pop("stdout", log), **kw
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


# -- measuring ---------------------------------------------------------------------------


class Watch:
    """CPU seconds and peak RSS of a process (and its children) during a load run."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()

    def _procs(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def cpu(self) -> float:
        total = 0.0
        for p in self._procs():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for p in self._procs():
                with contextlib.suppress(psutil.Error):
                    self.peak_rss = max(self.peak_rss, p.memory_info().rss)

    def __enter__(self) -> Watch:
        self.peak_rss, self._stop = 0, threading.Event()
        self.cpu_start = self.cpu()
        psutil.cpu_percent(None)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = self.cpu() - self.cpu_start
        self.machine_cpu_percent = psutil.cpu_percent(None)  # every core, every process, since __enter__


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def drive(
    workdir: Path,
    port: int,
    path: str,
    headers: dict,
    bodies: list[str],
    concurrency: int,
    duration: float,
    name: str = "loadgen",
):
    spec = {"host": "127.0.0.1", "port": port, "path": path, "headers": headers}
    spec.update(bodies=bodies, concurrency=concurrency, duration=duration)
    spec_file, out_file = workdir / f"{name}-spec.json", workdir / f"{name}-out.json"
    spec_file.write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "benchmarks.loadgen", str(spec_file), str(out_file)], cwd=ROOT, check=True)
    return json.loads(out_file.read_text())


def summarise(raw: dict, watch: Watch, floor_ms: float, bodies: int) -> dict[str, Any]:
    lat = raw["latencies"]
    if len(lat) > bodies:
        print(f"warning: {len(lat)} requests for {bodies} riders: some riders entered twice", file=sys.stderr)
    decisions = raw["decisions"]
    n = len(lat)
    p50 = percentile(lat, 50)
    granted, manual = decisions.get("granted", 0), decisions.get("manual_check", 0)
    errors = sum(v for k, v in decisions.items() if k not in ("granted", "manual_check"))
    return {
        "requests": n,
        "throughput_per_s": n / raw["elapsed_s"],
        "p50_ms": p50,
        "p95_ms": percentile(lat, 95),
        "p99_ms": percentile(lat, 99),
        "floor_ms": floor_ms,
        "overhead_ms": p50 - floor_ms,
        "cpu_ms_per_decision": watch.cpu_s * 1000 / n if n else float("nan"),
        "peak_rss_mb": watch.peak_rss / 2**20,
        "machine_cpu_percent": watch.machine_cpu_percent,
        "granted": granted,
        "manual": manual,
        "errors": errors,
        "statuses": raw["statuses"],
        "decisions": raw["decisions"],
    }


# -- the run -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.procs = Processes(workdir)
        self.py = sys.executable
        self.hub_port, self.baseline_port = free_port(), free_port()
        #: The hub's keys in the shared-state Redis (``--shared-state``) start with it.
        self.shared_prefix = f"bench-{uuid.uuid4().hex[:12]}"
        self.next_rider = 0

    def riders(self, count: int) -> list[str]:
        start = self.next_rider
        self.next_rider = (self.next_rider + count) % RIDERS
        return [f"bench-rider-{(start + i) % RIDERS}" for i in range(count)]

    def start_simulators(self) -> None:
        a = self.args
        push_url = f"http://127.0.0.1:{self.hub_port}/api/v1/push/{PLATFORM}"
        self.rp_port, self.hik_port = free_port(), free_port()
        rp = self.procs.start(
            "riderpass",
            [
                *(self.py, "-m", "last100_riderpass.simulator", "--port", str(self.rp_port), "--push-url", push_url),
                *("--latency-ms", str(a.platform_ms), "--error-rate", str(a.error_rate), "--riders", str(RIDERS)),
                *("--community", COMMUNITY, "--cache-seconds", "3600"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.rp_settings = read_settings(rp)
        hik = self.procs.start(
            "hikvision",
            [
                *(self.py, "-m", "last100_hikvision.simulator", "--port", str(self.hik_port)),
                *("--latency-ms", str(a.grant_ms / 2), "--error-rate", str(a.error_rate)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.hik_settings = read_settings(hik)
        started = [rp, hik]
        self.faulty_settings = None
        if "faults" in a.scenario:
            self.faulty_port = free_port()
            faulty = self.procs.start(
                "riderpass-faulty",
                [
                    *(self.py, "-m", "last100_riderpass.simulator", "--port", str(self.faulty_port)),
                    *("--push-url", f"http://127.0.0.1:{self.hub_port}/api/v1/push/{FAULTY}"),
                    *("--latency-ms", str(a.platform_ms), "--riders", str(RIDERS), "--community", COMMUNITY),
                    *("--error-rate", str(FAULTY_ERROR_RATE), "--slow-rate", str(FAULTY_SLOW_RATE)),
                    *("--slow-ms", str(FAULTY_SLOW_MS), "--cache-seconds", "3600"),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            self.faulty_settings = read_settings(faulty)
            started.append(faulty)
            wait_port(self.faulty_port, faulty)
        wait_port(self.rp_port, rp)
        wait_port(self.hik_port, hik)
        # Keep reading their stdout so a full pipe never blocks them.
        for proc in started:
            threading.Thread(target=proc.stdout.read, daemon=True).start()

    def prepare_instance(self) -> list[str]:
        """Create, configure and seed the hub's instance; returns the command line that
        runs ``last100`` on it (``[*cli, "serve", ...]``)."""
        instance = self.workdir / "instance"
        cli = [self.py, "-m", "hub.cli", "--instance", str(instance)]
        init = [*cli, "init"]
        if self.args.database == "postgres":
            init += ["--database-url", self.args.database_url]
        subprocess.run(init, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        # One gate and a few riders take far more entries than a real gate: no rate limits.
        with (instance / "last100.toml").open("a", encoding="utf-8") as config:
            config.write('rate_limit_per_gate = ""\nrate_limit_per_rider = ""\nrate_limit_per_api_key = ""\n')
            if self.args.shared_state:
                config.write(f'shared_state_url = "{self.args.shared_state}"\n')
                config.write(f'shared_state_key_prefix = "{self.shared_prefix}"\n')
        self.seed(instance)
        return cli

    def start_hub(self) -> None:
        cli = self.prepare_instance()
        serve = [*cli, "serve", "--port", str(self.hub_port)]
        serve += ["--workers", str(self.args.workers), "--threads", str(self.args.threads)]
        hub = self.procs.start("hub", serve)
        wait_port(self.hub_port, hub)
        self.hub_pid = hub.pid

    def seed(self, instance: Path) -> None:
        from hub.core import apikeys
        from hub.core.config import load_config
        from hub.core.model import Community, CommunityPolicy, Connection, Gate
        from hub.core.plugins import secret_fields
        from hub.runtime import build_runtime

        rt = build_runtime(load_config(instance))
        try:
            store, hub = rt.store, rt.hub
            policy = CommunityPolicy(max_entries_per_hour=100000, max_pass_minutes=30)
            store.add_community(Community(COMMUNITY, "Bench Garden", policy=policy))
            connections = [
                (PLATFORM, "riderpass", self.rp_settings, 5.0),
                (CONTROLLER, "hikvision", self.hik_settings, 5.0),
            ]
            if self.faulty_settings is not None:
                connections.append((FAULTY, "riderpass", self.faulty_settings, FAULTY_TIMEOUT_S))
            for conn_id, plugin, settings, timeout_s in connections:
                validated = hub.validate_settings(plugin, settings)
                connection = Connection(conn_id, plugin, conn_id, validated, timeout_s=timeout_s)
                store.add_connection(connection, secret_fields(hub.plugin(plugin).info), [COMMUNITY])
            store.add_gate(Gate("north", COMMUNITY, "North", GATE_CODE, "1", CONTROLLER))
            _, self.api_key = apikeys.create(store, "bench", [apikeys.ALL], [COMMUNITY], actor="bench")
            self.gate_code = rt.gate_codes.sign(GATE_CODE)
        finally:
            rt.close()

    def start_baseline(self) -> None:
        env = {
            "BASELINE_RIDERPASS": json.dumps(self.rp_settings),
            "BASELINE_HIKVISION": json.dumps(self.hik_settings),
            "BASELINE_DB": str(self.workdir / "baseline.sqlite"),
            "BASELINE_COMMUNITY": COMMUNITY,
        }
        args = [self.py, "-m", "gunicorn", "-k", "gthread", "--threads", str(self.args.threads)]
        args += ["-w", str(self.args.workers), "-b", f"127.0.0.1:{self.baseline_port}", "benchmarks.baseline:app"]
        proc = self.procs.start("baseline", args, env=env)
        wait_port(self.baseline_port, proc)
        self.baseline_pid = proc.pid

    # -- floor ------------------------------------------------------------------------

    def measure_floor(self, samples: int) -> dict[str, float]:
        """Each upstream call timed directly against the simulators, one at a time."""
        from benchmarks import baseline

        baseline.RIDERPASS, baseline.HIKVISION = self.rp_settings, self.hik_settings
        times: dict[str, list[float]] = {"identity": [], "orders": [], "grant": []}
        for token in self.riders(samples):
            cred = {"credential": {"kind": "token", "value": token}}
            calls = {
                "identity": partial(baseline.platform_call, "/riders/verify", cred),
                "orders": partial(baseline.platform_call, "/orders/active", {"community_id": COMMUNITY, "rider": cred}),
                "grant": partial(baseline.grant, os.urandom(8).hex()),
            }
            for name, call in calls.items():
                start = time.perf_counter()
                try:
                    call()
                except requests.RequestException:
                    continue
                times[name].append((time.perf_counter() - start) * 1000)
        p50 = {k: statistics.median(v) for k, v in times.items()}
        return {
            **{f"{k}_ms": v for k, v in p50.items()},
            "pull_ms": max(p50["identity"], p50["orders"]) + p50["grant"],
            "grant_only_ms": p50["grant"],
        }

    # -- scenarios ------------------------------------------------------------------------

    def hub_body(self, credential: dict, order_ref: str | None = None, connection: str = PLATFORM) -> str:
        body = {"gate_code": self.gate_code, "connection": connection, "credential": credential}
        if order_ref:
            body["order_ref"] = order_ref
        return json.dumps(body)

    def bodies(self, scenario: str, count: int) -> list[str]:
        """Request bodies for ``count`` riders not used before in this run; for push and
        codes, with the riders' order state pushed ahead (and, for push, the identity
        cached by an earlier entry) as the platform and the rider app would."""
        tokens = self.riders(count)
        if scenario == "pull":
            return [self.hub_body({"kind": "token", "value": t}) for t in tokens]
        self.push_orders(tokens, cache_identity=scenario == "push")
        if scenario == "push":
            return [self.hub_body({"kind": "token", "value": t}, f"BO{t.rsplit('-', 1)[1]}") for t in tokens]
        return self.entry_codes(tokens)

    def entry_codes(self, tokens: list[str]) -> list[str]:
        """One fresh signed entry code per rider, as the rider app shows it (the hub
        accepts only short-lived codes: 120 s)."""
        url = f"http://127.0.0.1:{self.rp_port}/_sim/entry-codes"
        session = requests.Session()

        def issue(token: str) -> str:
            reply = session.post(url, json={"token": token, "community_id": COMMUNITY, "ttl_s": 120}, timeout=10)
            reply.raise_for_status()
            return self.hub_body({"kind": "entry_code", "value": reply.json()["code"]})

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(issue, tokens))

    def push_orders(self, tokens: list[str], cache_identity: bool) -> None:
        """The platform pushes each rider's order state (signed, through the simulator's
        ``/_sim/orders/<ref>/status``); with ``cache_identity`` the rider first enters
        once (a pull entry) so the hub holds the verified identity."""
        session = requests.Session()
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        sim = f"http://127.0.0.1:{self.rp_port}/_sim/orders"

        def warm(token: str) -> None:
            n = token.rsplit("-", 1)[1]
            if cache_identity:
                pull = self.hub_body({"kind": "token", "value": token})
                session.post(f"http://127.0.0.1:{self.hub_port}/api/v1/entries", data=pull, headers=headers, timeout=30)
            reply = session.post(f"{sim}/BO{n}/status", json={"status": "delivering"}, timeout=30)
            push = reply.json().get("push") or {}
            if push.get("status") not in (200, 202, 204):
                raise RuntimeError(f"push of BO{n} failed: {push}")

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(warm, tokens))

    def body_count(self, scenario: str, concurrency: int) -> int:
        if self.args.smoke:
            return 40 * concurrency + 60
        # Enough distinct riders that none repeats within a level (push: warmed ahead).
        per_s = {"pull": 250, "push": 350, "codes": 350, "faults": 250}[scenario]
        return int(min(per_s, 40 * concurrency) * self.args.duration) + 100

    def run(self) -> dict[str, Any]:
        a = self.args
        self.start_simulators()
        self.start_hub()
        self.start_baseline()
        floor = self.measure_floor(5 if a.smoke else 30)
        print(f"floor: {json.dumps({k: round(v, 1) for k, v in floor.items()})}", file=sys.stderr)
        hub_headers = {"Authorization": f"Bearer {self.api_key}"}
        results: dict[str, Any] = {}
        warm = [self.hub_body({"kind": "token", "value": t}) for t in self.riders(20)]
        drive(self.workdir, self.hub_port, "/api/v1/entries", hub_headers, warm, 2, 1)
        faults = None
        for scenario in a.scenario:
            if scenario == "faults":
                faults = self.run_faults(floor["pull_ms"], hub_headers)
                continue
            floor_ms = floor["pull_ms"] if scenario == "pull" else floor["grant_only_ms"]
            results[scenario] = {"hub": {}, "baseline": {}}
            for c in a.concurrency:
                bodies = self.bodies(scenario, self.body_count(scenario, c))
                with Watch(self.hub_pid) as watch:
                    raw = drive(self.workdir, self.hub_port, "/api/v1/entries", hub_headers, bodies, c, a.duration)
                row = results[scenario]["hub"][str(c)] = summarise(raw, watch, floor_ms, len(bodies))
                print(f"{scenario:6} hub      c={c:<3} {_line(row)}", file=sys.stderr)
                if scenario == "pull":
                    tokens = [json.dumps({"token": t}) for t in self.riders(self.body_count(scenario, c))]
                    with Watch(self.baseline_pid) as watch:
                        raw = drive(self.workdir, self.baseline_port, "/entries", {}, tokens, c, a.duration)
                    row = results[scenario]["baseline"][str(c)] = summarise(raw, watch, floor_ms, len(tokens))
                    print(f"{scenario:6} baseline c={c:<3} {_line(row)}", file=sys.stderr)
        return {"floor": floor, "results": results, "faults": faults}

    def run_faults(self, floor_ms: float, headers: dict) -> dict[str, Any]:
        """Scenario (f): pull entries through a healthy platform alone, then again while
        as many riders of a faulty platform (FAULTY_*: failing and slow calls) enter at
        the same gate; then check every faulty-platform grant in the hub's database."""
        c, duration, path = self.args.fault_concurrency, self.args.duration, "/api/v1/entries"

        def pull(connection: str) -> list[str]:
            tokens = self.riders(self.body_count("faults", c))
            return [self.hub_body({"kind": "token", "value": t}, connection=connection) for t in tokens]

        with Watch(self.hub_pid) as watch:
            raw = drive(self.workdir, self.hub_port, path, headers, healthy := pull(PLATFORM), c, duration)
        alone = summarise(raw, watch, floor_ms, len(healthy))
        print(f"faults healthy alone      c={c:<3} {_line(alone)}", file=sys.stderr)
        healthy, faulty = pull(PLATFORM), pull(FAULTY)
        raws: dict[str, Any] = {}

        def run(name: str, bodies: list[str]) -> None:
            raws[name] = drive(self.workdir, self.hub_port, path, headers, bodies, c, duration, name=name)

        with Watch(self.hub_pid) as watch:
            both = [threading.Thread(target=run, args=(n, b)) for n, b in (("healthy", healthy), ("faulty", faulty))]
            for thread in both:
                thread.start()
            for thread in both:
                thread.join()
        beside = summarise(raws["healthy"], watch, floor_ms, len(healthy))
        failing = summarise(raws["faulty"], watch, floor_ms, len(faulty))
        print(f"faults healthy beside     c={c:<3} {_line(beside)}", file=sys.stderr)
        print(f"faults faulty             c={c:<3} {_line(failing)}", file=sys.stderr)
        return {
            "concurrency": c,
            "healthy_alone": alone,
            "healthy_beside_faulty": beside,
            "faulty": failing,
            "faulty_grants": self.check_grants(FAULTY),
        }

    def check_grants(self, connection_id: str) -> dict[str, int]:
        """From the hub's database: the connection's entries by decision, and how many
        were granted although a check (identity or orders) did not answer ``ok``."""
        from sqlalchemy import create_engine, text

        from hub.core.config import load_config

        engine = create_engine(load_config(self.workdir / "instance").effective_database_url)
        try:
            with engine.connect() as db:
                decisions = dict(
                    db.execute(
                        text("SELECT decision, COUNT(*) FROM entries WHERE connection_id = :c GROUP BY decision"),
                        {"c": connection_id},
                    ).all()
                )
                unchecked = db.scalar(
                    text(
                        "SELECT COUNT(*) FROM entries e WHERE e.connection_id = :c AND e.decision = 'granted' AND ("
                        " NOT EXISTS (SELECT 1 FROM hook_calls h WHERE h.entry_id = e.id"
                        "   AND h.hook = 'hub_verify_rider' AND h.outcome IN ('ok', 'cache'))"
                        " OR NOT EXISTS (SELECT 1 FROM hook_calls h WHERE h.entry_id = e.id"
                        "   AND h.hook = 'hub_active_orders' AND h.outcome = 'ok'))"
                    ),
                    {"c": connection_id},
                )
        finally:
            engine.dispose()
        return {**{f"{k}": v for k, v in decisions.items()}, "granted_without_checks": unchecked}


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['throughput_per_s']:7.1f}/s p50 {row['p50_ms']:7.1f} p99 {row['p99_ms']:7.1f} "
        f"cpu {row['cpu_ms_per_decision']:5.1f} ms  granted {row['granted']} manual {row['manual']} "
        f"errors {row['errors']}"
    )


# -- reporting ---------------------------------------------------------------------------


def table(report: dict[str, Any]) -> str:
    head = (
        "| scenario | system | conc | req/s | p50 ms | p95 ms | p99 ms | floor ms | overhead ms | "
        "CPU ms/decision | peak RSS MB | machine CPU % | granted | manual | errors | "
        "hub ÷ baseline (a): req/s · CPU |"
    )
    rows = [head, "|" + "---|" * 16]
    results = report["results"]
    base = results.get("pull", {}).get("baseline", {})
    for scenario, systems in results.items():
        for system in ("hub", "baseline"):
            for c, r in systems.get(system, {}).items():
                ratio = ""
                if system == "hub" and c in base:
                    b = base[c]
                    ratio = (
                        f"{r['throughput_per_s'] / b['throughput_per_s']:.2f}× · "
                        f"{r['cpu_ms_per_decision'] / b['cpu_ms_per_decision']:.2f}×"
                    )
                rows.append(
                    f"| {scenario} | {system} | {c} | {r['throughput_per_s']:.1f} | {r['p50_ms']:.1f} | "
                    f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['floor_ms']:.1f} | {r['overhead_ms']:.1f} | "
                    f"{r['cpu_ms_per_decision']:.2f} | {r['peak_rss_mb']:.0f} | {r['machine_cpu_percent']:.0f} | "
                    f"{r['granted']} | {r['manual']} | "
                    f"{r['errors']} | {ratio} |"
                )
    return "\n".join(rows)


def fault_table(faults: dict[str, Any]) -> str:
    """Scenario (f): the healthy platform's riders alone and beside the faulty one's."""
    rows = [
        "| traffic (scenario f) | conc. | req/s | p50 ms | p99 ms | granted | manual | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, key in (
        ("healthy platform alone", "healthy_alone"),
        ("healthy platform, beside the faulty one", "healthy_beside_faulty"),
        ("faulty platform", "faulty"),
    ):
        r = faults[key]
        rows.append(
            f"| {label} | {faults['concurrency']} | {r['throughput_per_s']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['granted']} | {r['manual']} | {r['errors']} |"
        )
    ratio = faults["healthy_beside_faulty"]["p50_ms"] / faults["healthy_alone"]["p50_ms"]
    grants = faults["faulty_grants"]
    rows.append(
        f"\nhealthy p50 beside the faulty platform: {ratio:.2f}× alone; faulty platform's entries in the "
        f"database: {json.dumps(grants)} (granted_without_checks must be 0)"
    )
    return "\n".join(rows)


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4), squeeze=False)
    for ax, (scenario, systems) in zip(axes[0], results.items(), strict=True):
        for system, style in (("hub", "-"), ("baseline", "--")):
            rows = systems.get(system, {})
            label = system
            if not rows and system == "baseline":  # the baseline only pulls: show it as the reference
                rows, label = results.get("pull", {}).get("baseline", {}), "baseline (pull)"
            if not rows:
                continue
            conc = [int(c) for c in rows]
            for q, marker in (("p50", "o"), ("p95", "s"), ("p99", "^")):
                ax.plot(conc, [r[f"{q}_ms"] for r in rows.values()], style, marker=marker, label=f"{label} {q}")
        floor = next(iter(systems["hub"].values()))["floor_ms"] if systems.get("hub") else None
        if floor is not None:
            ax.axhline(floor, color="grey", linestyle=":", label="floor")
        ax.set_xscale("log", base=2)
        ax.set_xticks(report["settings"]["concurrency"], [str(c) for c in report["settings"]["concurrency"]])
        ax.set_yscale("log")
        ax.set_title(f"scenario: {scenario}")
        ax.set_xlabel("concurrency")
        ax.set_ylabel("latency ms")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
        help="with --database postgres: an empty database on 127.0.0.1 (default: $BENCH_DATABASE_URL)",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated client counts")
    parser.add_argument("--scenario", default=",".join(SCENARIOS), help="comma-separated: pull, push, codes")
    parser.add_argument("--platform-ms", type=float, default=50, help="identity and orders latency")
    parser.add_argument("--grant-ms", type=float, default=20, help="grant latency (two ISAPI writes of half each)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of upstream calls answered 503")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes, the hub's and the baseline's (gunicorn when > 1)"
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="threads per server process, the hub's and the baseline's"
    )
    parser.add_argument(
        "--shared-state",
        default="",
        help="the hub's shared_state_url, e.g. redis://127.0.0.1:6379/0 (default: each process keeps its own)",
    )
    parser.add_argument(
        "--fault-concurrency", type=int, default=8, help="scenario faults: clients of each platform at once"
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds, concurrency 1 and 4 (for CI)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.concurrency, args.fault_concurrency = 1.0, "1,4", 2
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.scenario = [s.strip() for s in args.scenario.split(",")]
    if unknown := set(args.scenario) - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="last100-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        try:
            report = bench.run()
        finally:
            bench.procs.stop()
            if args.shared_state:
                forget_redis_keys(args.shared_state, f"{bench.shared_prefix}:")
    report["settings"] = {
        "database": args.database,
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "platform_ms": args.platform_ms,
        "grant_ms": args.grant_ms,
        "error_rate": args.error_rate,
        "hub": f"last100 serve --workers {args.workers} --threads {args.threads}",
        "shared_state": args.shared_state or "in each process",
        "baseline": f"gunicorn gthread, {args.workers} worker(s), {args.threads} threads",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    stamp = "smoke" if args.smoke else datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    (out / f"entry-{stamp}.json").write_text(json.dumps(report, indent=2))
    if report["results"]:
        chart(report, out / f"entry-{stamp}.png")
        print(table(report))
    if report["faults"]:
        print(fault_table(report["faults"]))
    print(f"\nwrote {out / f'entry-{stamp}.json'} and .png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
