"""``GET /metrics``: the Prometheus metrics of hub/core/metrics.py, after real entries
through the Flask app, and added up over the workers of a real ``last100 serve
--workers 2``.

The counters and histograms live in this test process's default registry, shared by
every test: each test compares what it did with the values before it.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hub.core import metrics
from hub.core import outbox as queue
from hub.core.config import Config
from hub.core.delivery import deliver_due
from hub.core.errors import UpstreamError
from hub.core.jobs import JobContext
from hub.core.model import JobSpec
from hub.core.outbox import OutboxItem
from hub.core.scheduler import run_job
from hub.runtime import Runtime
from hub.web import create_app
from hub.web import server as web_server

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, frozenset], float]


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def scrape(client, **headers: str) -> Samples:
    reply = client.get("/metrics", headers=headers)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.content_type.startswith("text/plain; version=")  # the text format
    return parse(reply.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def app_with(api, **settings):
    """Another app on the same world, its configuration changed by ``settings``."""
    runtime = api.runtime
    config = dataclasses.replace(runtime.config, **settings)
    return create_app(runtime=Runtime(config, runtime.clock, runtime.store, runtime.hub, runtime.engine)).test_client()


# -- entries and upstream calls ------------------------------------------------------------------


def test_decisions_are_counted_by_decision_and_timed(api):
    before = scrape(api.client)
    api.world.platform.riders["tok-2"] = dataclasses.replace(api.world.platform.riders["tok-1"], platform_ref="R2")
    decisions = []
    for token in ("tok-1", "tok-1", "tok-2", "nobody", "tok-down"):
        if token == "tok-down":
            api.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
        body = api.entry_body(credential={"kind": "token", "value": token})
        reply = api.post_entry(body)
        assert reply.status_code == 201
        decisions.append(reply.json["decision"])
    api.world.platform.fail.clear()
    replay = api.post_entry(idempotency_key="k-1")
    assert api.post_entry(idempotency_key="k-1").json["id"] == replay.json["id"]  # a replay: not decided again
    decisions.append(replay.json["decision"])

    after = scrape(api.client)

    # tok-2 has no order, nobody is unknown, the platform is down for tok-down
    assert [decisions.count(d) for d in ("granted", "denied", "manual_check")] == [3, 2, 1]
    for decision in ("granted", "denied", "manual_check"):
        expected = decisions.count(decision)
        assert delta(after, before, "last100_entry_decisions_total", decision=decision) == expected, decision
        name = "last100_entry_decision_duration_seconds_count"
        assert delta(after, before, name, decision=decision) == expected, decision
    # The buckets suit a 10 s gate budget, from 5 ms.
    bounds = {
        dict(labels)["le"]
        for name, labels in after
        if name == "last100_entry_decision_duration_seconds_bucket" and ("decision", "granted") in labels
    }
    assert sorted(bounds, key=float) == [*(str(b) for b in metrics.LATENCY_BUCKETS), "+Inf"]
    assert metrics.LATENCY_BUCKETS[0] == 0.005 and metrics.LATENCY_BUCKETS[-1] == 10.0


def test_every_upstream_call_is_timed_and_failures_are_counted_by_outcome(api):
    world = api.world
    before = scrape(api.client)
    asked: list[int] = []  # each orders call "takes" 0.2 s

    def slow_orders() -> None:
        asked.append(1)
        world.clock.advance(seconds=0.2)

    world.platform.before["hub_active_orders"] = slow_orders

    api.post_entry()  # verified and asked for orders: ok, ok
    api.post_entry()  # the identity is cached now
    world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    api.post_entry(api.entry_body(credential={"kind": "token", "value": "tok-new"}))  # an error
    unknown = api.entry_body(credential={"kind": "token", "value": "nobody"})
    world.platform.fail.clear()
    api.post_entry(unknown)  # rejected: the platform does not know the rider

    after = scrape(api.client)

    calls = "last100_upstream_call_duration_seconds_count"
    errors = "last100_upstream_call_errors_total"
    hook = {"connection": "plat", "hook": "hub_verify_rider"}
    assert delta(after, before, calls, **hook, outcome="ok") == 1
    assert delta(after, before, calls, **hook, outcome="cache") == 1
    assert delta(after, before, calls, **hook, outcome="error") == 1
    assert delta(after, before, calls, **hook, outcome="rejected") == 1
    assert delta(after, before, errors, **hook, outcome="error") == 1
    assert delta(after, before, errors, **hook, outcome="rejected") == 1
    assert delta(after, before, errors, **hook, outcome="ok") == 0  # no such series: ok is no error
    assert (errors, frozenset({**hook, "outcome": "cache"}.items())) not in after
    orders = {"connection": "plat", "hook": "hub_active_orders", "outcome": "ok"}
    assert len(asked) >= 2 and delta(after, before, calls, **orders) == len(asked)
    assert delta(after, before, "last100_upstream_call_duration_seconds_sum", **orders) == pytest.approx(
        0.2 * len(asked)
    )
    assert delta(after, before, "last100_upstream_call_duration_seconds_bucket", **orders, le="0.1") == 0
    assert delta(after, before, "last100_upstream_call_duration_seconds_bucket", **orders, le="0.25") == len(asked)
    device = {"connection": "gatectl", "hook": "hub_grant_access", "outcome": "ok"}
    assert delta(after, before, calls, **device) == 2  # the two granted entries' passes


def test_no_rider_or_credential_value_is_ever_a_label(api):
    api.post_entry(api.entry_body(credential={"kind": "token", "value": "secret-credential-77"}))
    api.post_entry()

    reply = api.client.get("/metrics").get_data(as_text=True)

    for private in ("secret-credential-77", "tok-1", "R1", "138****5678", "王*", "O1"):
        assert private not in reply


# -- read at scrape time --------------------------------------------------------------------------


def test_the_breaker_gauge_follows_each_connections_circuit(api):
    world = api.world
    circuit = "last100_circuit_breaker_state"
    before = scrape(api.client)
    assert value(before, circuit, connection="plat") == 0
    assert value(before, circuit, connection="gatectl") == 0  # known, never called: closed
    assert (circuit, frozenset({"connection": "gatectl"}.items())) in before

    world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    for n in range(5):  # five failures in a row open the circuit
        api.post_entry(api.entry_body(credential={"kind": "token", "value": f"tok-x{n}"}))
    assert value(scrape(api.client), circuit, connection="plat") == 2

    world.clock.advance(seconds=31)  # past reset_after_s: a trial may go ahead
    assert value(scrape(api.client), circuit, connection="plat") == 1
    assert value(scrape(api.client), circuit, connection="gatectl") == 0

    world.platform.fail.clear()
    api.post_entry(api.entry_body(credential={"kind": "token", "value": "tok-1"}))  # the trial succeeds
    assert value(scrape(api.client), circuit, connection="plat") == 0


def test_the_outbox_depth_is_read_from_the_database_by_status(api):
    world = api.world
    depth = "last100_outbox_items"
    empty = scrape(api.client)
    assert [value(empty, depth, status=s) for s in ("pending", "done", "dead")] == [0, 0, 0]

    for _ in range(3):
        api.post_entry(api.entry_body(credential={"kind": "token", "value": "tok-1"}))
    with world.store.transaction() as session:
        queue.enqueue(session, [OutboxItem("no_such_kind", "plat", {}, "odd")], world.clock.now())
    pending = scrape(api.client)
    assert [value(pending, depth, status=s) for s in ("pending", "done", "dead")] == [4, 0, 0]

    deliver_due(world.hub, world.store, world.clock)
    settled = scrape(api.client)
    assert [value(settled, depth, status=s) for s in ("pending", "done", "dead")] == [0, 3, 1]
    assert world.store.outbox_counts() == {"done": 3, "dead": 1}


def test_a_source_that_fails_is_left_out_and_said_to_be_down():
    class BrokenStore:
        def outbox_counts(self):
            raise RuntimeError("database unreachable")

        def last_job_runs(self):
            return {}

    collector = metrics.HubCollector(BrokenStore(), lambda: {"plat": "open"}, lambda: ["plat"])
    body, _type = metrics.exposition([collector])
    samples = parse(body.decode())

    up = "last100_metrics_source_up"
    assert value(samples, up, source="outbox") == 0
    assert value(samples, up, source="circuits") == 1 and value(samples, up, source="jobs") == 1
    assert value(samples, "last100_circuit_breaker_state", connection="plat") == 2
    assert not any(name == "last100_outbox_items" for name, _labels in samples)


# -- jobs --------------------------------------------------------------------------------------------


def test_a_job_run_is_observed_where_it_runs_and_its_last_run_is_read_from_the_database(api):
    world = api.world
    context = JobContext(world.hub, world.store, world.clock)
    started = world.clock.now()

    def slow(ctx) -> int:
        ctx.clock.advance(seconds=2.5)
        return 3

    def broken(ctx) -> int:
        ctx.clock.advance(seconds=0.04)
        raise RuntimeError("broken on purpose")

    before = scrape(api.client)
    run_job(JobSpec("test.metrics-slow", slow, "interval", {"seconds": 60}), context)
    run_job(JobSpec("test.metrics-slow", slow, "interval", {"seconds": 60}), context)
    result = run_job(JobSpec("test.metrics-broken", broken, "interval", {"seconds": 60}), context)
    assert not result.ok
    after = scrape(api.client)

    name = "last100_job_duration_seconds"
    slow_ok = {"job": "test.metrics-slow", "outcome": "ok"}
    assert delta(after, before, name + "_count", **slow_ok) == 2
    assert delta(after, before, name + "_sum", **slow_ok) == pytest.approx(5.0)
    assert delta(after, before, name + "_bucket", **slow_ok, le="1.0") == 0
    assert delta(after, before, name + "_bucket", **slow_ok, le="5.0") == 2
    assert delta(after, before, name + "_count", job="test.metrics-broken", outcome="error") == 1
    assert delta(after, before, name + "_count", job="test.metrics-broken", outcome="ok") == 0

    # The same runs as the database has them (what a scheduler process that nobody
    # scrapes leaves for the web process to show).
    last = "last100_job_last_run_duration_seconds"
    assert value(after, last, job="test.metrics-slow") == pytest.approx(2.5)
    assert value(after, last, job="test.metrics-broken") == pytest.approx(0.04)
    start = value(after, "last100_job_last_run_start_timestamp_seconds", job="test.metrics-slow")
    assert start == pytest.approx(started.timestamp() + 2.5)  # the second run started after the first


# -- access ---------------------------------------------------------------------------------------------


def test_metrics_are_open_without_a_token_and_need_no_console_login(api):
    reply = api.client.get("/metrics")
    assert reply.status_code == 200
    assert "last100_entry_decisions_total" in reply.get_data(as_text=True)
    assert reply.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", "Bearer s3cret-token-x", "Basic czNjcmV0LXRva2Vu", "s3cret-token"],
)
def test_with_a_token_metrics_need_it_as_a_bearer_token(api, authorization):
    client = app_with(api, metrics_token="s3cret-token")
    headers = {} if authorization is None else {"Authorization": authorization}

    reply = client.get("/metrics", headers=headers)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "last100_" not in reply.get_data(as_text=True)


def test_the_right_token_opens_the_metrics(api):
    client = app_with(api, metrics_token="s3cret-token")
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": "bearer s3cret-token"}).status_code == 200


def test_metrics_have_no_rate_limit(api):
    client = app_with(api, rate_limit_per_api_key="1/minute", rate_limit_sign_in="1/minute")
    assert {client.get("/metrics").status_code for _ in range(25)} == {200}


def test_metrics_are_left_out_of_the_openapi_document_like_healthz(api):
    paths = api.client.get("/api/v1/openapi.json").json["paths"]
    assert "/metrics" not in paths and "/healthz" not in paths
    assert all(path.startswith("/api/v1/") for path in paths)


# -- several processes --------------------------------------------------------------------------------


def test_an_operators_multiprocess_directory_is_emptied_and_kept(tmp_path):
    """In a process of its own: choosing the multiprocess mode changes the process."""
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_999.db").write_bytes(b"stale")
    (directory / "notes.txt").write_text("not ours")
    script = (
        "from hub.core import metrics; import os, prometheus_client.values as v;"
        "path, made = metrics.prepare_multiprocess_dir();"
        "print(path, made, v.ValueClass.__name__, os.environ['PROMETHEUS_MULTIPROC_DIR'])"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    assert done.stdout.split() == [str(directory), "False", "MmapedValue", str(directory)]
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]


def test_without_a_directory_a_temporary_one_is_made_even_after_an_early_import(tmp_path):
    script = (
        "import os, prometheus_client.values as v; assert v.ValueClass.__name__ == 'MutexValue';"
        "from hub.core import metrics;"
        "path, made = metrics.prepare_multiprocess_dir();"
        "metrics.observe_decision('granted', 0.1);"
        "print(made, v.ValueClass.__name__, sorted(p.name.split('_')[0] for p in path.iterdir()));"
        "metrics.remove_multiprocess_dir(path);"
        "print(path.exists(), 'PROMETHEUS_MULTIPROC_DIR' in os.environ)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}

    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)

    made, removed = done.stdout.splitlines()
    assert made == "True MmapedValue ['counter', 'histogram']"
    assert removed == "False False"


def test_a_worker_that_exits_is_marked_dead(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("gauge_livesum_4242.db", "gauge_liveall_4242.db", "counter_4242.db", "gauge_livesum_7.db"):
        (tmp_path / name).write_bytes(b"")

    gunicorn = web_server._gunicorn(Config(workers=2), lambda: None)
    gunicorn.cfg.child_exit(None, SimpleNamespace(pid=4242))  # as the master calls it

    # Its live gauges go; its counters stay counted.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_livesum_7.db"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """``last100 serve`` in a process of its own, its stdout and stderr read as it goes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, ls=lines: ls.extend(iter(s.readline, "")), daemon=True).start()

    def wait_for(self, url: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise AssertionError(f"server exited: {''.join(self.out + self.err)[-4000:]}")
            try:
                requests.get(url, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"{url} did not answer in {seconds} s")

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in list(self.err) if line.strip()]

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


