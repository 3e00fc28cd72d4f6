"""Scheduled syncs on Celery workers: the scheduler enqueues, stateless workers run.

With ``celery_broker_url`` set (Redis or RabbitMQ), the one scheduler of a database
(``last100 scheduler``, holding the scheduler lock) no longer runs the jobs: at each
scheduled time (the *tick*) it sends one task per partition of the job
(``JobSpec.partitions``, e.g. one per connection; one task for a job without
partitions) to the ``celery_queue``, and ``last100 worker`` processes run them. Without
a broker nothing here is used: the scheduler runs every job whole in its own process.

**Tasks.** A task carries ``(job id, partition, tick)`` and its id is made from them
(:func:`task_key`: ``last100:<job>:<tick>:<partition>``, ``*`` for a whole job), so the
same run of the same partition always has the same key. Workers are stateless: each
worker process builds the hub's runtime from the configuration once, lazily, on its
first task. Tasks are acknowledged late (``task_acks_late``, after they ran) and given
back to the broker when their worker process dies (``task_reject_on_worker_lost``), so
a task is *delivered at least once*: RabbitMQ redelivers a task as soon as the
connection of the worker that held it breaks; Redis once ``celery_visibility_timeout_s``
has passed since the worker took it.

**Claims: run once.** A worker runs a task only after claiming its key in ``job_runs``
(:meth:`Store.claim_job_task`, one short transaction, serialised per job and partition:
the write lock on SQLite, an advisory transaction lock on PostgreSQL; the key is
unique besides). The rules, by what the claim finds (:class:`ClaimOutcome`):

- no run with this key, and no other task of this job and partition running: the row
  is inserted and the task runs (``claimed``);
- a finished run with this key: the task was delivered again after it ran (a worker
  died before acknowledging it, or a broker redelivered it): it is acknowledged and
  skipped, logged (``finished``);
- an unfinished run with this key that started less than the *stale limit* ago
  (``celery_task_time_limit_s`` plus a grace of :data:`CLAIM_GRACE_S`, or of the time
  limit when that is shorter; :func:`stale_after`): its worker may still be
  running it, so this copy waits and is tried again later (a Celery retry, at most
  :data:`RETRY_WAIT_S` later), until the run finished (then skipped) or is stale
  (``running``);
- an unfinished run with this key older than the stale limit: its worker is gone (a
  task past its hard time limit is killed, so no worker can still be running it): this
  worker takes the run over, counting one more attempt (``taken_over``); after
  :data:`MAX_ATTEMPTS` attempts the run is closed as failed instead (``given_up``:
  a task that kills its worker every time is not run for ever);
- another task of the same job and partition (an earlier tick) is running and not
  stale: this tick is skipped, as the single scheduler skips a run that would overlap
  the last one (``busy``). A slow partition never piles up runs on the workers.

A run that starts also closes the unfinished runs of its job and partition that are
past the stale limit (their workers died and their tasks were not delivered again):
they are recorded as failed ("worker lost"), and their work is done by this run.

The stale limit relies on Celery's hard time limit, which the prefork pool of
``last100 worker`` enforces, and on worker clocks within a minute of each other (use
NTP). A run is finished with a compare-and-set on its attempt, so a worker that was
wrongly presumed dead cannot overwrite the record of the one that took over (it logs
a warning instead).

Jobs must therefore work on *what is due when they run*, not on "the work of tick T"
(as the built-in jobs do): a skipped tick's work is done by the next run.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.core.config import Config, ConfigError, check_celery
from hub.core.errors import HubError

if TYPE_CHECKING:  # the store imports this module's records
    from hub.core.jobs import JobContext
    from hub.core.model import JobSpec

log = logging.getLogger(__name__)

#: The Celery name of the task that runs a job's partition.
TASK_NAME = "last100.run_job"
#: How much longer than the task time limit an unfinished run must be before another
#: worker takes it over (at most; a shorter time limit is its own grace): the time to
#: kill a task past its limit, and clock skew between workers.
CLAIM_GRACE_S = 60.0
#: Workers that may claim one task (the first and those taking over) before it is
#: given up on.
MAX_ATTEMPTS = 3
#: The longest a copy of a task that is running elsewhere waits before looking again.
RETRY_WAIT_S = 60.0
#: The partition part of the task key of a job that runs whole.
WHOLE_JOB = "*"
#: The error recorded for a run whose worker died and whose work a later run did.
WORKER_LOST = "worker lost: the run was not finished within the task time limit"

INSTALL_HINT = "Celery is not installed: pip install 'last100-hub[celery]'"


class CeleryUnavailable(HubError):
    code = "celery_unavailable"


class ClaimOutcome(enum.StrEnum):
    """What claiming a task's key found (see the module's rules)."""

    CLAIMED = "claimed"
    TAKEN_OVER = "taken_over"
    FINISHED = "finished"
    RUNNING = "running"
    BUSY = "busy"
    GIVEN_UP = "given_up"


@dataclass(frozen=True)
class JobClaim:
    """The outcome of a claim: the job run it concerns (``run_id``; for ``busy``, the
    run in the way), the attempt this worker holds when it ``runs``, and for
    ``running``, the seconds until that run is stale."""

    outcome: ClaimOutcome
    run_id: int | None = None
    attempt: int = 0
    stale_in_s: float = 0.0

    @property
    def runs(self) -> bool:
        """Whether this worker runs the task."""
        return self.outcome in (ClaimOutcome.CLAIMED, ClaimOutcome.TAKEN_OVER)


def celery_enabled(config: Config) -> bool:
    """Whether scheduled jobs run on Celery workers (a broker is configured)."""
    return bool(config.celery_broker_url.strip())


def broker_display(url: str) -> str:
    """The broker URL with its password masked: safe to print and log."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url.strip())


