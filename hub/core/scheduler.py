"""Scheduled jobs on APScheduler 3: one scheduler per deployment (``last100 scheduler``)
or inside the demo's process; web workers never run jobs.

Jobs come from ``hub_jobs()``. Each gets its fixed id, ``coalesce`` (missed runs are
run once, not once per miss), ``max_instances=1`` (a slow run is never overlapped by the
next) and a misfire grace time; every run is recorded (start, end, items, error).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from hub.core.errors import describe_error
from hub.core.jobs import JobContext
from hub.core.model import JobSpec

log = logging.getLogger(__name__)

#: A run that could not start on time still starts if it is at most this late.
MISFIRE_GRACE_S = 60


@dataclass(frozen=True)
class JobResult:
    job_id: str
    items: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_job(spec: JobSpec, context: JobContext) -> JobResult:
    """Run one job now and record the run; a failure is recorded, logged and returned,
    never raised (the scheduler keeps going)."""
    run_id = context.store.start_job_run(spec.id)
    try:
        items = int(spec.func(context) or 0)
    except Exception as exc:
        error = describe_error(exc)
        log.exception("job %s failed", spec.id)
        context.store.finish_job_run(run_id, errors=1, error=error)
        return JobResult(spec.id, 0, error)
    context.store.finish_job_run(run_id, items=items)
    return JobResult(spec.id, items)


def build_scheduler(specs: Sequence[JobSpec], context: JobContext, *, blocking: bool) -> BaseScheduler:
    """A scheduler with every job; ``blocking`` for its own process, else it runs in
    background threads of the current one."""
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=UTC)
    for spec in specs:
        scheduler.add_job(
            run_job,
            trigger=spec.trigger,
            args=(spec, context),
            id=spec.id,
            name=spec.description or spec.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_S,
            replace_existing=True,
            **spec.trigger_args,
        )
    return scheduler
