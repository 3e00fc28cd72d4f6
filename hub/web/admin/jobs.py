"""The console's jobs page: every scheduled job with its schedule, its recent runs and
its next run, a "Run now" button, and the outbox (counts, and the items given up on).

Operators and managers may look; only operators may run a job (a POST with the form's
CSRF token; the run is recorded like a scheduled one and audited as ``job.run``).
Managers see only the dead outbox items of their communities' connections.

Jobs normally run in ``last100 scheduler``, not in web workers. A process that runs
its scheduler itself (the demo) puts it on the app (see
:data:`hub.web.context.SCHEDULER_EXTENSION`), and then the page shows each job's next
run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.core.jobs import JobContext
from hub.core.model import JobSpec
from hub.core.scheduler import run_job
from hub.web.admin import bp
from hub.web.admin.auth import audit, current_user, login_required, visible_communities
from hub.web.admin.dates import local, shared_timezone
from hub.web.context import runtime_of, scheduler_of

HISTORY = 10
DEAD_SHOWN = 50


def schedule(spec: JobSpec) -> str:
    """The job's trigger as APScheduler reads it: ``interval seconds=15``."""
    return " ".join([spec.trigger, *(f"{k}={v}" for k, v in spec.trigger_args.items())])


def _next_runs() -> dict[str, datetime | None] | None:
    """Each scheduled job's next run, when a scheduler runs in this process."""
    scheduler = scheduler_of()
    if scheduler is None:
        return None
    return {job.id: job.next_run_time for job in scheduler.get_jobs()}


def _specs() -> dict[str, JobSpec]:
    return {spec.id: spec for spec in sorted(runtime_of().hub.jobs(), key=lambda s: s.id)}


@bp.get("/jobs")
@login_required("operator", "manager")
def jobs() -> str:
    rt = runtime_of()
    user = current_user()
    communities = visible_communities()
    timezone = shared_timezone(communities)
    dead = rt.store.dead_outbox(DEAD_SHOWN)
    if user.role != "operator":
        mine = {conn.id for c in communities for conn in rt.store.connections_for_community(c.id)}
        dead = [item for item in dead if item.connection_id in mine]
    specs = _specs()
    counts = rt.store.outbox_counts()
    ran = request.args.get("ran")
    return render_template(
        "admin/jobs.html",
        specs=list(specs.values()),
        schedule=schedule,
        history={job_id: rt.store.job_runs(job_id, HISTORY) for job_id in specs},
        next_runs=_next_runs(),
        ran=ran if ran in specs else None,
        may_run=user.role == "operator",
        counts={status: counts.get(status, 0) for status in ("pending", "done", "dead")},
        dead=dead,
        timezone=timezone,
        local=lambda moment: local(moment, timezone),
    )


@bp.post("/jobs/<job_id>/run")
@login_required("operator")
def run_now(job_id: str) -> Response:
    rt = runtime_of()
    spec = _specs().get(job_id)
    if spec is None:
        abort(404)
    result = run_job(spec, JobContext(rt.hub, rt.store, rt.clock))
    data: dict[str, Any] = {"items": result.items, "error": result.error}
    audit("job.run", job_id, data)
    return redirect(url_for("admin.jobs", ran=job_id, _anchor=f"job-{job_id}"), 303)
