"""Scale-out on this machine's real PostgreSQL, Redis and RabbitMQ: two web nodes
(``last100 serve``, each its own process on its own port), one scheduler
(``last100 scheduler`` enqueueing on Celery) and two Celery workers (``last100 worker``),
all on one database, one Redis (shared state, rate limits) and one broker.

The processes are the entry benchmark's simulators and seeded instance with a visitor
book (``tests/process_world.py``), plus a slow partitioned sync (``tests/scale_plugin.py``)
so that a worker can be killed in the middle of a task for certain. Riders enter
through both nodes while the syncs run; one worker is killed with SIGKILL while it runs
a task. Then:

- nothing lost: every acknowledged entry is stored with its audit records, and every
  outbox item (rider notices, visitor records) is delivered by the workers, exactly one
  visitor record per granted entry and one notice per entry of a verified rider at the
  receiving ends;
- no duplicate grants: a request sent to both nodes with one ``Idempotency-Key`` makes
  one entry; a single-use entry code is granted once, on whichever node it reaches
  first, and refused on the other; no entry is granted (at the device) twice, and the
  gate controller holds one user per granted entry;
- the nodes share state: a rider verified on one node is served from the shared
  verification cache on the other (``/metrics``);
- no job run twice: every task key has one run; the task the killed worker was running
  was redelivered and taken over by the other worker (a second attempt of the same
  run), and every partition run of the slow sync finished exactly once;
- ``last100 audit verify`` passes.

Skipped (with the reason) when PostgreSQL, Redis or RabbitMQ cannot be reached; CI sets
``LAST100_REQUIRE_POSTGRES``, ``LAST100_REQUIRE_REDIS`` and ``LAST100_REQUIRE_RABBITMQ``
so it runs there. No timed assertions: waits are bounded only to end a stuck run.
"""

from __future__ import annotations

import collections
import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
import requests

from benchmarks.entry import PLATFORM, forget_redis_keys, free_port, parse_args, wait_port
from tests import scale_plugin
from tests.process_world import VISITOR_CONNECTION, Database, VisitorBench, postgres_schema

pytestmark = pytest.mark.postgres

#: Seconds a Celery task may run (the slow sync takes 3); a run unfinished twice as long
#: is taken over.
TASK_TIME_LIMIT_S = 8


class ScaleBench(VisitorBench):
    """Two web nodes, a scheduler and two workers on one instance's configuration."""

    def configure(self, redis_url: str, broker_url: str, tag: str) -> None:
        self.tag = tag
        self.slow_log = self.workdir / "slow-sync.log"
        self.cli_args = self.prepare_instance()
        with (self.instance / "last100.toml").open("a", encoding="utf-8") as config:
            config.write(
                f'shared_state_url = "{redis_url}"\n'
                f'shared_state_key_prefix = "{tag}"\n'
                f'rate_limit_storage_url = "{redis_url}"\n'
                f'rate_limit_key_prefix = "{tag}"\n'
                f'celery_broker_url = "{broker_url}"\n'
                f'celery_queue = "{tag}"\n'
                f"celery_task_time_limit_s = {TASK_TIME_LIMIT_S}\n"
                'log_format = "json"\n'
                'plugins = ["tests.scale_plugin:SlowSync"]\n'
            )
        self.env = {"LAST100_TEST_SLOW_SYNC_LOG": str(self.slow_log), "LAST100_TEST_SLOW_SYNC_S": "3"}

    def start_layout(self) -> None:
        self.workers = [
            self.procs.start(f"worker-{n}", [*self.cli_args, "worker", "--concurrency", "1"], env=self.env)
            for n in (1, 2)
        ]
        self.scheduler = self.procs.start("scheduler", [*self.cli_args, "scheduler"], env=self.env)
        self.node_ports = [self.hub_port, free_port()]
        for n, port in enumerate(self.node_ports, 1):
            node = self.procs.start(f"web-{n}", [*self.cli_args, "serve", "--port", str(port), "--threads", "8"])
            wait_port(port, node)

    def node(self, n: int) -> str:
        return f"http://127.0.0.1:{self.node_ports[n]}"

    def worker_of(self, pid: int) -> psutil.Process | None:
        """The worker (``last100 worker`` process) whose pool process ``pid`` is."""
        for worker in self.workers:
            tree = psutil.Process(worker.pid)
            if pid == worker.pid or pid in {p.pid for p in tree.children(recursive=True)}:
                return tree
        return None

    def slow_sync_running(self) -> tuple[str, int] | None:
        """A slow sync task running now (its start written, its end not yet): its
        partition and the pid of the pool process running it."""
        running: dict[int, str] = {}
        for what, partition, pid in self.slow_sync_lines():
            if what == "start":
                running[pid] = partition
            else:
                running.pop(pid, None)
        return next(((partition, pid) for pid, partition in running.items()), None)

    def slow_sync_lines(self) -> list[tuple[str, str, int]]:
        if not self.slow_log.exists():
            return []
        return [(w, p, int(pid)) for w, p, pid in (line.split() for line in self.slow_log.read_text().splitlines())]


