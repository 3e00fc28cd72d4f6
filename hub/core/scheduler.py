"""Scheduled jobs on APScheduler 3: one scheduler per database (``last100 scheduler``,
or inside the demo's process); web workers never run jobs.

Jobs come from ``hub_jobs()``. Each gets its fixed id, ``coalesce`` (missed runs are
run once, not once per miss), ``max_instances=1`` (a slow run is never overlapped by the
next) and a misfire grace time; every run is recorded (start, end, items, error).

A scheduler runs jobs only while it holds the database's scheduler lock
(:mod:`hub.core.scheduler_lock`): :func:`wait_for_lock` stands by until it is free and
:class:`LockedScheduler` runs the jobs while it is held. :func:`job_overview` is what the
CLI and the console show of every job: its schedule, next run and last run.

With Celery configured (an :class:`~hub.core.tasks.Enqueuer`), the scheduler runs no job
itself: at each scheduled time it sends the job's tasks, one per partition, for
``last100 worker`` processes to run (:func:`enqueue_job`, :mod:`hub.core.tasks`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler, SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import OperationalError

from hub.core.errors import describe_error
from hub.core.jobs import JobContext
from hub.core.model import JobOutcome, JobSpec
from hub.core.scheduler_lock import LockHolder, SchedulerLock
from hub.core.store import Store
from hub.core.tasks import Enqueuer, JobClaim

log = logging.getLogger(__name__)

#: A run that could not start on time still starts if it is at most this late.
MISFIRE_GRACE_S = 60
#: How often a scheduler standing by tries to take the lock.
STANDBY_RETRY_S = 5.0


@dataclass(frozen=True)
class JobResult:
    """A run: ``items`` handled, ``failed`` of them (tried again later), or the
    ``error`` that stopped the whole run."""

    job_id: str
    items: int
    error: str | None = None
    duration_s: float = 0.0
    failed: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


def run_job(spec: JobSpec, context: JobContext, *, claim: JobClaim | None = None) -> JobResult:
    """Run one job (``context.partition`` of it; ``None``: the whole job) now and record
    the run; a failure is recorded, logged and returned, never raised (the scheduler
    keeps going). ``claim``: the run a Celery worker claimed (see :mod:`hub.core.tasks`),
    recorded in its row instead of a new one."""
    from hub.core.metrics import observe_job  # last100_job_duration_seconds{job, outcome}

    if claim is None:
        run_id = context.store.start_job_run(spec.id, partition=context.partition)
        attempt = None
    else:
        run_id, attempt = claim.run_id, claim.attempt
    name = spec.id if context.partition is None else f"{spec.id} [{context.partition}]"
    started = context.clock.monotonic()
    try:
        outcome = spec.func(context)
    except Exception as exc:
        error = describe_error(exc)
        took = context.clock.monotonic() - started
        observe_job(spec.id, "error", took)
        log.exception("job %s failed after %.1f s", name, took)
        _finish(context, run_id, attempt, name, errors=1, error=error)
        return JobResult(spec.id, 0, error, took)
    if not isinstance(outcome, JobOutcome):
        outcome = JobOutcome(int(outcome or 0))
    _finish(context, run_id, attempt, name, items=outcome.items, errors=outcome.errors)
    took = context.clock.monotonic() - started
    observe_job(spec.id, "ok", took)
    log.info("job %s: %d item(s), %d failed, in %.1f s", name, outcome.items, outcome.errors, took)
    return JobResult(spec.id, outcome.items, None, took, outcome.errors)


def _finish(context: JobContext, run_id: int, attempt: int | None, name: str, **outcome: Any) -> None:
    if not context.store.finish_job_run(run_id, attempt=attempt, **outcome):
        log.warning("job %s: run %s was taken over by another worker or closed meanwhile; not recorded", name, run_id)


# -- schedules -------------------------------------------------------------------------


def make_trigger(spec: JobSpec) -> BaseTrigger:
    """The job's APScheduler trigger, in UTC: the one the scheduler uses, and the one
    next runs are computed from.

    :raises ValueError: ``spec.trigger`` names no APScheduler trigger.
    """
    found = entry_points(group="apscheduler.triggers", name=spec.trigger)
    if not found:
        raise ValueError(f"job {spec.id!r}: no APScheduler trigger called {spec.trigger!r}")
    trigger_class = next(iter(found)).load()
    return trigger_class(**{"timezone": UTC, **spec.trigger_args})


def describe_schedule(spec: JobSpec) -> str:
    """The job's trigger as it is written: ``interval seconds=15``."""
    return " ".join([spec.trigger, *(f"{k}={v}" for k, v in spec.trigger_args.items())])


