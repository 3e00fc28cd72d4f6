"""The console's audit log: newest first, filtered by action prefix, actor and days,
with the result of walking the hash chain.

Operators only. Audit subjects are entry, pass, connection, key and job ids of every
kind, so scoping records to a manager's communities would need a lookup per record;
managers read their communities' entries on the entries page instead.
"""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from hub.web.admin import bp
from hub.web.admin.auth import login_required, visible_communities
from hub.web.admin.dates import day_range, local, parse_day, shared_timezone
from hub.web.context import runtime_of

PAGE_SIZE = 50


@bp.get("/audit")
@login_required("operator")
def audit_log() -> str:
    rt = runtime_of()
    timezone = shared_timezone(visible_communities())
    action = request.args.get("action", "").strip() or None
    actor = request.args.get("actor", "").strip() or None
    first = parse_day(request.args.get("from"), "from")
    last = parse_day(request.args.get("to"), "to")
    since, until = day_range(first, last, timezone)
    before = request.args.get("before") or None
    if before is not None and not before.isdigit():
        abort(400, "before must be a record number")

    found = rt.store.list_audit(
        action_prefix=action,
        actor=actor,
        since=since,
        until=until,
        before_id=int(before) if before else None,
        limit=PAGE_SIZE + 1,
    )
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    filters = {
        k: v
        for k, v in {
            "action": action,
            "actor": actor,
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
        }.items()
        if v
    }
    return render_template(
        "admin/audit_log.html",
        records=page,
        broken_at=rt.store.verify_audit_chain(),
        filters=filters,
        timezone=timezone,
        local=lambda moment: local(moment, timezone),
        next_url=url_for("admin.audit_log", **filters, before=page[-1].id) if more else None,
        first_url=url_for("admin.audit_log", **filters) if before else None,
    )
