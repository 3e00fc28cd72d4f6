"""Scheduled syncs on Celery workers (``hub.core.tasks``).

Without a broker nothing changes (the other job tests). Here: every built-in job but the
retention purge lists its partitions by connection and keeps to one connection when
given its partition; the Celery settings and the configuration's checks; a task's
claim rules as a worker applies them; and, against the real brokers (Redis and RabbitMQ,
skipped when unreachable unless ``LAST100_REQUIRE_REDIS=1`` / ``LAST100_REQUIRE_RABBITMQ=1``):
the locked scheduler enqueues one task per partition per tick instead of running jobs,
a real worker runs each partition once and skips a task delivered again, a task whose
worker was killed is delivered again and taken over, and ``last100 scheduler`` with
``last100 worker`` run the syncs end to end. Each test has queues of its own (and the
Redis tests a database of their own, :data:`REDIS_DB`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import main, write_instance_config
from hub.core.config import Config, ConfigError, load_config
from hub.core.db import JobRunRow
from hub.core.delivery import deliver_due
from hub.core.doors import read_door_events
from hub.core.expiry import expire_passes
from hub.core.health import check_connections
from hub.core.jobs import NO_CONNECTION, JobContext
from hub.core.model import CommunityPolicy, Connection, Decision, Gate, Health
from hub.core.publishing import publish_communities
from hub.core.reconcile import reconcile_orders
from hub.core.scheduler import LockedScheduler, enqueue_job, run_job
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.core.tasks import (
    TASK_NAME,
    ClaimOutcome,
    Enqueuer,
    RunningElsewhere,
    broker_display,
    celery_settings,
    configure_worker,
    make_celery,
    run_task,
    stale_after,
    task_key,
)
from hub.plugins.jobs import BuiltinJobs
from hub.runtime import build_runtime
from tests.celery_job_plugin import EVERY, LOG, PARTS, SLEEP
from tests.engine_fakes import FakePlatform, build_world, order, request
from tests.test_connection_health import Checked
from tests.test_door_events import DoorController
from tests.test_publishing import FakePublisher

#: The Redis database of the Celery tests (the other Redis tests use the URL's own).
REDIS_DB = 11
PLUGIN = "tests.celery_job_plugin:CeleryJobs"
ROOT = Path(__file__).resolve().parent.parent

# -- partitions and connection filters of the built-in jobs -------------------------------------


@pytest.fixture
def world(tmp_path):
    """The engine fakes' world with two of each kind of connection: platforms ``plat``
    and ``plat2``, devices ``gatectl`` (gate g1) and ``gatectl2`` (gate g3), publishers
    ``pub-a`` and ``pub-b``, door controllers ``doors`` (gates west and south) and
    ``doors2`` (gate east3), checkable ``chk-a`` and ``chk-b``."""
    other, publisher, controller, checked = FakePlatform("otherplatform"), FakePublisher(), DoorController(), Checked()
    w = build_world(tmp_path, CommunityPolicy(), extra_plugins=[other, publisher, controller, checked])
    store = w.store
    refs = {"plat": "PC-1", "plat2": "PC-1"}
    store.update_community(dataclasses.replace(w.community, platform_refs=refs))
    store.add_connection(Connection("plat2", "otherplatform", "Other platform", timeout_s=0.5), (), ["c1"])
    store.add_connection(Connection("gatectl2", "fakegate", "South controller", timeout_s=0.5), (), ["c1"])
    store.add_gate(Gate("g3", "c1", "South gate", "south-code", "3", "gatectl2"))
    for connection_id in ("pub-a", "pub-b"):
        store.add_connection(Connection(connection_id, "publisher", f"Platform {connection_id}"), (), ["c1"])
    for connection_id, gates in (("doors", [("west", "4"), ("south2", "5")]), ("doors2", [("east3", "6")])):
        store.add_connection(Connection(connection_id, "doorctl", f"Doors {connection_id}", timeout_s=0.5), (), ["c1"])
        for gate_id, door in gates:
            store.add_gate(Gate(gate_id, "c1", gate_id, f"{gate_id}-code", door, connection_id))
    for connection_id in ("chk-a", "chk-b"):
        store.add_connection(Connection(connection_id, "checked", f"Checked {connection_id}"), (), [])
    other.riders["tok-2"] = w.platform.riders["tok-1"]  # R1 rides for both platforms
    other.orders["R1"] = [order("O1", "R1", "PC-1", eta=w.clock.now() + timedelta(minutes=10))]
    w.other, w.publisher, w.controller, w.checked = other, publisher, controller, checked
    yield w
    w.engine.close()
    store.dispose()


def spec(job_id):
    return next(s for s in BuiltinJobs().hub_jobs() if s.id == job_id)


def context(world, partition=None):
    return JobContext(world.hub, world.store, world.clock, partition=partition)


def enter(world, gate="north-code", connection="plat", token="tok-1"):
    entry = world.engine.decide(dataclasses.replace(request(token, gate=gate), connection_id=connection))
    assert entry.decision is Decision.GRANTED, entry.reasons
    return entry


@pytest.fixture
def entries(world):
    """Entries through plat at g1 (device gatectl) and g2 (a guard), through plat2 at
    g3 (device gatectl2): each with a live pass and a rider notice in the outbox."""
    return {
        "g1": enter(world),
        "g2": enter(world, gate="east-code"),
        "g3": enter(world, gate="south-code", connection="plat2", token="tok-2"),
    }


def test_every_builtin_job_but_the_purge_lists_its_partitions_by_connection(world, entries):
    parts = {s.id: s.partitions(context(world)) if s.partitions else None for s in BuiltinJobs().hub_jobs()}

    assert parts == {
        "outbox.deliver": ["plat", "plat2"],
        "orders.reconcile": ["plat", "plat2"],
        "passes.expire": [],  # nothing has ended yet
        "communities.publish": ["pub-a", "pub-b"],
        "doors.events": ["doors", "doors2"],
        "connections.health": ["chk-a", "chk-b"],
        "retention.purge": None,
    }
    world.clock.advance(minutes=30)
    assert spec("passes.expire").partitions(context(world)) == ["gatectl", "gatectl2", NO_CONNECTION]
    assert spec("orders.reconcile").partitions(context(world)) == []  # no live pass left


def test_partitions_leave_out_what_cannot_run(world, entries):
    world.store.update_connection(
        dataclasses.replace(world.store.get_connection("pub-b"), enabled=False), secret_names=()
    )
    world.store.update_connection(
        dataclasses.replace(world.store.get_connection("chk-a"), enabled=False), secret_names=()
    )
    deliver_due(world.hub, world.store, world.clock, connection_id="plat")

    assert spec("communities.publish").partitions(context(world)) == ["pub-a"]
    assert spec("connections.health").partitions(context(world)) == ["chk-b"]
    assert spec("outbox.deliver").partitions(context(world)) == ["plat2"]  # plat's were delivered


def test_outbox_delivery_of_one_connection_delivers_only_its_items(world, entries):
    report = deliver_due(world.hub, world.store, world.clock, connection_id="plat2")

    assert report.delivered == 1
    assert [rider for rider, _ in world.other.notices] == ["R1"]
    assert world.platform.notices == []
    assert world.store.outbox_connections() == ["plat"]  # not leased, still due

    result = run_job(spec("outbox.deliver"), context(world, "plat"))
    assert result.items == 2 and len(world.platform.notices) == 2
    assert world.store.job_runs("outbox.deliver")[0]["partition"] == "plat"


def test_reconciling_one_connection_asks_only_its_platform(world, entries):
    world.clock.advance(minutes=3)  # the orders' reports are stale

    report = reconcile_orders(world.hub, world.store, connection_id="plat2")

    assert report.polled == 1
    assert world.other.calls.count["hub_get_order"] == 1
    assert world.platform.calls.count["hub_get_order"] == 0
    assert run_job(spec("orders.reconcile"), context(world, "plat")).items == 1
    assert world.platform.calls.count["hub_get_order"] == 1


def test_expiring_one_device_takes_back_only_its_passes_and_guards_passes_are_a_partition(world, entries):
    world.clock.advance(minutes=30)

    report = expire_passes(world.hub, world.store, connection_id="gatectl2")

    assert report.revoked == 1
    assert world.gate_ctl.revoked == [entries["g3"].access_pass.grant_id]
    assert world.store.get_entry(entries["g2"].id).pass_revoked_at is None
    assert run_job(spec("passes.expire"), context(world, NO_CONNECTION)).items == 1
    assert world.store.get_entry(entries["g2"].id).pass_revoked_at == world.clock.now()
    assert world.store.get_entry(entries["g1"].id).pass_revoked_at is None
    assert spec("passes.expire").partitions(context(world)) == ["gatectl"]


def test_publishing_to_one_connection_publishes_only_there(world):
    report = publish_communities(world.hub, world.store, world.clock, connection_id="pub-b")

    assert report.published == 1
    assert world.publisher.versions() == [("pub-b", 1)]
    assert run_job(spec("communities.publish"), context(world, "pub-a")).items == 1
    assert world.publisher.versions() == [("pub-b", 1), ("pub-a", 1)]


def test_reading_door_events_of_one_connection_reads_only_its_gates(world):
    read_door_events(world.hub, world.store, world.clock, connection_id="doors2")

    assert [gate for gate, _ in world.controller.reads] == ["east3"]
    run_job(spec("doors.events"), context(world, "doors"))
    assert sorted(gate for gate, _ in world.controller.reads) == ["east3", "south2", "west"]
    assert read_door_events(world.hub, world.store, world.clock, connection_id="gone").gates == 0


def test_checking_one_connection_checks_only_it(world):
    world.checked.answers["chk-b"] = Health(ok=False, message="down")

    report = check_connections(world.hub, world.store, world.clock, connection_id="chk-b")

    assert (report.checked, report.failing) == (1, 1)
    assert world.checked.checked == ["chk-b"]
    assert run_job(spec("connections.health"), context(world, "chk-a")).items == 1
    assert world.checked.checked == ["chk-b", "chk-a"]
    assert check_connections(world.hub, world.store, world.clock, connection_id="gone").checked == 0


def test_without_celery_the_scheduler_runs_every_job_whole(world, entries):
    outcome = run_job(spec("outbox.deliver"), context(world))

    assert outcome.items == 3
    [run] = world.store.job_runs("outbox.deliver")
    assert (run["partition"], run["tick"]) == (None, None) and "parts" not in run


# -- configuration, keys and settings --------------------------------------------------------------


def test_the_broker_must_be_redis_or_rabbitmq(tmp_path):
    env = {"LAST100_CELERY_BROKER_URL": "http://user:secret@broker.test/"}
    with pytest.raises(ConfigError, match=r"Redis \(.*\) or RabbitMQ") as raised:
        load_config(tmp_path, env=env)
    assert "secret" not in str(raised.value)
    for url in ("redis://127.0.0.1:6379/1", "rediss://h:6380/0", "amqp://guest@127.0.0.1:5672//", "amqps://h//"):
        assert load_config(tmp_path, env={"LAST100_CELERY_BROKER_URL": url}).celery_broker_url == url
    assert load_config(tmp_path, env={}).celery_broker_url == ""


def test_the_redis_visibility_timeout_must_be_longer_than_the_time_limit(tmp_path):
    env = {
        "LAST100_CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "LAST100_CELERY_TASK_TIME_LIMIT_S": "900",
        "LAST100_CELERY_VISIBILITY_TIMEOUT_S": "600",
    }
    with pytest.raises(ConfigError, match="celery_visibility_timeout_s"):
        load_config(tmp_path, env=env)
    rabbit = {**env, "LAST100_CELERY_BROKER_URL": "amqp://guest@127.0.0.1:5672//"}
    assert load_config(tmp_path, env=rabbit).celery_task_time_limit_s == 900  # no visibility timeout there


def test_the_celery_settings_ack_late_and_prefetch_one(tmp_path):
    config = Config(celery_broker_url="redis://:pw@127.0.0.1:6379/1", celery_task_time_limit_s=100)

    settings = celery_settings(config)

    assert settings["task_acks_late"] and settings["task_reject_on_worker_lost"]
    assert (settings["worker_prefetch_multiplier"], settings["task_ignore_result"]) == (1, True)
    assert (settings["task_serializer"], settings["accept_content"]) == ("json", ["json"])
    assert (settings["task_time_limit"], settings["task_soft_time_limit"]) == (100, 90)
    assert settings["broker_transport_options"] == {"visibility_timeout": 3600.0}
    assert "broker_transport_options" not in celery_settings(
        dataclasses.replace(config, celery_broker_url="amqp://guest@h//")
    )
    assert broker_display(config.celery_broker_url) == "redis://:***@127.0.0.1:6379/1"
    assert stale_after(config) == timedelta(seconds=160)  # the limit and a minute
    assert stale_after(dataclasses.replace(config, celery_task_time_limit_s=5)) == timedelta(seconds=10)


def test_a_task_key_is_the_same_for_every_copy_of_one_run_of_one_partition():
    tick = datetime(2026, 12, 5, 17, 15, tzinfo=UTC)
    assert task_key("outbox.deliver", tick, "plat") == "last100:outbox.deliver:2026-12-05T17:15:00+00:00:plat"
    assert task_key("retention.purge", tick, None) == "last100:retention.purge:2026-12-05T17:15:00+00:00:*"
    other_zone = tick.astimezone(datetime.now().astimezone().tzinfo)
    assert task_key("outbox.deliver", other_zone, "plat") == task_key("outbox.deliver", tick, "plat")


def test_a_run_that_cannot_be_enqueued_is_recorded_as_failed_and_the_scheduler_goes_on(world):
    config = Config(celery_broker_url="redis://127.0.0.1:1/0")  # nothing listens there
    app = make_celery(config)
    app.conf.broker_connection_timeout = 0.5
    app.conf.task_publish_retry_policy = {"max_retries": 0}
    broken = dataclasses.replace(spec("outbox.deliver"), partitions=lambda ctx: 1 / 0)
    tick = world.clock.now()

    unreachable = enqueue_job(spec("connections.health"), context(world), Enqueuer(config, app), tick)
    unlisted = enqueue_job(broken, context(world), Enqueuer(config, app), tick)

    assert unreachable == unlisted == []
    [health] = world.store.job_runs("connections.health")
    assert health["error"].startswith("not enqueued: ") and health["tick"] == tick
    assert world.store.job_runs("outbox.deliver")[0]["error"] == "not enqueued: ZeroDivisionError"
    app.close()


# -- the claim rules, as a worker runs a task -------------------------------------------------------


def hub_config(tmp_path, broker="", **settings) -> Config:
    """A hub on a SQLite file in ``tmp_path`` with the Celery test jobs."""
    config = Config(
        instance_path=tmp_path / "instance",
        secret_keys=(generate_key(),),
        secret_key="test-secret-key",
        plugins=(PLUGIN,),
        celery_broker_url=broker,
        **settings,
    )
    config.instance_path.mkdir(parents=True, exist_ok=True)
    store = Store(config.effective_database_url, config.secret_keys)
    store.upgrade()
    store.dispose()
    return config


def log_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.fixture
def parts_log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "parts.log"
    monkeypatch.setenv(LOG, str(path))
    return path


@pytest.fixture
def runtime(tmp_path, parts_log):
    from hub.core.clock import ManualClock

    clock = ManualClock()
    rt = build_runtime(hub_config(tmp_path, celery_task_time_limit_s=30), clock)
    yield rt
    rt.close()


def test_a_task_runs_its_partition_once_and_a_copy_delivered_again_is_skipped(runtime, parts_log):
    tick = runtime.clock.now().isoformat()

    first = run_task("test.parts", "b", tick, runtime)
    again = run_task("test.parts", "b", tick, runtime)

    assert (first["outcome"], first["items"]) == ("claimed", 1)
    assert again["outcome"] == "finished"
    assert [line.split()[::2] for line in log_lines(parts_log)] == [["start", "b"], ["end", "b"]]
    [run] = runtime.store.job_runs("test.parts")
    assert [(p["partition"], p["attempts"], p["items"]) for p in run["parts"]] == [("b", 1, 1)]


def test_a_copy_of_a_task_still_running_elsewhere_waits_then_takes_over(runtime, parts_log):
    tick = runtime.clock.now()
    key = task_key("test.parts", tick, "a")
    runtime.store.claim_job_task("test.parts", "a", key, tick, stale_after=timedelta(seconds=60), max_attempts=3)
    runtime.clock.advance(seconds=10)

    with pytest.raises(RunningElsewhere) as waiting:
        run_task("test.parts", "a", tick.isoformat(), runtime)
    assert waiting.value.seconds == pytest.approx(51)  # the stale limit (30 s + 30 s) is 50 s away
    assert log_lines(parts_log) == []

    runtime.clock.advance(seconds=51)
    taken = run_task("test.parts", "a", tick.isoformat(), runtime)

    assert taken["outcome"] == "taken_over"
    assert len(log_lines(parts_log)) == 2
    [part] = runtime.store.job_runs("test.parts")[0]["parts"]
    assert (part["attempts"], part["items"], part["ended_at"]) == (2, 1, runtime.clock.now())


def test_a_task_of_a_job_the_worker_does_not_have_is_recorded_as_failed(runtime):
    outcome = run_task("gone.job", None, runtime.clock.now().isoformat(), runtime)

    assert outcome["outcome"] == "unknown_job"
    [run] = runtime.store.job_runs("gone.job")
    assert run["ended_at"] is not None and "no job 'gone.job' in this worker" in run["error"]


# -- real brokers ------------------------------------------------------------------------------------


def _redis_broker(redis_url: str) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request) -> str:
    if request.param == "redis":
        return _redis_broker(request.getfixturevalue("redis_url"))
    return request.getfixturevalue("rabbitmq_url")


@pytest.fixture
def queue(broker):
    """A queue of this test's own, deleted afterwards."""
    name = f"last100-test-{uuid.uuid4().hex[:12]}"
    yield name
    _delete_queue(broker, name)