def next_run(spec: JobSpec, now: datetime, last_started: datetime | None = None) -> datetime | None:
    """When a scheduler runs the job next, computed from its trigger (no scheduler need
    run in this process): the trigger's next time after the last run, or, when the job
    never ran or that time has passed (no scheduler ran it), as a scheduler started now
    would run it. ``None``: the trigger fires no more."""
    trigger = make_trigger(spec)
    if last_started is not None:
        at = trigger.get_next_fire_time(last_started, now)
        if at is None or at > now:
            return at
    if isinstance(trigger, IntervalTrigger) and "start_date" not in spec.trigger_args:
        return now + trigger.interval  # a scheduler started now waits one interval
    return trigger.get_next_fire_time(None, now)


@dataclass(frozen=True)
class JobOverview:
    """One job as the CLI and the console list it."""

    spec: JobSpec
    schedule: str
    next_run: datetime | None
    #: The latest run (as :meth:`Store.last_job_runs` gives it); ``None``: never ran.
    last_run: Mapping[str, Any] | None


def job_overview(specs: Sequence[JobSpec], store: Store, now: datetime) -> list[JobOverview]:
    """Every job, by id, with its schedule, next run and last run."""
    last = store.last_job_runs()
    overview = []
    for spec in sorted(specs, key=lambda s: s.id):
        run = last.get(spec.id)
        # A run on Celery workers started when its tasks were claimed; it was due at its tick.
        started = (run.get("tick") or run["started_at"]) if run else None
        overview.append(JobOverview(spec, describe_schedule(spec), next_run(spec, now, started), run))
    return overview


# -- the scheduler ------------------------------------------------------------------------


def _run_while_held(spec: JobSpec, context: JobContext, lock: SchedulerLock) -> JobResult | None:
    if not lock.still_held():
        log.warning("job %s not run: this scheduler no longer holds the lock", spec.id)
        return None
    return run_job(spec, context)


def enqueue_job(spec: JobSpec, context: JobContext, enqueuer: Enqueuer, tick: datetime) -> list[str]:
    """Send the tasks of the job's run due at ``tick`` (Celery mode): one per partition
    that has work. Returns their keys. A failure (listing the partitions, reaching the
    broker) is logged and recorded as a failed run of the tick, never raised."""
    try:
        keys = enqueuer.enqueue(spec, context, tick)
    except Exception as exc:
        error = f"not enqueued: {describe_error(exc)}"
        log.exception("job %s: %s", spec.id, error)
        run_id = context.store.start_job_run(spec.id, tick=tick)
        context.store.finish_job_run(run_id, errors=1, error=error)
        return []
    log.info("job %s: %d task(s) enqueued for %s", spec.id, len(keys), f"{tick:%Y-%m-%d %H:%M:%S}")
    return keys


def _enqueue_while_held(
    spec: JobSpec, context: JobContext, enqueuer: Enqueuer, lock: SchedulerLock | None, *, tick: datetime | None = None
) -> list[str] | None:
    """``tick``: the run's scheduled time, from :class:`_TickingExecutor`."""
    if lock is not None and not lock.still_held():
        log.warning("job %s not enqueued: this scheduler no longer holds the lock", spec.id)
        return None
    return enqueue_job(spec, context, enqueuer, tick or datetime.now(UTC))