def task_key(job_id: str, tick: datetime, partition: str | None) -> str:
    """The task's id and claim key: the same for every copy of one run of one
    partition, e.g. ``last100:outbox.deliver:2026-12-05T09:15:00+00:00:platform-a``."""
    return f"last100:{job_id}:{tick.astimezone(UTC).isoformat()}:{WHOLE_JOB if partition is None else partition}"


def stale_after(config: Config) -> timedelta:
    """How long after it started an unfinished task run is presumed dead: the task time
    limit (its worker process is killed by then) plus a grace (a minute, or the time
    limit when that is shorter)."""
    limit = config.celery_task_time_limit_s
    return timedelta(seconds=limit + min(CLAIM_GRACE_S, limit))


def soft_time_limit(config: Config) -> float:
    """Seconds after which a running task is asked to stop (it raises
    ``SoftTimeLimitExceeded``, recorded as the run's error): 10% before the hard limit."""
    return max(1.0, config.celery_task_time_limit_s * 0.9)


# -- the Celery app ---------------------------------------------------------------------------


def celery_settings(config: Config) -> dict[str, Any]:
    """The Celery configuration of the hub's app (see the module's docstring)."""
    check_celery(config)
    url = config.celery_broker_url.strip()
    settings: dict[str, Any] = {
        "broker_url": url,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": config.celery_queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_time_limit": config.celery_task_time_limit_s,
        "task_soft_time_limit": soft_time_limit(config),
        "enable_utc": True,
        "timezone": "UTC",
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        # A task whose worker lost the broker goes on: its copy, delivered again, waits
        # for its claim (cancelling it would leave the run to the stale limit).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
    }
    if url.lower().startswith("redis"):
        settings["broker_transport_options"] = {"visibility_timeout": config.celery_visibility_timeout_s}
    return settings


def make_celery(config: Config) -> Any:
    """The hub's Celery app for this configuration, with its one task registered.

    :raises CeleryUnavailable: the celery package is not installed.
    :raises ConfigError: no broker, or Celery settings that make no sense.
    """
    if not celery_enabled(config):
        raise ConfigError("celery_broker_url is not configured: set it (or LAST100_CELERY_BROKER_URL) to use Celery")
    try:
        from celery import Celery
    except ImportError:
        raise CeleryUnavailable(INSTALL_HINT) from None
    app = Celery("last100", set_as_current=False)
    app.conf.update(celery_settings(config))

    @app.task(name=TASK_NAME, bind=True, max_retries=None, shared=False)
    def run_job_task(self: Any, job_id: str, partition: str | None, tick: str) -> dict[str, Any]:
        try:
            return run_task(job_id, partition, tick)
        except RunningElsewhere as wait:
            raise self.retry(countdown=wait.seconds, max_retries=None) from None

    return app


# -- enqueueing (the scheduler) ----------------------------------------------------------------


class Enqueuer:
    """Sends the tasks of one run of a job: what the locked scheduler does at each tick
    in Celery mode (:func:`hub.core.scheduler.build_scheduler`)."""

    def __init__(self, config: Config, app: Any | None = None) -> None:
        self.config = config
        self.app = app if app is not None else make_celery(config)
        self.queue = config.celery_queue

    def partitions(self, spec: JobSpec, context: JobContext) -> list[str | None]:
        """The partitions of a run of the job now: its ``partitions`` (each once, in
        order), or ``[None]`` for a job that runs whole."""
        if spec.partitions is None:
            return [None]
        keys: Sequence[str] = spec.partitions(context)
        return list(dict.fromkeys(str(key) for key in keys))

    def enqueue(self, spec: JobSpec, context: JobContext, tick: datetime) -> list[str]:
        """Send one task per partition for the run due at ``tick``; returns the task
        keys (none when no partition has work)."""
        keys = []
        options: dict[str, Any] = {"queue": self.queue}
        if self.config.celery_task_expires_s > 0:
            options["expires"] = tick + timedelta(seconds=self.config.celery_task_expires_s)
        for partition in self.partitions(spec, context):
            key = task_key(spec.id, tick, partition)
            self.app.send_task(TASK_NAME, args=[spec.id, partition, tick.isoformat()], task_id=key, **options)
            keys.append(key)
        return keys

    def close(self) -> None:
        """Close the app's connections to the broker."""
        self.app.close()


