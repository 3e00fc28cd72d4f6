"""Soak: mixed traffic against the hub on loopback for minutes, watching that nothing
fails and that the server's memory and open files do not grow.

``python -m benchmarks.soak [--minutes 3 | --seconds S] [--warmup S] [--cycle S]
[--database sqlite|postgres] [--out DIR]``

Starts the entry benchmark's processes (``benchmarks/entry.py``: the RiderPass and
Hikvision simulators and the hub, ``last100 serve`` on a fresh seeded instance, plus a
console user), then runs the traffic in cycles of ``--cycle`` seconds: each cycle
prepares fresh entry codes and pushes the riders' order states (through the simulator,
signed, to the hub), then runs at once

- the load generator (``benchmarks/loadgen.py``, one process per scenario) sending
  entries of the three scenarios: pull, push and codes;
- "browsers" (this process, ``requests``) going round: a pull entry, its lookup
  (``GET /api/v1/entries/{id}``), the rider's exit, an order push, the console's
  dashboard, entries list, the entry's page and the jobs page (the audit log page, which
  walks the whole hash chain, once a cycle), the gate's rider page and ``/healthz``.

Riders come from a fixed pool, so the hub's caches fill during the warm-up (the first
cycle, ``--warmup`` seconds) and stay full. The server's resident memory (RSS), open
file descriptors and threads are sampled every ``--sample`` seconds throughout (the
peaks), and at a quiet moment after each cycle (all traffic stopped for ``--settle``
seconds, so the clients' connections are closed): the first, after the warm-up, is the
start, the last is the end, and the slope is a least-squares fit over all of them. At
the end ``last100 audit verify`` walks the audit chain.

Writes ``soak-<UTC time>.json`` (``soak-smoke.json`` with ``--smoke``) to ``--out`` and
prints a table. Exits with status 1 when any request failed (a non-2xx reply, no reply,
an entry that was neither granted nor sent to a manual check, a push the hub did not
take), when the server logged an error (a traceback or an ``ERROR`` line in its output),
when the audit chain does not verify, or when RSS grew by more than
``--max-rss-growth-mb`` or open files by more than ``--max-fd-growth`` from start to end.
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests

from benchmarks import entry
from benchmarks.entry import ROOT, Bench, drive

#: Riders the soak cycles through: fewer than the verification cache holds (10,000), so
#: it is full after the warm-up instead of growing for the whole run.
RIDER_POOL = 1000
CONSOLE_USER = "soak-operator"
CONSOLE_PASSWORD = "soak-operator-password"
#: A reply to an entry that counts as success.
GOOD_DECISIONS = ("granted", "manual_check")


class SoakBench(Bench):
    """The entry benchmark's processes, with riders from a fixed pool and a console user."""

    def riders(self, count: int) -> list[str]:
        start = self.next_rider
        self.next_rider = (start + count) % RIDER_POOL
        return [f"bench-rider-{(start + i) % RIDER_POOL}" for i in range(count)]

    def seed(self, instance: Path) -> None:
        super().seed(instance)
        from hub.core.config import load_config
        from hub.core.store import Store
        from hub.core.users import Role, hash_password

        config = load_config(instance)
        store = Store(config.effective_database_url, config.secret_keys)
        try:
            store.add_user(CONSOLE_USER, hash_password(CONSOLE_PASSWORD), Role.OPERATOR.value, actor="soak")
        finally:
            store.dispose()


# -- watching the server ------------------------------------------------------------------


def sample(pid: int, t0: float) -> dict[str, float]:
    proc = psutil.Process(pid)
    with proc.oneshot():
        memory = proc.memory_info()
        return {
            "t_s": round(time.monotonic() - t0, 2),
            "rss_mb": round(memory.rss / 2**20, 2),
            # Of the RSS, pages mapped from files (Linux): SQLite's shared WAL index.
            "file_mb": round(getattr(memory, "shared", 0) / 2**20, 2),
            "fds": proc.num_fds(),
            "threads": proc.num_threads(),
        }


class Sampler:
    """Samples the server every ``every`` seconds in a thread."""

    def __init__(self, pid: int, t0: float, every: float) -> None:
        self.pid, self.t0, self.every = pid, t0, every
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(psutil.Error):
                self.samples.append(sample(self.pid, self.t0))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 60


# -- traffic ----------------------------------------------------------------------------------


class Tally:
    """Requests and failures by kind, shared by every thread of this process."""

    def __init__(self) -> None:
        self.requests: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.examples: list[str] = []
        self._lock = threading.Lock()

    def add(self, kind: str, requests_: int = 1, errors: int = 0, example: str = "") -> None:
        with self._lock:
            self.requests[kind] += requests_
            self.errors[kind] += errors
            if errors and example and len(self.examples) < 20:
                self.examples.append(f"{kind}: {example}")