def drain(broker: str, queue: str, wait_s: float = 2.0) -> list[tuple[dict, list]]:
    """Every message waiting in ``queue`` (taken off it): (headers, args)."""
    from kombu import Connection, Queue

    found = []
    deadline = time.monotonic() + wait_s
    with Connection(broker) as connection:
        waiting = Queue(queue)(connection.default_channel)
        while True:
            message = waiting.get(no_ack=True)
            if message is None:
                if found or time.monotonic() > deadline:
                    return found
                time.sleep(0.1)
                continue
            args, _kwargs, _embed = message.decode()
            found.append((message.headers, args))


def wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def task_rows(config) -> list[JobRunRow]:
    store = Store(config.effective_database_url, config.secret_keys)
    try:
        with store.transaction() as s:
            return list(s.scalars(select(JobRunRow).where(JobRunRow.task_key.is_not(None)).order_by(JobRunRow.id)))
    finally:
        store.dispose()


def test_the_scheduler_with_celery_enqueues_one_task_per_partition_at_each_tick(
    tmp_path, broker, queue, parts_log, monkeypatch
):
    monkeypatch.setenv(EVERY, "0.5")
    monkeypatch.setenv(PARTS, "a,b")
    config = hub_config(tmp_path, broker, celery_queue=queue, celery_task_expires_s=300)
    rt = build_runtime(config)
    enqueuer = Enqueuer(config)
    lock = rt.store.scheduler_lock()
    assert lock.try_acquire()
    service = LockedScheduler(rt.hub.jobs(), JobContext(rt.hub, rt.store, rt.clock), lock, enqueuer=enqueuer)
    try:
        service.start()
        time.sleep(1.4)
    finally:
        service.stop()
        enqueuer.close()
        rt.close()

    messages = drain(broker, queue)

    assert log_lines(parts_log) == [] and task_rows(config) == []  # nothing ran in the scheduler
    ticks: dict[str, list[str]] = {}
    for headers, args in messages:
        job_id, partition, tick = args
        assert headers["task"] == TASK_NAME
        assert headers["id"] == task_key(job_id, datetime.fromisoformat(tick), partition)
        expires = datetime.fromisoformat(headers["expires"])
        assert expires == datetime.fromisoformat(tick) + timedelta(seconds=300)
        ticks.setdefault(tick, []).append(f"{job_id}/{partition}")
    assert len(ticks) >= 2, ticks
    assert all(sorted(jobs) == ["test.parts/a", "test.parts/b"] for jobs in ticks.values()), ticks
    times = sorted(datetime.fromisoformat(t) for t in ticks)
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(seconds=0.5)}  # the scheduled times