# -- running (the workers) ------------------------------------------------------------------------


class RunningElsewhere(Exception):
    """The task's run is held by another worker that may still be running it: look
    again in ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"running elsewhere; looking again in {seconds:.0f} s")
        self.seconds = seconds


_worker_config: Config | None = None
_worker_build: Callable[[Config], Any] | None = None
_worker_runtime: tuple[int, Any] | None = None
_worker_lock = threading.Lock()


def configure_worker(config: Config | None, build: Callable[[Config], Any] | None) -> None:
    """How worker processes make their hub runtime (``last100 worker`` says so before
    the pool forks): ``build`` applied to ``config``. ``build`` is
    :func:`hub.runtime.build_runtime`, passed in because the core does not import the
    layer that assembles it; ``config`` ``None``: loaded from the environment
    (``LAST100_INSTANCE_PATH``, ``LAST100_CONFIG``, ``LAST100_*``) as the CLI does.
    ``build`` ``None`` forgets the setup (and closes this process's runtime)."""
    global _worker_config, _worker_build, _worker_runtime
    with _worker_lock:
        if _worker_runtime is not None and _worker_runtime[0] == os.getpid():
            _worker_runtime[1].close()
        _worker_config, _worker_build = config, build
        _worker_runtime = None


def worker_runtime() -> Any:
    """This process's hub runtime, built on first use (once per worker process: a
    forked child builds its own, never using its parent's database connections).

    :raises CeleryUnavailable: :func:`configure_worker` was not called in this process.
    """
    global _worker_runtime
    with _worker_lock:
        if _worker_runtime is None or _worker_runtime[0] != os.getpid():
            from hub.core import urlpolicy
            from hub.core.config import load_config

            if _worker_build is None:
                raise CeleryUnavailable("this process is no configured worker: run workers with 'last100 worker'")
            config = _worker_config if _worker_config is not None else load_config()
            runtime = _worker_build(config)
            urlpolicy.install(urlpolicy.UrlPolicy.from_config(runtime.config))
            _worker_runtime = (os.getpid(), runtime)
            log.info("worker %d: hub runtime built for %s", os.getpid(), runtime.store.url)
        return _worker_runtime[1]


def run_task(job_id: str, partition: str | None, tick: str, runtime: Any | None = None) -> dict[str, Any]:
    """Run one task: claim its key, then run the job's partition (or skip it, by the
    rules above). Returns what happened, for the worker's log.

    :raises RunningElsewhere: another worker holds the run and may still be running it.
    """
    from hub.core.jobs import JobContext
    from hub.core.scheduler import run_job

    rt = runtime if runtime is not None else worker_runtime()
    at = datetime.fromisoformat(tick)
    key = task_key(job_id, at, partition)
    claim = rt.store.claim_job_task(
        job_id, partition, key, at, stale_after=stale_after(rt.config), max_attempts=MAX_ATTEMPTS
    )
    if claim.outcome is ClaimOutcome.RUNNING:
        wait = min(RETRY_WAIT_S, max(1.0, claim.stale_in_s + 1.0))
        log.info("task %s: run %s is held by another worker; looking again in %.0f s", key, claim.run_id, wait)
        raise RunningElsewhere(wait)
    if not claim.runs:
        why = {
            ClaimOutcome.FINISHED: "it ran already (delivered again)",
            ClaimOutcome.BUSY: f"an earlier run of this partition is still running (run {claim.run_id})",
            ClaimOutcome.GIVEN_UP: f"given up after {MAX_ATTEMPTS} attempts whose workers died",
        }[claim.outcome]
        log.log(
            logging.WARNING if claim.outcome is ClaimOutcome.GIVEN_UP else logging.INFO,
            "task %s skipped: %s",
            key,
            why,
        )
        return {"task": key, "outcome": claim.outcome.value}
    if claim.outcome is ClaimOutcome.TAKEN_OVER:
        log.warning("task %s: taking over run %s (attempt %d): its worker died", key, claim.run_id, claim.attempt)
    spec = next((s for s in rt.hub.jobs() if s.id == job_id), None)
    if spec is None:
        error = f"no job {job_id!r} in this worker: are the same plugins installed and enabled as in the scheduler?"
        log.error("task %s: %s", key, error)
        rt.store.finish_job_run(claim.run_id, errors=1, error=error, attempt=claim.attempt)
        return {"task": key, "outcome": "unknown_job"}
    context = JobContext(rt.hub, rt.store, rt.clock, partition=partition)
    result = run_job(spec, context, claim=claim)
    return {
        "task": key,
        "outcome": claim.outcome.value,
        "items": result.items,
        "failed": result.failed,
        "error": result.error,
    }
