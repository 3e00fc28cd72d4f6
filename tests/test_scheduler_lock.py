"""One scheduler per database: the lock (a PostgreSQL advisory lock, a lease row on
SQLite), a scheduler that stops when it loses it, and two real ``last100 scheduler``
processes against one database, on both backends."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text, update

from hub.core.clock import Clock, ManualClock
from hub.core.db import SchedulerLockRow
from hub.core.jobs import JobContext
from hub.core.model import JobSpec
from hub.core.plugins import Hub
from hub.core.scheduler import LockedScheduler, wait_for_lock
from hub.core.scheduler_lock import LockHolder, SchedulerLock, advisory_key
from hub.core.secrets import generate_key
from hub.core.store import Store
from tests.job_plugin import TICK_LOG
from tests.storage.conftest import Backend, backend, postgres_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def open_store(backend: Backend):  # noqa: F811
    """Opens Stores on the test's database (migrated by the first); each is one process's
    view of it, with an engine of its own."""
    stores: list[Store] = []

    def make(clock: Clock | None = None) -> Store:
        store = Store(backend.url, [generate_key()], clock=clock, connect_args=backend.connect_args)
        if not stores:
            store.upgrade()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.dispose()


def _wait(condition, seconds: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds} s")
        time.sleep(0.05)


# -- the lock ------------------------------------------------------------------------------


def test_a_second_scheduler_cannot_take_the_lock_while_the_first_holds_it(open_store):
    first = open_store().scheduler_lock(holder="host-a:1")
    second = open_store().scheduler_lock(holder="host-b:2")

    assert first.try_acquire()
    assert not second.try_acquire()
    assert not second.held and first.held
    holder = second.holder()
    assert holder is not None and holder.holder == "host-a:1"
    assert holder.since == first.acquired_at
    assert holder.describe().startswith("host-a:1, since ") and holder.describe().endswith(" UTC")
    assert first.renew() and first.try_acquire()  # holding it again is holding it still
    assert not second.try_acquire()

    first.release()
    second.release()  # not held: nothing happens


def test_releasing_the_lock_lets_the_second_scheduler_in(open_store):
    first = open_store().scheduler_lock(holder="host-a:1")
    second = open_store().scheduler_lock(holder="host-b:2")
    assert first.try_acquire()

    first.release()

    assert not first.held and second.holder() is None
    assert second.try_acquire()
    assert second.holder().holder == "host-b:2"
    assert not first.try_acquire() and not first.renew()
    second.release()
    assert first.holder() is None


def test_locks_of_other_names_do_not_block_each_other(open_store):
    store = open_store()
    locks = [store.scheduler_lock(holder="a:1"), store.scheduler_lock(name="other", holder="b:2")]
    assert all(lock.try_acquire() for lock in locks)
    for lock in locks:
        lock.release()


def test_an_expired_sqlite_lease_is_taken_over_and_its_old_holder_learns_it(tmp_path):
    clock = ManualClock()
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    stores = [Store(url, [generate_key()], clock=clock) for _ in range(2)]
    stores[0].upgrade()
    try:
        crashed = stores[0].scheduler_lock(holder="host-a:1", lease_s=30, renew_s=10)
        second = stores[1].scheduler_lock(holder="host-b:2", lease_s=30, renew_s=10)
        assert crashed.try_acquire()

        clock.advance(20)
        assert crashed.still_held() is False  # a renewal is overdue: no run starts now
        assert not second.try_acquire()  # but the lease runs for 10 s more
        clock.advance(10)
        assert second.holder() is None  # expired: nobody holds it

        assert second.try_acquire()
        assert second.holder().holder == "host-b:2"
        assert not crashed.renew() and not crashed.held
        crashed.release()  # the lease is no longer its own: the row stays
        assert second.holder().holder == "host-b:2"
    finally:
        for store in stores:
            store.dispose()


def test_a_renewed_sqlite_lease_is_not_taken_over(tmp_path):
    clock = ManualClock()
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    first_store, second_store = Store(url, [generate_key()], clock=clock), Store(url, [generate_key()], clock=clock)
    first_store.upgrade()
    try:
        first = first_store.scheduler_lock(holder="host-a:1", lease_s=30, renew_s=10)
        second = second_store.scheduler_lock(holder="host-b:2", lease_s=30, renew_s=10)
        assert first.try_acquire()
        for _ in range(5):
            clock.advance(10)
            assert first.renew() and first.still_held()
            assert not second.try_acquire()
    finally:
        first_store.dispose()
        second_store.dispose()


def _backend_pid(engine_url: str, connect_args: dict, lock: SchedulerLock) -> int:
    """The PostgreSQL backend holding the lock (seen from outside, as an admin would)."""
    engine = create_engine(engine_url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            a, b = advisory_key(schema, lock.name)
            return connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = CAST(:a AS oid) "
                    "AND objid = CAST(:b AS oid) AND objsubid = 2 AND granted"
                ),
                {"a": a, "b": b},
            ).scalar_one()
    finally:
        engine.dispose()


def _terminate(url: str, pid: int) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_postgres_lock_ends_with_its_holders_session(open_store, backend):  # noqa: F811
    crashed = open_store().scheduler_lock(holder="host-a:1")
    second = open_store().scheduler_lock(holder="host-b:2")
    assert crashed.try_acquire()
    assert not second.try_acquire()

    # The holder's process dies: its session ends, and PostgreSQL releases the lock.
    _terminate(backend.url, _backend_pid(backend.url, backend.connect_args, crashed))

    _wait(second.try_acquire, what="the second scheduler taking the lock")
    assert second.holder().holder == "host-b:2"
    assert not crashed.renew() and not crashed.held


@pytest.mark.postgres
def test_postgres_schemas_in_one_database_have_locks_of_their_own(postgres_url, tmp_path):  # noqa: F811
    schemas = [f"t_{uuid.uuid4().hex}" for _ in range(2)]
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    stores: list[Store] = []
    try:
        with admin.connect() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        for schema in schemas:
            store = Store(postgres_url, [generate_key()], connect_args={"options": f"-csearch_path={schema}"})
            store.upgrade()
            stores.append(store)
        locks = [store.scheduler_lock(holder=f"hub-{i}:1") for i, store in enumerate(stores)]

        assert all(lock.try_acquire() for lock in locks)
        assert [lock.holder().holder for lock in locks] == ["hub-0:1", "hub-1:1"]
        for lock in locks:
            lock.release()
    finally:
        for store in stores:
            store.dispose()
        with admin.connect() as connection:
            for schema in schemas:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


def _steal(store: Store, lock: SchedulerLock, backend: Backend) -> None:  # noqa: F811
    """Take the lock away from its holder behind its back."""
    if backend.name == "postgres":
        _terminate(backend.url, _backend_pid(backend.url, backend.connect_args, lock))
        return
    with store.transaction() as session:
        session.execute(update(SchedulerLockRow).values(holder="thief:9"))


def test_a_kept_lock_that_is_lost_calls_back(open_store, backend):  # noqa: F811
    store = open_store()
    lock = store.scheduler_lock(holder="host-a:1", lease_s=2, renew_s=0.1)
    assert lock.try_acquire()
    lost = threading.Event()
    lock.keep(lost.set)
    time.sleep(0.3)
    assert lock.held and not lost.is_set()  # renewed along the way

    _steal(store, lock, backend)

    assert lost.wait(5)
    assert not lock.held and not lock.still_held()
    lock.release()


def test_a_sqlite_lease_stays_good_through_a_short_outage_and_is_lost_after(tmp_path, monkeypatch):
    clock = ManualClock()
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    try:
        lock = store.scheduler_lock(holder="host-a:1", lease_s=30, renew_s=10)
        assert lock.try_acquire()

        def unreachable() -> bool:
            raise OSError("disk gone")

        monkeypatch.setattr(lock, "_sqlite_renew", unreachable)
        clock.advance(10)
        assert lock.renew()  # 20 s of lease left: still safe
        clock.advance(10)
        assert not lock.renew() and not lock.held  # no safe margin left: given up
    finally:
        store.dispose()


def test_a_scheduler_standing_by_takes_the_lock_when_it_is_released(open_store):
    holder = open_store().scheduler_lock(holder="host-a:1")
    waiting = open_store().scheduler_lock(holder="host-b:2")
    assert holder.try_acquire()
    heard: list[LockHolder | None] = []
    stop = threading.Event()
    result: list[bool] = []
    thread = threading.Thread(
        target=lambda: result.append(wait_for_lock(waiting, stop, retry_s=0.05, standing_by=heard.append))
    )
    thread.start()
    try:
        _wait(lambda: heard, what="standing by")
        time.sleep(0.3)
        assert not result and [h.holder for h in heard] == ["host-a:1"]  # told once

        holder.release()
        thread.join(5)
        assert result == [True] and waiting.held
    finally:
        stop.set()
        thread.join(5)
        waiting.release()


def test_a_scheduler_standing_by_stops_when_told(open_store):
    assert open_store().scheduler_lock(holder="host-a:1").try_acquire()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()

    assert wait_for_lock(open_store().scheduler_lock(holder="host-b:2"), stop, retry_s=0.05) is False


# -- the scheduler -------------------------------------------------------------------------


def test_a_scheduler_that_loses_the_lock_runs_no_more_jobs(open_store, backend):  # noqa: F811
    store = open_store()
    runs: list[float] = []
    spec = JobSpec("test.fast", lambda ctx: runs.append(time.monotonic()) or 1, "interval", {"seconds": 0.1})
    lock = store.scheduler_lock(holder="host-a:1", lease_s=2, renew_s=0.1)
    lost_called = threading.Event()
    assert lock.try_acquire()
    scheduler = LockedScheduler([spec], JobContext(Hub(), store, store.clock), lock, on_lost=lost_called.set)
    scheduler.start()
    try:
        _wait(lambda: len(runs) >= 3, what="three runs")

        _steal(store, lock, backend)

        assert lost_called.wait(5) and scheduler.lost.is_set()
        assert not scheduler.running
        time.sleep(0.2)  # a run already started may end
        count = len(runs)
        time.sleep(0.5)
        assert len(runs) == count
    finally:
        scheduler.stop()


def test_a_scheduler_needs_the_lock_to_start(open_store):
    store = open_store()
    scheduler = LockedScheduler([], JobContext(Hub(), store, store.clock), store.scheduler_lock())
    with pytest.raises(RuntimeError, match="take the scheduler lock"):
        scheduler.start()


# -- two real scheduler processes against one database ------------------------------------


class _Process:
    """A ``last100`` process whose output is collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, seconds: float = 60) -> None:
        try:
            _wait(lambda: marker in self.output or self.proc.poll() is not None, seconds, f"{marker!r}")
        except AssertionError:
            raise AssertionError(f"{marker!r} not printed in {seconds} s:\n{self.output}") from None
        assert marker in self.output, f"the process ended before printing {marker!r}:\n{self.output}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._reader.join(5)
        return code