def test_enqueueing_a_job_without_partitions_sends_one_task_and_nothing_for_no_partitions(
    tmp_path, broker, queue, monkeypatch
):
    monkeypatch.setenv(PARTS, "")
    config = hub_config(tmp_path, broker, celery_queue=queue, celery_task_expires_s=0)
    rt = build_runtime(config)
    enqueuer = Enqueuer(config)
    tick = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    specs = {s.id: s for s in rt.hub.jobs()}
    try:
        assert enqueuer.enqueue(specs["test.parts"], JobContext(rt.hub, rt.store, rt.clock), tick) == []
        keys = enqueuer.enqueue(specs["test.whole"], JobContext(rt.hub, rt.store, rt.clock), tick)
    finally:
        enqueuer.close()
        rt.close()

    [(headers, args)] = drain(broker, queue)
    assert keys == [headers["id"]] == ["last100:test.whole:2026-12-05T03:00:00+00:00:*"]
    assert args == ["test.whole", None, tick.isoformat()] and headers["expires"] is None


@pytest.fixture
def in_thread_worker(tmp_path):
    """``start(config, app=None)``: a real Celery worker in a thread (solo pool) reading
    the config's queue, running tasks as ``last100 worker`` does; ``done`` counts the
    tasks it finished (run, skipped or retried)."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    stack = []
    done: list[object] = []

    def finished(sender=None, retval=None, state=None, **_):
        done.append((state, retval))

    task_postrun.connect(finished, weak=False)

    def start(config, app=None):
        app = app or make_celery(config)
        configure_worker(config, build_runtime)
        worker = start_worker(
            app, pool="solo", perform_ping_check=False, queues=[config.celery_queue], loglevel="WARNING"
        )
        worker.__enter__()
        stack.append((worker, app))
        return app

    start.done = done
    yield start
    try:
        for worker, app in reversed(stack):
            worker.__exit__(None, None, None)
            app.close()
    finally:
        task_postrun.disconnect(finished)
        configure_worker(None, None)


def test_a_real_worker_runs_each_partition_once_and_skips_a_task_delivered_again(
    tmp_path, broker, queue, parts_log, in_thread_worker
):
    config = hub_config(tmp_path, broker, celery_queue=queue)
    app = in_thread_worker(config)
    rt = build_runtime(config)
    spec = next(s for s in rt.hub.jobs() if s.id == "test.parts")
    tick = datetime.now(UTC).replace(microsecond=0)
    enqueuer = Enqueuer(config, app)
    try:
        keys = enqueuer.enqueue(spec, JobContext(rt.hub, rt.store, rt.clock), tick)
        wait_for(lambda: len(in_thread_worker.done) >= 3, 30, "the three partitions")
        runs = rt.store.job_runs("test.parts")
        # The broker delivers the same tasks again (as after a worker lost its connection).
        enqueuer.enqueue(spec, JobContext(rt.hub, rt.store, rt.clock), tick)
        wait_for(lambda: len(in_thread_worker.done) >= 6, 30, "the copies")
    finally:
        rt.close()

    assert len(keys) == 3
    [run] = runs
    assert run["ended_at"] is not None and run["tick"] == tick
    assert [(p["partition"], p["task_key"], p["items"]) for p in run["parts"]] == [
        (p, task_key("test.parts", tick, p), 1) for p in ("a", "b", "c")
    ]
    outcomes = [retval["outcome"] for _state, retval in in_thread_worker.done]
    assert sorted(outcomes) == ["claimed"] * 3 + ["finished"] * 3
    assert sorted(line.split()[2] for line in log_lines(parts_log) if line.startswith("end")) == ["a", "b", "c"]
    assert len(task_rows(config)) == 3


def cli_env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAST100_")}
    return {**env, "LAST100_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT), **extra}


def write_instance(tmp_path, broker, queue, **settings) -> Config:
    """An instance folder with its ``last100.toml`` (the test jobs, Celery on
    ``broker``/``queue``, ``settings``) and a migrated database, as an operator makes."""
    config = Config(instance_path=tmp_path / "instance")
    write_instance_config(config, plugins=[PLUGIN])
    lines = [f'celery_broker_url = "{broker}"', f'celery_queue = "{queue}"']
    lines += [f"{name} = {value!r}" for name, value in settings.items()]
    with config.config_file.open("a", encoding="utf-8") as toml:
        toml.write("\n".join(lines) + "\n")
    loaded = load_config(config.instance_path, env={})
    store = Store(loaded.effective_database_url, loaded.secret_keys)
    store.upgrade()
    store.dispose()
    return loaded


def last100(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    out = log.open("w", encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the worker and its pool are killed together
    )


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(10)


def test_a_task_whose_worker_was_killed_is_delivered_again_and_taken_over_once_stale(
    tmp_path, broker, queue, parts_log, in_thread_worker, monkeypatch
):
    """The first worker (a ``last100 worker`` process) is killed while it runs a task.
    RabbitMQ hands the task on as soon as the worker's connection breaks, Redis once
    its visibility timeout has passed; the second worker waits until the run is stale
    (the 5 s time limit plus 5 s), then takes it over: the partition ran to its end
    once, on its second attempt."""
    config = write_instance(
        tmp_path, broker, queue, celery_task_time_limit_s=5.0, celery_visibility_timeout_s=6.0, celery_task_expires_s=0
    )
    monkeypatch.setenv(SLEEP, "2.5")  # for the second worker, in this process
    monkeypatch.setenv(PARTS, "a")
    env = cli_env(config.instance_path, **{LOG: str(parts_log), SLEEP: "2.5", PARTS: "a"})
    first = last100("worker", "--concurrency", "1", env=env, log=tmp_path / "worker1.log")
    try:
        app = make_celery(config)
        rt = build_runtime(config)
        spec = next(s for s in rt.hub.jobs() if s.id == "test.parts")
        tick = datetime.now(UTC).replace(microsecond=0)
        Enqueuer(config, app).enqueue(spec, JobContext(rt.hub, rt.store, rt.clock), tick)
        rt.close()
        started = wait_for(lambda: log_lines(parts_log), 60, "the first worker to start the task")
        stop(first, signal.SIGKILL)
        assert started == [f"start {started[0].split()[1]} a"]

        # The second worker (Redis: sweeping for messages past their visibility timeout every second).
        app.conf.broker_transport_options = {
            **app.conf.broker_transport_options,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
        in_thread_worker(config, app)
        wait_for(lambda: [line for line in log_lines(parts_log) if line.startswith("end")], 60, "the takeover")
        time.sleep(1)  # any further copy comes and goes
    finally:
        stop(first, signal.SIGKILL)

    lines = log_lines(parts_log)
    assert [line.split()[0] for line in lines] == ["start", "start", "end"]
    assert lines[1].split()[1] == str(os.getpid())  # the second worker ran it
    [row] = task_rows(config)
    assert (row.partition, row.attempts, row.items, row.error) == ("a", 2, 1, None)
    assert row.ended_at is not None
    outcomes = [retval["outcome"] if isinstance(retval, dict) else state for state, retval in in_thread_worker.done]
    took_over = outcomes.index("taken_over")
    assert set(outcomes[:took_over]) == {"RETRY"}  # it waited for the stale limit first
    # Any later copy (Redis: the waiting copy's own visibility timeout ran out) is skipped.
    assert set(outcomes[took_over + 1 :]) <= {"finished"}


def _delete_queue(broker: str, queue: str) -> None:
    from kombu import Connection

    with Connection(broker) as connection, contextlib.suppress(Exception):  # never declared: nothing to delete
        connection.default_channel.queue_delete(queue)


def test_scheduler_and_workers_run_the_syncs_end_to_end(tmp_path, redis_url, parts_log):
    """``last100 scheduler`` (Celery mode) and two ``last100 worker`` processes on Redis:
    every tick's partitions run once each, on the workers, never in the scheduler."""
    broker = _redis_broker(redis_url)
    queue = f"last100-test-{uuid.uuid4().hex[:12]}"
    config = write_instance(tmp_path, broker, queue)
    env = cli_env(config.instance_path, **{LOG: str(parts_log), EVERY: "1", PARTS: "a,b"})
    workers = [last100("worker", "--concurrency", "1", env=env, log=tmp_path / f"w{n}.log") for n in range(2)]
    scheduler = last100("scheduler", env=env, log=tmp_path / "scheduler.log")
    try:

        def finished_ticks():
            runs = [r for r in _job_runs(config, "test.parts") if r["ended_at"] is not None]
            return runs if len(runs) >= 3 else None

        wait_for(finished_ticks, 90, "three finished runs")
    finally:
        stopped = [stop(scheduler), *(stop(worker) for worker in workers)]
        _delete_queue(broker, queue)

    assert stopped == [0, 0, 0]  # SIGTERM: a clean stop (the workers' warm shutdown)

    printed = (tmp_path / "scheduler.log").read_text(encoding="utf-8")
    assert "Celery: enqueueing each run's tasks" in printed and "redis://" in printed
    pids = {line.split()[1] for line in log_lines(parts_log)}
    assert pids and str(scheduler.pid) not in pids
    for run in _job_runs(config, "test.parts"):
        if run["ended_at"] is not None:
            assert sorted(p["partition"] for p in run["parts"]) == ["a", "b"], run
            assert all(p["attempts"] == 1 and p["items"] == 1 for p in run["parts"]), run
    keys = [row.task_key for row in task_rows(config)]
    assert len(keys) == len(set(keys))
    shown = CliRunner().invoke(main, ["--instance", str(config.instance_path), "jobs", "runs", "test.parts"])
    assert shown.exit_code == 0, shown.output
    assert "scheduled " in shown.output and "  a" in shown.output and "  b" in shown.output


