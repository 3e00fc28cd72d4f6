"""Scheduled jobs: each run is recorded, a failure is visible and never stops the
scheduler, and the CLI lists and runs them."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.core.clock import ManualClock
from hub.core.jobs import JobContext
from hub.core.model import JobOutcome, JobSpec
from hub.core.plugins import Hub
from hub.core.scheduler import MISFIRE_GRACE_S, build_scheduler, run_job
from hub.core.secrets import generate_key
from hub.core.store import Store


@pytest.fixture
def context(tmp_path):
    clock = ManualClock()
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    yield JobContext(Hub(), store, clock)
    store.dispose()


def test_a_run_is_recorded_with_its_items(context):
    result = run_job(JobSpec("count.three", lambda ctx: 3, "interval", {"minutes": 1}), context)

    assert result.ok and result.items == 3
    run = context.store.last_job_runs()["count.three"]
    assert (run["items"], run["errors"], run["error"]) == (3, 0, None)
    assert run["ended_at"] is not None


def test_a_run_records_the_items_that_failed(context):
    result = run_job(JobSpec("some.fail", lambda ctx: JobOutcome(5, 2), "interval", {"minutes": 1}), context)

    assert result.ok and (result.items, result.failed) == (5, 2)
    run = context.store.last_job_runs()["some.fail"]
    assert (run["items"], run["errors"], run["error"]) == (5, 2, None)


def test_a_failing_run_is_recorded_and_not_raised(context):
    def broken(ctx):
        raise RuntimeError("disk on fire at http://user:token@example.test")

    result = run_job(JobSpec("broken", broken, "interval", {"minutes": 1}), context)

    assert not result.ok
    run = context.store.last_job_runs()["broken"]
    assert run["errors"] == 1
    assert run["error"] == "RuntimeError"  # the message may hold secrets; only the type is kept


def test_every_job_is_scheduled_with_fixed_id_coalesce_single_instance_and_grace(context):
    specs = [
        JobSpec("a.job", lambda ctx: 0, "interval", {"seconds": 15}),
        JobSpec("b.job", lambda ctx: 0, "cron", {"hour": 3}),
    ]

    scheduler = build_scheduler(specs, context, blocking=False)

    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"a.job", "b.job"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, MISFIRE_GRACE_S)


@pytest.fixture
def cli(tmp_path):
    instance = tmp_path / "instance"

    def run(*args):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], catch_exceptions=False)

    assert run("init").exit_code == 0
    return run


def test_jobs_list_shows_the_builtin_outbox_job_and_its_last_run(cli):
    before = cli("jobs", "list")
    assert "outbox.deliver" in before.output and "never run" in before.output

    ran = cli("jobs", "run", "outbox.deliver")

    assert ran.exit_code == 0, ran.output
    assert "outbox.deliver: 0 item(s)" in ran.output
    assert "0 item(s)" in cli("jobs", "list").output


def test_every_job_is_listed_with_its_next_run_and_can_be_run_by_hand(cli):
    """What 'done' means for the jobs CLI: every job (the built-in ones and any
    installed plugin's) is listed with its next run, and runs by hand on a new hub."""
    listed = json.loads(cli("jobs", "list", "--json").output)
    ids = [job["id"] for job in listed["jobs"]]
    assert "outbox.deliver" in ids and ids == sorted(ids)
    assert listed["scheduler"] is None
    for job in listed["jobs"]:
        assert job["next_run"] is not None, job
        assert job["last_run"] is None, job

    for job_id in ids:
        ran = cli("jobs", "run", job_id)
        assert ran.exit_code == 0, ran.output

    after = {job["id"]: job for job in json.loads(cli("jobs", "list", "--json").output)["jobs"]}
    for job_id in ids:
        last = after[job_id]["last_run"]
        assert last["ended_at"] is not None and last["error"] is None, (job_id, last)
        assert after[job_id]["next_run"] > last["started_at"]


@pytest.fixture
def test_jobs(cli, tmp_path):
    """The CLI of an instance that also loads tests/job_plugin.py."""
    config = tmp_path / "instance" / "last100.toml"
    config.write_text(config.read_text() + 'plugins = ["tests.job_plugin:TestJobs"]\n')
    return cli


def _row(output: str, job_id: str) -> str:
    [row] = [line for line in output.splitlines() if line.startswith(job_id + " ")]
    return row


def test_jobs_list_shows_the_next_run_from_the_schedule_and_the_last_run(test_jobs):
    listed = test_jobs("jobs", "list")

    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("ID ")
    assert "NEXT RUN (UTC)" in listed.output and "LAST RUN (UTC)" in listed.output
    row = _row(listed.output, "test.count")
    assert "cron hour=3 minute=30" in row and "never run" in row
    assert re.search(r"\d{4}-\d\d-\d\d 03:30:00", row)  # the next 03:30 UTC
    assert "No scheduler holds the lock for this database" in listed.output

    test_jobs("jobs", "run", "test.broken")
    row = _row(test_jobs("jobs", "list").output, "test.broken")
    assert "1 error(s), FAILED: RuntimeError" in row
    # An hourly job that just ran runs next an hour after that run.
    last = json.loads(test_jobs("jobs", "list", "--json").output)
    [broken] = [job for job in last["jobs"] if job["id"] == "test.broken"]
    started = datetime.fromisoformat(broken["last_run"]["started_at"])
    assert datetime.fromisoformat(broken["next_run"]) == started + timedelta(hours=1)


def test_jobs_list_names_the_scheduler_holding_the_lock(test_jobs, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'instance' / 'last100.sqlite'}", [generate_key()])
    lock = store.scheduler_lock(holder="sched-host:4242")
    assert lock.try_acquire()
    try:
        listed = test_jobs("jobs", "list")
        document = json.loads(test_jobs("jobs", "list", "--json").output)
    finally:
        lock.release()
        store.dispose()

    assert "Scheduler: sched-host:4242, since " in listed.output
    assert document["scheduler"]["holder"] == "sched-host:4242"
    assert datetime.fromisoformat(document["scheduler"]["since"]) == lock.acquired_at


def test_jobs_run_shows_progress_on_stderr_and_a_summary_on_stdout(test_jobs):
    ran = test_jobs("jobs", "run", "test.count")

    assert ran.exit_code == 0, ran.output
    assert "Running test.count ..." in ran.stderr
    assert "1/3 test.count item 1" in ran.stderr  # the first progress report, as it came
    assert "3/3 test.count item 3" in ran.stderr  # and the last
    assert re.fullmatch(r"test\.count: 3 item\(s\) in \d+\.\d s\n", ran.stdout)


def test_a_job_that_fails_by_hand_exits_with_status_1(test_jobs):
    ran = test_jobs("jobs", "run", "test.broken")

    assert ran.exit_code == 1
    assert "1 test.broken about to fail" in ran.stderr
    assert re.search(r"Error: test\.broken failed after \d+\.\d s: RuntimeError", ran.stderr)
    assert ran.stdout == ""


def test_progress_lines_are_throttled_but_the_last_one_is_shown(monkeypatch, capsys):
    from hub import cli as cli_module

    moments = iter([0.0, 0.1, 0.2, 0.7, 0.8])
    progress = cli_module._Progress("some.job")
    monkeypatch.setattr(progress, "_time", lambda: next(moments))
    for done in range(1, 6):
        progress(done, 5, "")

    assert capsys.readouterr().err.splitlines() == ["1/5 some.job", "4/5 some.job", "5/5 some.job"]


def test_the_scheduler_refuses_with_no_wait_while_another_holds_the_lock(test_jobs, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'instance' / 'last100.sqlite'}", [generate_key()])
    lock = store.scheduler_lock(holder="sched-host:4242")
    assert lock.try_acquire()
    try:
        result = test_jobs("scheduler", "--no-wait")
    finally:
        lock.release()
        store.dispose()

    assert result.exit_code == 1
    assert re.search(
        r"Error: another scheduler \(sched-host:4242, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\) "
        r"holds the lock for this database",
        result.stderr,
    )


def test_running_an_unknown_job_names_the_known_ones(cli):
    result = cli("jobs", "run", "nope")
    assert result.exit_code == 1
    assert "no job 'nope'; known jobs:" in result.output
    assert "outbox.deliver" in result.output
