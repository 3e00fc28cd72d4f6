"""Scheduled jobs: each run is recorded, a failure is visible and never stops the
scheduler, and the CLI lists and runs them."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.core.clock import ManualClock
from hub.core.jobs import JobContext
from hub.core.model import JobSpec
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


def test_running_an_unknown_job_names_the_known_ones(cli):
    result = cli("jobs", "run", "nope")
    assert result.exit_code == 1
    assert "no job 'nope'; known jobs:" in result.output
    assert "outbox.deliver" in result.output
