"""Crash consistency: the real server (``last100 serve``) is killed with SIGKILL while
riders enter, restarted on the same database, and nothing it acknowledged is lost.

The entry benchmark's processes (``benchmarks/entry.py``: the RiderPass and Hikvision
simulators, the hub on a fresh seeded instance) plus a visitor-book simulator, so every
entry queues a rider notice and every granted one a visitor record in the outbox. A few
client threads send entries (each with its own ``Idempotency-Key``); once some were
acknowledged the server is killed mid-load, restarted, and then:

- every entry whose 2xx reply arrived is in the database with its audit records
  (``entry.decided``; ``access.granted`` for a granted one);
- each request that was in flight at the kill, sent again with the same key and body,
  is answered with the entry committed before the kill (200) when there is one, else
  decided now (201), and there is exactly one entry per key either way;
- ``last100 audit verify`` exits 0;
- ``last100 jobs run outbox.deliver`` delivers the items queued before and after the
  kills: the visitor book holds exactly one record per granted entry (its idempotency
  key is the entry id) and received no request twice, and the platform got one notice
  per entry.

Runs on SQLite and on PostgreSQL (a schema of its own; skipped when the server cannot be
reached, a failure with ``LAST100_REQUIRE_POSTGRES=1``). No timed assertions.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from benchmarks.entry import parse_args, wait_port
from hub.core.config import load_config
from tests.process_world import Database, VisitorBench, postgres_schema

KILLS = 3
CLIENTS = 4
#: Acknowledged entries to wait for after each (re)start before the kill.
ACKS_BEFORE_KILL = 20


# -- the processes -----------------------------------------------------------------------


class CrashBench(VisitorBench):
    """The hub with a visitor book, as a server that can be killed and started again on
    the same instance and port."""

    def kill_hub(self) -> None:
        os.kill(self.hub_pid, signal.SIGKILL)
        hub = next(p for p in self.procs.procs if p.pid == self.hub_pid)
        assert hub.wait(30) == -signal.SIGKILL

    def restart_hub(self, n: int) -> None:
        args = [self.py, "-m", "hub.cli", "--instance", str(self.instance), "serve", "--port", str(self.hub_port)]
        hub = self.procs.start(f"hub-{n}", args)
        wait_port(self.hub_port, hub)
        self.hub_pid = hub.pid


# -- the load ------------------------------------------------------------------------------


@dataclasses.dataclass
class Attempt:
    """One ``POST /api/v1/entries`` as a client sent it, and what came back."""

    key: str
    body: str
    status: int | None = None
    entry_id: str = ""
    decision: str = ""
    error: str = ""


class Riders:
    """Clients sending entries one after another until stopped; each client stops at its
    first request that got no reply."""

    def __init__(self, bench: CrashBench, bodies: list[str]) -> None:
        self.url = f"http://127.0.0.1:{bench.hub_port}/api/v1/entries"
        self.headers = {"Authorization": f"Bearer {bench.api_key}", "Content-Type": "application/json"}
        self._bodies = iter(bodies)
        self._lock = threading.Lock()
        self.acked: list[Attempt] = []
        self.refused: list[Attempt] = []  # a reply that was not 2xx

    def post(self, session: requests.Session, attempt: Attempt) -> None:
        reply = session.post(self.url, data=attempt.body, headers={**self.headers, "Idempotency-Key": attempt.key})
        attempt.status = reply.status_code
        if 200 <= reply.status_code < 300:
            payload = reply.json()
            attempt.entry_id, attempt.decision = payload["id"], payload["decision"]

    def run_until_killed(self, bench: CrashBench, acks: int) -> tuple[list[Attempt], list[Attempt]]:
        """Drive the hub until ``acks`` more entries were acknowledged, kill it, and
        return the requests that were in flight (no reply) and those that failed
        before the kill (which should be none)."""
        killed, stop = threading.Event(), threading.Event()
        in_doubt: list[Attempt] = []
        early: list[Attempt] = []
        wanted = len(self.acked) + acks

        def client() -> None:
            session = requests.Session()
            while not stop.is_set():
                with self._lock:
                    body = next(self._bodies)
                attempt = Attempt(uuid.uuid4().hex, body)
                try:
                    self.post(session, attempt)
                except requests.RequestException as exc:
                    attempt.error = f"{type(exc).__name__}: {exc}"
                    with self._lock:
                        (in_doubt if killed.is_set() else early).append(attempt)
                    return
                with self._lock:
                    (self.acked if attempt.entry_id else self.refused).append(attempt)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(self.acked) < wanted and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        assert len(self.acked) >= wanted, f"only {len(self.acked)} of {wanted} acknowledged: {early or self.refused}"
        # Land the kill at a different point of the requests in flight each time.
        time.sleep(random.uniform(0, 0.03))
        killed.set()
        bench.kill_hub()
        stop.set()
        for thread in threads:
            thread.join(60)
        # A request sent between the kill and the stop found nothing listening: it is in
        # doubt too from the client's side, and is retried like the others.
        return in_doubt, early


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` for the instance's own SQLite file, else a URL whose connections use a
    fresh PostgreSQL schema (dropped afterwards)."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema("crash") as url:
        yield url


@pytest.fixture
def bench(database_url: str | None, tmp_path: Path) -> Iterator[CrashBench]:
    argv = ["--platform-ms", "5", "--grant-ms", "4"]
    if database_url:
        argv += ["--database", "postgres", "--database-url", database_url]
    started = CrashBench(parse_args(argv), tmp_path)
    try:
        started.start_simulators()
        started.start_hub()
        yield started
    finally:
        started.procs.stop()


# -- the test ----------------------------------------------------------------------------------


def _deliver_everything(bench: CrashBench) -> int:
    """Run the outbox job by hand until a run has nothing to do; items delivered."""
    delivered = 0
    for _ in range(50):
        run = bench.cli("jobs", "run", "outbox.deliver")
        assert run.returncode == 0, run.stderr
        items = int(run.stdout.split(": ", 1)[1].split(" item(s)", 1)[0])
        assert "failed" not in run.stdout, run.stdout
        if items == 0:
            return delivered
        delivered += items
    raise AssertionError("the outbox never emptied")


def _retry(riders: Riders, db: Database, attempt: Attempt) -> str:
    """Send an in-doubt request again (same key, same body) and check the answer
    against what the database held before: the entry committed before the kill, or a
    new one; one entry per key afterwards. Returns how it was answered."""
    before = db.entries_for_key(attempt.key)
    assert len(before) <= 1
    again = Attempt(attempt.key, attempt.body)
    riders.post(requests.Session(), again)
    after = db.entries_for_key(attempt.key)
    assert len(after) == 1, f"{len(after)} entries for one Idempotency-Key"
    if before:
        assert (again.status, again.entry_id) == (200, before[0].id), "a committed entry must be replayed"
        return "replayed"
    assert again.status == 201, again
    assert again.entry_id == after[0].id
    return "decided"


def test_a_killed_server_loses_nothing_it_acknowledged(bench: CrashBench) -> None:
    url = bench.args.database_url if bench.args.database == "postgres" else None
    db = Database(url or load_config(bench.instance).effective_database_url)
    riders = Riders(bench, bench.bodies("pull", 4000))
    retried: collections.Counter[str] = collections.Counter()
    delivered = 0
    try:
        for kill in range(1, KILLS + 1):
            in_doubt, early = riders.run_until_killed(bench, ACKS_BEFORE_KILL)
            assert not early, early
            assert not riders.refused, [(a.status, a.body) for a in riders.refused]
            bench.restart_hub(kill)

            # Every acknowledged entry survived, with its audit records.
            stored, audited = db.entry_ids(), db.audit_by_subject()
            lost = [a.entry_id for a in riders.acked if a.entry_id not in stored]
            assert not lost, f"acknowledged entries missing after kill {kill}: {lost}"
            for attempt in riders.acked:
                assert "entry.decided" in audited[attempt.entry_id], attempt
                if attempt.decision == "granted":
                    assert "access.granted" in audited[attempt.entry_id], attempt

            for attempt in in_doubt:
                retried[_retry(riders, db, attempt)] += 1

            verify = bench.cli("audit", "verify")
            assert verify.returncode == 0, verify.stderr
            assert "records, chain intact" in verify.stdout
            # Deliver part of the outbox between the kills, the rest at the end.
            if kill == 1:
                delivered += _deliver_everything(bench)

        delivered += _deliver_everything(bench)

        outbox = db.outbox()
        assert {row.status for row in outbox} == {"done"}
        visitor_items = [row for row in outbox if row.kind == "register_visitor"]
        notices = [row for row in outbox if row.kind == "notify_rider"]
        granted, stored = db.granted_ids(), db.entry_ids()
        assert {row.payload["entry_id"] for row in visitor_items} == granted
        assert {row.payload["entry_id"] for row in notices} == stored

        book = requests.get(f"http://127.0.0.1:{bench.visitor_port}/_sim/records", timeout=10).json()
        keys = [record["idempotency_key"] for record in book["records"]]
        assert sorted(keys) == sorted(granted), "one visitor record per granted entry, none lost"
        assert book["requests"] == len(keys), "the visitor book was sent an item twice"
        platform = requests.get(f"http://127.0.0.1:{bench.rp_port}/_sim/notices", timeout=10).json()
        sent = collections.Counter(n["rider_ref"] for n in platform["notices"])
        assert sent == collections.Counter(row.payload["rider_ref"] for row in notices)

        assert bench.cli("audit", "verify").returncode == 0
        figures = {
            "database": bench.args.database,
            "kills": KILLS,
            "acknowledged": len(riders.acked),
            "lost": 0,
            "in_doubt_replayed": retried["replayed"],
            "in_doubt_decided_after_restart": retried["decided"],
            "entries": len(stored),
            "outbox_delivered": delivered,
            "visitor_records": len(keys),
            "notices": len(platform["notices"]),
        }
        print("crash consistency:", json.dumps(figures), file=sys.stderr)
        assert delivered == len(outbox)
    finally:
        db.close()