class _Ticked:
    """A job as APScheduler's ``run_job`` sees it, its function also given the time
    the run was scheduled for (``tick``)."""

    def __init__(self, job: Any, tick: datetime) -> None:
        self._job = job
        self.kwargs = {**job.kwargs, "tick": tick}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class _TickingExecutor(ThreadPoolExecutor):
    """Hands each run its scheduled time, which APScheduler 3 gives only to its
    events: a task's key is made from it, the same whenever the run is sent."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        super()._do_submit_job(_Ticked(job, run_times[-1]), run_times)


def build_scheduler(
    specs: Sequence[JobSpec],
    context: JobContext,
    *,
    blocking: bool,
    lock: SchedulerLock | None = None,
    enqueuer: Enqueuer | None = None,
) -> BaseScheduler:
    """A scheduler with every job; ``blocking`` for its own process, else it runs in
    background threads of the current one. With a ``lock``, a run starts only while the
    lock is still held. With an ``enqueuer`` (Celery), a run sends the job's tasks
    instead of running it (:func:`enqueue_job`)."""
    kind = BlockingScheduler if blocking else BackgroundScheduler
    if enqueuer is not None:
        scheduler = kind(timezone=UTC, executors={"default": _TickingExecutor()})
    else:
        scheduler = kind(timezone=UTC)
    for spec in specs:
        if enqueuer is not None:
            func: Callable[..., Any] = _enqueue_while_held
            args: tuple[Any, ...] = (spec, context, enqueuer, lock)
        else:
            func = run_job if lock is None else _run_while_held
            args = (spec, context) if lock is None else (spec, context, lock)
        scheduler.add_job(
            func,
            trigger=make_trigger(spec),
            args=args,
            id=spec.id,
            name=spec.description or spec.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
            replace_existing=True,
        )
    return scheduler


def wait_for_lock(
    lock: SchedulerLock,
    stop: threading.Event,
    *,
    retry_s: float = STANDBY_RETRY_S,
    standing_by: Callable[[LockHolder | None], None] = lambda holder: None,
) -> bool:
    """Take the lock, standing by while another scheduler holds it: ``True`` once it is
    held, ``False`` when ``stop`` is set first. ``standing_by`` hears of the holder at
    the first failed attempt and whenever the holder changes; a database that cannot be
    reached is logged and tried again."""
    told: object = standing_by  # anything that is no holder
    while not stop.is_set():
        try:
            if lock.try_acquire():
                return True
            holder = lock.holder()
        except OperationalError as exc:
            log.warning("cannot reach the database to take the scheduler lock: %s", type(exc).__name__)
        else:
            if holder != told:
                standing_by(holder)
                told = holder
        stop.wait(retry_s)
    return False


class LockedScheduler:
    """The jobs, run in background threads of this process while it holds the scheduler
    lock: the lock is renewed while they run, and when it is lost no run starts any more
    (the scheduler shuts down and ``on_lost`` is called, from the renewing thread).
    With an ``enqueuer`` (Celery) the runs are sent to the workers instead."""

    def __init__(
        self,
        specs: Sequence[JobSpec],
        context: JobContext,
        lock: SchedulerLock,
        *,
        on_lost: Callable[[], None] | None = None,
        enqueuer: Enqueuer | None = None,
    ) -> None:
        self.lock = lock
        self.lost = threading.Event()
        self.enqueuer = enqueuer
        self.scheduler = build_scheduler(specs, context, blocking=False, lock=lock, enqueuer=enqueuer)
        self._on_lost = on_lost

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        """Start running the jobs; the lock must be held (see :func:`wait_for_lock`)."""
        if not self.lock.held:
            raise RuntimeError("take the scheduler lock before starting the scheduler")
        self.scheduler.start()
        self.lock.keep(self._lost)

    def stop(self, *, wait: bool = True) -> None:
        """Stop scheduling, let running jobs end (``wait``), then release the lock."""
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=wait)
        self.lock.release()

    def _lost(self) -> None:
        self.lost.set()
        with contextlib.suppress(SchedulerNotRunningError):
            self.scheduler.shutdown(wait=False)
        if self._on_lost is not None:
            self._on_lost()