def _job_runs(config, job_id):
    store = Store(config.effective_database_url, config.secret_keys)
    try:
        return store.job_runs(job_id, 50)
    finally:
        store.dispose()


# -- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("LAST100_")]:
        monkeypatch.delenv(name)
    instance = tmp_path / "instance"

    def run(*args, env=None):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], env=env)

    return run


def test_the_worker_needs_a_broker(cli):
    assert cli("init").exit_code == 0

    result = cli("worker")

    assert result.exit_code == 1
    assert "celery_broker_url is not configured" in result.output


def test_the_worker_needs_a_migrated_database(cli, tmp_path):
    config = Config(instance_path=tmp_path / "instance")
    write_instance_config(config)

    result = cli("worker", env={"LAST100_CELERY_BROKER_URL": "redis://127.0.0.1:6379/11"})

    assert result.exit_code == 1
    assert "the database is not migrated: run 'last100 db upgrade'" in result.output


def test_the_worker_says_how_to_install_celery_when_it_is_missing(cli, monkeypatch):
    assert cli("init").exit_code == 0
    monkeypatch.setitem(sys.modules, "celery", None)  # import celery fails

    result = cli("worker", env={"LAST100_CELERY_BROKER_URL": "amqp://guest@127.0.0.1:5672//"})

    assert result.exit_code == 1
    assert "pip install 'last100-hub[celery]'" in result.output