class Browser:
    """One client going round the API, the console and the rider page."""

    def __init__(self, soak: Soak) -> None:
        self.soak, self.bench, self.tally = soak, soak.bench, soak.tally
        self.hub = f"http://127.0.0.1:{self.bench.hub_port}"
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {self.bench.api_key}"
        self.console = requests.Session()
        self.signed_in = False

    def call(self, kind: str, session: requests.Session, method: str, url: str, **kw: Any) -> requests.Response | None:
        try:
            reply = session.request(method, url, timeout=60, allow_redirects=False, **kw)
        except requests.RequestException as exc:
            self.tally.add(kind, errors=1, example=f"{method} {url}: {type(exc).__name__}: {exc}")
            return None
        failed = not 200 <= reply.status_code < 300
        self.tally.add(kind, errors=int(failed), example=f"{method} {url}: {reply.status_code} {reply.text[:200]}")
        return None if failed else reply

    def sign_in(self) -> None:
        page = self.call("console", self.console, "GET", f"{self.hub}/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text if page is not None else "")
        form = {"username": CONSOLE_USER, "password": CONSOLE_PASSWORD, "csrf_token": token.group(1) if token else ""}
        reply = self.console.post(f"{self.hub}/admin/login", data=form, timeout=60, allow_redirects=False)
        self.signed_in = reply.status_code == 303
        self.tally.add("console", errors=int(not self.signed_in), example=f"sign-in: {reply.status_code}")

    def round(self, audit_page: bool) -> None:
        if not self.signed_in:
            self.sign_in()
        (token,) = self.bench.riders(1)
        body = self.bench.hub_body({"kind": "token", "value": token})
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        entry_id = None
        reply = self.call("entry", self.api, "POST", f"{self.hub}/api/v1/entries", data=body, headers=headers)
        if reply is not None:
            decision = reply.json().get("decision")
            if decision in GOOD_DECISIONS:
                entry_id = reply.json()["id"]
            else:
                self.tally.add("entry", requests_=0, errors=1, example=f"decision {decision}")
        if entry_id:
            self.call("lookup", self.api, "GET", f"{self.hub}/api/v1/entries/{entry_id}")
            self.call("exit", self.api, "POST", f"{self.hub}/api/v1/entries/{entry_id}/exit")
        self.push(token)
        pages = ["/admin/", "/admin/entries", "/admin/jobs"]
        if entry_id:
            pages.append(f"/admin/entries/{entry_id}")
        if audit_page:
            pages.append("/admin/audit")
        for page in pages:
            self.call("console", self.console, "GET", self.hub + page)
        self.call("rider_page", self.api, "GET", f"{self.hub}/g/{self.bench.gate_code}")
        self.call("health", self.api, "GET", f"{self.hub}/healthz")

    def push(self, token: str) -> None:
        """The platform pushes the rider's order state to the hub (signed, by the
        simulator); the simulator's reply says what the hub answered."""
        ref = f"BO{token.rsplit('-', 1)[1]}"
        url = f"http://127.0.0.1:{self.bench.rp_port}/_sim/orders/{ref}/status"
        try:
            reply = requests.post(url, json={"status": "delivering"}, timeout=60)
            status = (reply.json().get("push") or {}).get("status")
        except (requests.RequestException, ValueError) as exc:
            self.tally.add("push", errors=1, example=f"{ref}: {type(exc).__name__}: {exc}")
            return
        self.tally.add("push", errors=int(status not in (200, 202, 204)), example=f"{ref}: hub answered {status}")

    def run(self, until: float, audit_page: bool) -> None:
        first = True
        try:
            while time.monotonic() < until:
                self.round(audit_page and first)
                first = False
        finally:
            self.api.close()
            self.console.close()


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.bench = SoakBench(bench_args(args), workdir)
        self.tally = Tally()
        #: Entries per second each scenario's load generator managed in the last cycle.
        self.rate: dict[str, float] = {}

    def prepare(self, seconds: float) -> dict[str, list[str]]:
        """Fresh entry bodies for a cycle of ``seconds``: the push scenario's riders
        entered once and their orders pushed; for the codes scenario, codes issued now
        (valid 120 s), one per request the cycle will send, as a code is accepted once."""
        a, bench = self.args, self.bench
        bodies = {}
        for scenario, clients in (("pull", a.pull), ("push", a.push), ("codes", a.codes)):
            if not clients:
                continue
            count = 40 * clients
            if scenario == "codes":
                count = int(self.rate.get("codes", 60 * clients) * seconds * 1.5) + 50
            try:
                bodies[scenario] = bench.bodies(scenario, count)
            except (RuntimeError, requests.RequestException) as exc:
                self.tally.add("prepare", errors=1, example=f"{scenario}: {exc}")
                continue
            # Entries and pushes for the push scenario, codes from the platform.
            self.tally.add("prepare", requests_={"pull": 0, "push": 2 * count, "codes": count}[scenario])
        return bodies

    def cycle(self, seconds: float, audit_page: bool) -> None:
        a, bench = self.args, self.bench
        bodies = self.prepare(seconds)
        headers = {"Authorization": f"Bearer {bench.api_key}"}
        until = time.monotonic() + seconds
        browsers = [Browser(self) for _ in range(a.browsers)]
        with ThreadPoolExecutor(len(bodies) + len(browsers)) as pool:
            runs = {}
            for scenario, items in bodies.items():
                folder = self.workdir / f"loadgen-{scenario}"
                folder.mkdir(exist_ok=True)
                clients = getattr(a, scenario)
                runs[scenario] = pool.submit(
                    drive, folder, bench.hub_port, "/api/v1/entries", headers, items, clients, seconds
                )
            walks = [pool.submit(b.run, until, audit_page) for b in browsers]
            for walk in walks:
                walk.result()
            for scenario, run in runs.items():
                raw = run.result()
                self.count_loadgen(scenario, raw)
                self.rate[scenario] = len(raw["latencies"]) / max(raw["elapsed_s"], 0.1)

    def count_loadgen(self, scenario: str, raw: dict[str, Any]) -> None:
        decisions = collections.Counter(raw["decisions"])
        bad = sum(n for d, n in decisions.items() if d not in GOOD_DECISIONS)
        example = f"statuses {dict(raw['statuses'])}, decisions {dict(decisions)}" if bad else ""
        self.tally.add(f"entry:{scenario}", requests_=sum(raw["statuses"].values()), errors=bad, example=example)

    def quiet_sample(self, t0: float) -> dict[str, float]:
        """A sample with no traffic: the clients' connections closed, requests done."""
        time.sleep(self.args.settle)
        return sample(self.bench.hub_pid, t0)

    def run(self) -> dict[str, Any]:
        a, bench = self.args, self.bench
        bench.start_simulators()
        bench.start_hub()
        t0 = time.monotonic()
        with Sampler(bench.hub_pid, t0, a.sample) as sampler:
            print(f"warm-up: {a.warmup:.0f} s", file=sys.stderr)
            self.cycle(a.warmup, audit_page=True)
            quiet = [self.quiet_sample(t0)]
            warm_requests = sum(self.tally.requests.values())
            print(f"start (after warm-up): {_figures(quiet[0])}", file=sys.stderr)
            deadline = time.monotonic() + a.duration
            while (left := deadline - time.monotonic()) > 0.5:
                self.cycle(min(a.cycle, left), audit_page=True)
                quiet.append(self.quiet_sample(t0))
                done, errors = sum(self.tally.requests.values()), sum(self.tally.errors.values())
                print(
                    f"{quiet[-1]['t_s']:7.0f} s  {done} requests, {errors} errors  {_figures(quiet[-1])}",
                    file=sys.stderr,
                )
        verify = subprocess.run(
            [sys.executable, "-m", "hub.cli", "--instance", str(self.workdir / "instance"), "audit", "verify"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        loaded = [s for s in sampler.samples if s["t_s"] >= quiet[0]["t_s"]]
        log = (self.workdir / "hub.log").read_text(encoding="utf-8", errors="replace").splitlines()
        logged = [line for line in log if line.startswith("Traceback") or " ERROR " in line or "Error:" in line]
        return {
            "requests": sum(self.tally.requests.values()),
            "requests_after_warmup": sum(self.tally.requests.values()) - warm_requests,
            "errors": sum(self.tally.errors.values()),
            "by_kind": {
                kind: {"requests": n, "errors": self.tally.errors[kind]}
                for kind, n in sorted(self.tally.requests.items())
            },
            "error_examples": self.tally.examples,
            "start": quiet[0],
            "end": quiet[-1],
            "peak": {key: max((s[key] for s in loaded), default=0) for key in ("rss_mb", "fds", "threads")},
            "slope_per_min": {
                key: round(slope_per_min([(q["t_s"], q[key]) for q in quiet]), 3)
                for key in ("rss_mb", "fds", "threads")
            },
            "quiet_samples": quiet,
            "samples": sampler.samples,
            "audit_verify": {"exit_status": verify.returncode, "output": (verify.stdout or verify.stderr).strip()},
            "server_log": {"errors": len(logged), "first": logged[:10], "lines": len(log)},
        }


def _figures(s: dict[str, float]) -> str:
    return f"RSS {s['rss_mb']:.1f} MB, {s['fds']} fds, {s['threads']} threads"


# -- verdict and reporting -------------------------------------------------------------------


def verdict(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Why the soak failed; empty when it passed."""
    problems = []
    if report["errors"]:
        problems.append(f"{report['errors']} request(s) failed")
    if report["server_log"]["errors"]:
        problems.append(f"the server logged {report['server_log']['errors']} error line(s)")
    if report["audit_verify"]["exit_status"] != 0:
        problems.append(f"the audit chain does not verify: {report['audit_verify']['output']}")
    rss = report["end"]["rss_mb"] - report["start"]["rss_mb"]
    if rss > args.max_rss_growth_mb:
        problems.append(f"RSS grew by {rss:.1f} MB (limit {args.max_rss_growth_mb} MB)")
    fds = report["end"]["fds"] - report["start"]["fds"]
    if fds > args.max_fd_growth:
        problems.append(f"open files grew by {fds} (limit {args.max_fd_growth})")
    return problems


def table(report: dict[str, Any]) -> str:
    rows = ["| traffic | requests | errors |", "|---|---|---|"]
    for kind, row in report["by_kind"].items():
        rows.append(f"| {kind} | {row['requests']} | {row['errors']} |")
    rows.append(f"| **total** | **{report['requests']}** | **{report['errors']}** |")
    rows.append(f"| errors in the server's log | | {report['server_log']['errors']} |")
    limits = report["settings"]["limits"]
    rows += ["", "| server | start | end | change | slope per min | peak | limit |", "|---|---|---|---|---|---|---|"]
    for key, name, unit, limit in (
        ("rss_mb", "RSS", " MB", f"+{limits['rss_growth_mb']} MB"),
        ("fds", "open files", "", f"+{limits['fd_growth']}"),
        ("threads", "threads", "", ""),
    ):
        start, end = report["start"][key], report["end"][key]
        rows.append(
            f"| {name} | {start:g}{unit} | {end:g}{unit} | {end - start:+.1f}{unit} | "
            f"{report['slope_per_min'][key]:+.2f}{unit} | {report['peak'][key]:g}{unit} | {limit} |"
        )
    return "\n".join(rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to measure after the warm-up (default 3)")
    length.add_argument("--seconds", type=float, help="the same in seconds (a short run, e.g. a smoke test)")
    parser.add_argument("--warmup", type=float, default=30, help="seconds of traffic before the start figures")
    parser.add_argument("--cycle", type=float, default=30, help="seconds per traffic cycle (fresh codes and pushes)")
    parser.add_argument("--sample", type=float, default=1.0, help="seconds between samples of the server")
    parser.add_argument("--settle", type=float, default=1.5, help="seconds without traffic before a quiet sample")
    parser.add_argument("--pull", type=int, default=2, help="load generator clients sending pull entries")
    parser.add_argument("--push", type=int, default=1, help="load generator clients sending push entries")
    parser.add_argument("--codes", type=int, default=1, help="load generator clients sending entry codes")
    parser.add_argument("--browsers", type=int, default=1, help="clients going round API, console and rider page")
    parser.add_argument("--max-rss-growth-mb", type=float, default=25.0, help="fail above this RSS growth")
    parser.add_argument("--max-fd-growth", type=int, default=5, help="fail above this growth in open files")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
        help="with --database postgres: an empty database on 127.0.0.1 (default: $BENCH_DATABASE_URL)",
    )
    parser.add_argument("--platform-ms", type=float, default=20, help="identity and orders latency")
    parser.add_argument("--grant-ms", type=float, default=10, help="grant latency (two ISAPI writes of half each)")
    parser.add_argument("--smoke", action="store_true", help="name the report soak-smoke.json (for CI)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    args.duration = args.seconds if args.seconds is not None else (args.minutes if args.minutes else 3) * 60
    args.cycle = min(args.cycle, max(args.duration, 1))
    return args


def bench_args(args: argparse.Namespace) -> argparse.Namespace:
    """The entry benchmark's settings for its processes: its defaults (one server
    process, whose memory and files are watched), with the soak's database and latencies."""
    argv = ["--database", args.database, "--database-url", args.database_url]
    argv += ["--platform-ms", str(args.platform_ms), "--grant-ms", str(args.grant_ms)]
    return entry.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="last100-soak-") as tmp:
        soak = Soak(args, Path(tmp))
        try:
            report = soak.run()
        finally:
            soak.bench.procs.stop()
    report["settings"] = {
        "database": args.database,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "cycle_s": args.cycle,
        "clients": {"pull": args.pull, "push": args.push, "codes": args.codes, "browsers": args.browsers},
        "rider_pool": RIDER_POOL,
        "platform_ms": args.platform_ms,
        "grant_ms": args.grant_ms,
        "limits": {"rss_growth_mb": args.max_rss_growth_mb, "fd_growth": args.max_fd_growth},
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    problems = verdict(report, args)
    report["passed"], report["problems"] = not problems, problems
    stamp = "smoke" if args.smoke else datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = out / f"soak-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\nwrote {path}", file=sys.stderr)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    for example in report["error_examples"]:
        print(f"  {example}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