def wait_for(what: str, check: Callable[[], object], timeout: float = 120, every: float = 0.5) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def bench(tmp_path: Path, redis_url: str, rabbitmq_url: str) -> Iterator[ScaleBench]:
    tag = f"scale-{uuid.uuid4().hex[:12]}"
    with postgres_schema("scale") as database_url:
        argv = ["--platform-ms", "5", "--grant-ms", "4", "--database", "postgres", "--database-url", database_url]
        started = ScaleBench(parse_args(argv), tmp_path)
        try:
            started.start_simulators()
            started.configure(redis_url, rabbitmq_url, tag)
            started.start_layout()
            started.database_url = database_url
            yield started
        finally:
            started.procs.stop()
            _forget_queue(rabbitmq_url, tag)
            forget_redis_keys(redis_url, f"{tag}:")


def _forget_queue(broker_url: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker_url, connect_timeout=3) as connection:
        connection.default_channel.queue_delete(queue)


# -- traffic ---------------------------------------------------------------------------------


class Traffic:
    """Entries through both nodes: every request is remembered with its reply."""

    def __init__(self, bench: ScaleBench) -> None:
        self.bench = bench
        self.headers = {"Authorization": f"Bearer {bench.api_key}", "Content-Type": "application/json"}
        self.lock = threading.Lock()
        self.acked: list[dict] = []
        self.failed: list[str] = []

    def post(self, session: requests.Session, node: int, body: str, key: str | None = None) -> dict:
        key = key or uuid.uuid4().hex
        headers = {**self.headers, "Idempotency-Key": key}
        reply = session.post(f"{self.bench.node(node)}/api/v1/entries", data=body, headers=headers, timeout=30)
        if reply.status_code not in (200, 201):
            with self.lock:
                self.failed.append(f"node {node}: {reply.status_code} {reply.text[:200]}")
            return {}
        answer = {**reply.json(), "node": node, "key": key, "status": reply.status_code}
        with self.lock:
            self.acked.append(answer)
        return answer

    def spread(self, bodies: list[str], clients: int = 4) -> None:
        """Send ``bodies`` from ``clients`` threads, alternating between the nodes."""
        queue = collections.deque(enumerate(bodies))

        def client() -> None:
            session = requests.Session()
            while True:
                with self.lock:
                    if not queue:
                        return
                    n, body = queue.popleft()
                self.post(session, n % 2, body)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)


def _metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


# -- the test ------------------------------------------------------------------------------------