def test_jobs_list_and_runs_show_a_run_on_workers_with_its_partitions(cli, tmp_path):
    assert cli("init").exit_code == 0
    config = load_config(tmp_path / "instance", env={})
    store = Store(config.effective_database_url, config.secret_keys)
    tick = datetime.now(UTC).replace(microsecond=0)
    try:
        for partition, items in (("plat", 2), ("plat2", 3)):
            key = task_key("outbox.deliver", tick, partition)
            got = store.claim_job_task(
                "outbox.deliver", partition, key, tick, stale_after=timedelta(minutes=5), max_attempts=3
            )
            assert got.outcome is ClaimOutcome.CLAIMED
            store.finish_job_run(got.run_id, items=items, attempt=got.attempt)
    finally:
        store.dispose()

    listed = cli("jobs", "list")
    runs = cli("jobs", "runs", "outbox.deliver")
    as_json = cli("jobs", "list", "--json")

    assert "5 item(s) in 2 partition(s)" in listed.output
    assert runs.exit_code == 0 and f"scheduled {tick:%Y-%m-%d %H:%M:%S}" in runs.output
    header, whole, *parts = runs.output.splitlines()
    assert "PARTITION" in header and "5" in whole.split()
    assert [line.split()[-3:] for line in parts] == [["2", "0", "plat"], ["3", "0", "plat2"]]
    import json

    [job] = [j for j in json.loads(as_json.output)["jobs"] if j["id"] == "outbox.deliver"]
    assert [p["partition"] for p in job["last_run"]["parts"]] == ["plat", "plat2"]
    assert job["last_run"]["tick"] == tick.isoformat()
    assert "No runs of retention.purge recorded" in cli("jobs", "runs", "retention.purge").output
