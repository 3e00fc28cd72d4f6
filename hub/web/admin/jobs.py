"""The console's jobs page: every scheduled job with its schedule, its recent runs and
its next run, a "Run now" button, and the outbox (counts, and the items given up on).

Operators and managers may look; only operators may run a job (a POST with the form's
CSRF token; the run is recorded like a scheduled one and audited as ``job.run``).
Managers see only the dead outbox items of their communities' connections. Below them
are the passes the gates' devices have not taken back (:mod:`hub.core.revocation`),
a manager's communities' only.

Jobs run in ``last100 scheduler`` (or the demo's process), never in web workers. The
page says which scheduler holds the database's lock, and shows next runs as
``last100 jobs list`` does (:func:`hub.core.scheduler.job_overview`), computed from each
job's schedule and last run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.core.jobs import JobContext
from hub.core.model import Community, JobSpec
from hub.core.revocation import MAX_ATTEMPTS, UnrevokedPass
from hub.core.scheduler import job_overview, run_job
from hub.core.store import Store
from hub.web.admin import bp
from hub.web.admin.auth import audit, current_user, login_required, visible_communities
from hub.web.admin.dates import local, shared_timezone
from hub.web.admin.publications import publication_states
from hub.web.context import runtime_of

HISTORY = 10
DEAD_SHOWN = 50
UNREVOKED_SHOWN = 50


def _spec(job_id: str) -> JobSpec | None:
    return next((spec for spec in runtime_of().hub.jobs() if spec.id == job_id), None)


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
    overview = job_overview(rt.hub.jobs(), rt.store, rt.clock.now())
    counts = rt.store.outbox_counts()
    ran = request.args.get("ran")
    return render_template(
        "admin/jobs.html",
        jobs=overview,
        history={job.spec.id: rt.store.job_runs(job.spec.id, HISTORY) for job in overview},
        scheduler=rt.store.scheduler_lock().holder(),
        ran=ran if any(job.spec.id == ran for job in overview) else None,
        may_run=user.role == "operator",
        counts={status: counts.get(status, 0) for status in ("pending", "done", "dead")},
        dead=dead,
        unrevoked=_unrevoked(rt.store, user.role, communities),
        publications=publication_states(communities),
        max_attempts=MAX_ATTEMPTS,
        timezone=timezone,
        local=lambda moment: local(moment, timezone),
    )


@bp.post("/jobs/<job_id>/run")
@login_required("operator")
def run_now(job_id: str) -> Response:
    rt = runtime_of()
    spec = _spec(job_id)
    if spec is None:
        abort(404)
    result = run_job(spec, JobContext(rt.hub, rt.store, rt.clock))
    data: dict[str, Any] = {"items": result.items, "failed": result.failed, "error": result.error}
    audit("job.run", job_id, data)
    return redirect(url_for("admin.jobs", ran=job_id, _anchor=f"job-{job_id}"), 303)


def _unrevoked(store: Store, role: str, communities: Sequence[Community]) -> list[UnrevokedPass]:
    """Passes the devices have not taken back; a manager's communities' only."""
    scope = None if role == "operator" else [c.id for c in communities]
    return store.unrevoked_passes(community_ids=scope, limit=UNREVOKED_SHOWN)