def test_two_nodes_a_scheduler_and_two_workers_lose_nothing_and_run_nothing_twice(bench: ScaleBench) -> None:
    db = Database(bench.database_url)
    traffic = Traffic(bench)
    session = requests.Session()
    try:
        # 1. Kill a worker in the middle of a task: the slow sync's partition it runs.
        partition, pid = wait_for("a worker to be running a slow sync task", bench.slow_sync_running)
        victim = bench.worker_of(pid)
        assert victim is not None, f"pid {pid} ran a task but belongs to no worker"
        survivor = next(w for w in bench.workers if w.pid != victim.pid)
        for process in [victim, *victim.children(recursive=True)]:
            process.send_signal(signal.SIGKILL)
        victim.wait(30)

        # 2. Riders enter through both nodes meanwhile.
        traffic.spread(bench.bodies("pull", 60))
        # One rider verified on node 0 is served from the shared cache on node 1.
        cached_before = _metric(
            session.get(f"{bench.node(1)}/metrics", timeout=10).text,
            "last100_upstream_call_duration_seconds_count",
            hook="hub_verify_rider",
            outcome="cache",
        )
        again = bench.bodies("pull", 5)
        for body in again:
            assert traffic.post(session, 0, body)
        for body in again:
            assert traffic.post(session, 1, body)
        cached_after = _metric(
            session.get(f"{bench.node(1)}/metrics", timeout=10).text,
            "last100_upstream_call_duration_seconds_count",
            hook="hub_verify_rider",
            outcome="cache",
        )
        assert cached_after - cached_before >= len(again), "node 1 asked the platform about riders node 0 verified"

        # One Idempotency-Key sent to both nodes at once: one entry.
        keyed = bench.bodies("pull", 5)
        for body in keyed:
            key = uuid.uuid4().hex
            threads = [threading.Thread(target=traffic.post, args=(requests.Session(), n, body, key)) for n in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert len(db.entries_for_key(key)) == 1, "two entries for one Idempotency-Key"
            replies = {a["id"] for a in traffic.acked if a["key"] == key}
            assert len(replies) == 1, f"the nodes answered one key with different entries: {replies}"

        # Each single-use entry code on node 0, then the same code on node 1.
        codes = bench.bodies("codes", 8)
        for body in codes:
            first = traffic.post(session, 0, body)
            second = traffic.post(session, 1, body)
            assert first["decision"] == "granted", first
            assert second["decision"] != "granted", f"an entry code was granted on both nodes: {second}"
        assert not traffic.failed, traffic.failed

        # 3. The workers deliver the outbox (each connection's items in a task of its
        # own) and the survivor takes over the killed task once its run is stale.
        def outbox_delivered() -> bool:
            return all(row.status == "done" for row in db.outbox())

        def taken_over() -> bool:
            return any(r.attempts > 1 and r.ended_at for r in db.job_runs() if r.job_id == scale_plugin.JOB)

        def runs_finished() -> bool:
            return all(run.ended_at is not None for run in db.job_runs() if run.task_key)

        wait_for("the outbox to be delivered", outbox_delivered)
        wait_for("the killed worker's task to be taken over", taken_over)
        # Stop enqueueing, and let the workers finish what is queued.
        bench.scheduler.send_signal(signal.SIGTERM)
        assert bench.scheduler.wait(60) == 0
        wait_for("every task run to finish", runs_finished)
        assert survivor.poll() is None, "the surviving worker died"

        # -- nothing lost ------------------------------------------------------------------
        stored, audited = db.entry_ids(), db.audit_by_subject()
        assert {a["id"] for a in traffic.acked} <= stored
        for answer in traffic.acked:
            assert "entry.decided" in audited[answer["id"]], answer
        granted = db.granted_ids()
        outbox = db.outbox()
        assert {r.payload["entry_id"] for r in outbox if r.kind == "register_visitor"} == granted
        verified = db.verified_ids()
        assert {r.payload["entry_id"] for r in outbox if r.kind == "notify_rider"} == verified
        book = requests.get(f"http://127.0.0.1:{bench.visitor_port}/_sim/records", timeout=10).json()
        keys = [record["idempotency_key"] for record in book["records"]]
        assert sorted(keys) == sorted(granted), "one visitor record per granted entry, none lost"
        assert book["requests"] == len(keys), "the visitor book was sent an item twice"
        notices = requests.get(f"http://127.0.0.1:{bench.rp_port}/_sim/notices", timeout=10).json()["notices"]
        assert len(notices) == len(verified), "one notice per entry of a verified rider at the platform"

        # -- no duplicate grants -------------------------------------------------------------
        grants = db.audit_count("access.granted")
        assert set(grants) == granted and set(grants.values()) == {1}, "an entry was granted twice"
        device = requests.get(f"http://127.0.0.1:{bench.hik_port}/_sim/state", timeout=10).json()
        assert len(device["users"]) == len(granted), "the gate controller holds a user per granted entry"

        # -- traffic went through both nodes; each counted its own decisions ------------------
        decided = [
            _metric(session.get(f"{bench.node(n)}/metrics", timeout=10).text, "last100_entry_decisions_total")
            for n in (0, 1)
        ]
        assert all(decided), decided
        assert sum(decided) == len(stored)

        # -- no job run twice -----------------------------------------------------------------
        runs = [run for run in db.job_runs() if run.task_key]
        assert len({run.task_key for run in runs}) == len(runs)
        per_tick = collections.Counter((run.job_id, run.tick, run.partition) for run in runs)
        assert set(per_tick.values()) == {1}, "a partition of one tick ran twice"
        delivered_by = {run.partition for run in runs if run.job_id == "outbox.deliver" and run.items}
        assert delivered_by >= {PLATFORM, VISITOR_CONNECTION}, "outbox delivery fanned out per connection"

        slow = [run for run in runs if run.job_id == scale_plugin.JOB]
        taken_over = [run for run in slow if run.attempts > 1]
        assert len(taken_over) == 1, "the killed worker's task was taken over by the other worker"
        assert taken_over[0].partition == partition and taken_over[0].error is None
        lines = bench.slow_sync_lines()
        starts = collections.Counter(p for what, p, _ in lines if what == "start")
        ends = collections.Counter(p for what, p, _ in lines if what == "end")
        finished = collections.Counter(run.partition for run in slow if run.error is None)
        assert ends == finished, "every slow sync run that finished did its work once"
        assert starts - ends == collections.Counter({partition: 1}), "only the killed task was cut off"
        assert {pid for what, _, pid in lines if what == "start"} & {
            p.pid for p in psutil.Process(survivor.pid).children(recursive=True)
        }, "the survivor ran tasks"

        verify = bench.cli("audit", "verify")
        assert verify.returncode == 0, verify.stderr
        print(
            "scale-out:",
            json.dumps(
                {
                    "entries": len(stored),
                    "granted": len(granted),
                    "decided_per_node": decided,
                    "task_runs": len(runs),
                    "slow_sync_runs": len(slow),
                    "outbox_items": len(outbox),
                }
            ),
        )
    finally:
        db.close()