def _ticks(path: Path) -> list[tuple[int, float, float]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return sorted((int(pid), float(start), float(end)) for pid, start, end in rows)


def _never_overlap(intervals: list[tuple]) -> None:
    for (start, end), (next_start, _next_end) in itertools.pairwise(sorted(intervals, key=lambda i: i[0])):
        assert start <= end <= next_start, f"runs overlap: {start}-{end} and {next_start}-"


def test_two_scheduler_processes_never_run_a_job_at_once_and_the_second_takes_over(
    open_store,
    backend,  # noqa: F811
    tmp_path,
):
    store = open_store()  # migrates the database
    url = backend.url
    if backend.connect_args:  # PostgreSQL: the test's schema, as the processes' URL says it
        url += "?options=" + quote(backend.connect_args["options"], safe="")
    tick_log = tmp_path / "ticks.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAST100_")}
    env.update(
        {
            "LAST100_DATABASE_URL": url,
            "LAST100_SECRET_KEYS": generate_key(),
            "LAST100_SECRET_KEY": "test",
            "LAST100_PLUGINS": "tests.job_plugin:TestJobs",
            "LAST100_DISABLE_PLUGINS": "builtin-jobs",
            TICK_LOG: str(tick_log),
            "PYTHONPATH": str(ROOT),
        }
    )
    args = ["--instance", str(tmp_path / "instance"), "scheduler", "--retry", "0.2"]

    first = _Process(args, env)
    second = None
    try:
        first.wait_for("Holding the scheduler lock")
        _wait(lambda: len(_ticks(tick_log)) >= 2, 60, "the first scheduler's runs")

        second = _Process(args, env)
        second.wait_for("standing by")
        time.sleep(1.5)  # both run now: only the first may run jobs
        assert {pid for pid, _s, _e in _ticks(tick_log)} == {first.proc.pid}
        assert f":{first.proc.pid}, since " in second.output  # the stand-by names the holder
        assert "holds the lock for this database; standing by" in second.output

        assert first.stop() == 0, first.output
        assert "Scheduler stopped; lock released" in first.output
        second.wait_for("Holding the scheduler lock")
        _wait(
            lambda: any(pid == second.proc.pid for pid, _s, _e in _ticks(tick_log)),
            60,
            "the second scheduler's runs",
        )
        assert second.stop() == 0, second.output
    finally:
        for process in (first, second):
            if process is not None and process.proc.poll() is None:
                process.stop(signal.SIGKILL)

    ticks = _ticks(tick_log)
    by_first = [t for t in ticks if t[0] == first.proc.pid]
    by_second = [t for t in ticks if t[0] == second.proc.pid]
    assert by_first and by_second and len(by_first) + len(by_second) == len(ticks)
    _never_overlap([(start, end) for _pid, start, end in ticks])
    assert max(end for _p, _s, end in by_first) <= min(start for _p, start, _e in by_second)
    # The recorded runs agree: one per tick, none overlapping another.
    runs = store.job_runs("test.tick", limit=10_000)
    assert len(runs) == len(ticks)
    assert all(run["ended_at"] is not None and run["error"] is None for run in runs)
    _never_overlap([(run["started_at"], run["ended_at"]) for run in runs])
    assert store.scheduler_lock().holder() is None  # both released it