def _seed(instance: Path) -> tuple[str, str]:
    """The community, gate, platform connection and API key of the served hub: its API
    key and a signed gate code."""
    from hub.core import apikeys
    from hub.core.config import load_config
    from hub.core.model import Community, Connection, Gate
    from hub.runtime import build_runtime
    from tests.observability_plugin import COMMUNITY_REF, PLUGIN

    runtime = build_runtime(load_config(instance, env={}))
    try:
        store = runtime.store
        store.upgrade()
        store.add_community(Community("c1", "Obs Garden", platform_refs={"obs": COMMUNITY_REF}))
        store.add_connection(Connection("obs", PLUGIN, "Obs platform", timeout_s=5.0), (), ["c1"])
        store.add_gate(Gate("g1", "c1", "North gate", "north-code", "1", None))
        _stored, key = apikeys.create(store, "obs", ("obs",), ("c1",), actor="test")
        return key, runtime.gate_codes.sign("north-code")
    finally:
        runtime.close()


def test_two_workers_count_together_and_log_json_with_the_request_id(tmp_path):
    """A real ``last100 serve --workers 2``: entries land on both workers, and whichever
    worker answers ``/metrics`` counts every entry; the JSON log lines are JSON and an
    adapter's line in a worker's upstream thread carries the request's id."""
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAST100_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    cli = [sys.executable, "-m", "hub.cli", "--instance", str(instance)]
    subprocess.run([*cli, "init"], check=True, env=env, cwd=ROOT, capture_output=True)
    with (instance / "last100.toml").open("a", encoding="utf-8") as config:
        config.write(
            'plugins = ["tests.observability_plugin:platform"]\nlog_format = "json"\n'
            'rate_limit_per_gate = ""\nrate_limit_per_rider = ""\nrate_limit_per_api_key = ""\n'
        )
    key, gate_code = _seed(instance)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _Server([*cli, "serve", "--port", str(port), "--workers", "2", "--threads", "4"], env)
    made: dict[str, str] = {}  # request id -> decision
    try:
        server.wait_for(f"{base}/healthz")
        deadline = time.monotonic() + 30
        while len(psutil.Process(server.proc.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = {child.pid for child in psutil.Process(server.proc.pid).children()}
        assert len(workers) == 2
        announced = next(line for line in server.out if "Prometheus metrics of the workers" in line)
        directory = Path(announced.rsplit(" in ", 1)[1].strip())
        assert directory.is_dir()

        def enter(n: int) -> None:
            body = {"gate_code": gate_code, "connection": "obs", "credential": {"kind": "token", "value": f"rider-{n}"}}
            headers = {"Authorization": f"Bearer {key}", "X-Request-ID": f"obs-{n}"}
            reply = requests.post(f"{base}/api/v1/entries", json=body, headers=headers, timeout=10)
            assert reply.status_code == 201, reply.text
            assert reply.headers["X-Request-ID"] == f"obs-{n}"
            made[f"obs-{n}"] = reply.json()["decision"]

        def served_by() -> dict[str, int]:
            """Request id -> the pid of the worker whose upstream thread verified the rider."""
            return {r["request_id"]: r["process"] for r in server.json_lines() if r["message"] == "verifying rider"}

        n = 0
        with cf.ThreadPoolExecutor(max_workers=8) as pool:
            # New connections, several at once, until both workers have decided entries.
            while n < 96 and (n < 16 or set(served_by().values()) != workers):
                list(pool.map(enter, range(n, n + 8)))
                n += 8
                time.sleep(0.1)  # the log lines come through a pipe
        time.sleep(0.5)
        lines = served_by()
        assert set(lines) == set(made)  # every entry's adapter line carries its request id…
        assert set(lines.values()) == workers  # …and both workers decided some

        for _ in range(6):  # whichever worker answers, it counts every worker's entries
            samples = parse(requests.get(f"{base}/metrics", timeout=10).text)
            counted = {d: value(samples, "last100_entry_decisions_total", decision=d) for d in metrics.DECISIONS}
            assert sum(counted.values()) == len(made) == n
            assert counted == {d: list(made.values()).count(d) for d in metrics.DECISIONS}
            hook = {"connection": "obs", "hook": "hub_verify_rider", "outcome": "ok"}
            assert value(samples, "last100_upstream_call_duration_seconds_count", **hook) == n
            assert value(samples, "last100_outbox_items", status="pending") == n  # one notice per entry
            assert value(samples, "last100_circuit_breaker_state", connection="obs") == 0
            assert not any(name.startswith("process_") for name, _labels in samples)  # one process only
    finally:
        code = server.stop()
    assert code == 0, "".join(server.out + server.err)[-4000:]
    assert not directory.exists()  # the temporary directory went with the server
    # Every line on stderr is JSON: the hub's, the adapter's, and gunicorn's own.
    lines = server.json_lines()
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    assert all({"timestamp", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
