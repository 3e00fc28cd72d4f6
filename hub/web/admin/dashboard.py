"""The console's dashboard: today at the user's communities (each community's "today" in
its own timezone) — entries granted, denied and sent to a guard, the median time to a
decision, entries per hour (a chart drawn by the vendored Chart.js), why riders were
denied, and each connection's health: its circuit (the Resilience plugin's view, in this
process), the latest health check the scheduler stored (``connections.health``: ok or
failing, message, latency, when, and the circuit the scheduler saw) and how its calls
went in the last hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from hub.core.health import ConnectionHealth
from hub.core.model import Community, Connection
from hub.core.reports import CallSummary, local_day, summarise_day
from hub.plugins import Resilience, find_builtin
from hub.web.admin import bp
from hub.web.admin.auth import current_user, login_required, require_community, visible_communities
from hub.web.admin.dates import local, shared_timezone
from hub.web.context import runtime_of
from hub.web.i18n import language

#: The window a connection's health is judged over.
HEALTH_WINDOW = timedelta(hours=1)
#: A stored health check older than this says the health job is not running (it runs
#: every minute).
CHECK_STALE_AFTER = timedelta(minutes=10)


def _circuits() -> dict[str, str]:
    try:
        return dict(find_builtin(runtime_of().hub.pm.get_plugins(), Resilience).states())
    except LookupError:  # the built-in was disabled
        return {}


def _connections(communities: list[Community]) -> list[Connection]:
    store = runtime_of().store
    if current_user().is_operator and len(communities) == len(visible_communities()):
        return store.list_connections()
    found: dict[str, Connection] = {}
    for community in communities:
        for connection in store.connections_for_community(community.id):
            found.setdefault(connection.id, connection)
    return sorted(found.values(), key=lambda c: c.id)


def _circuit_label(state: str) -> str:
    return {
        "closed": _("Working"),
        "open": _("Paused after failures"),
        "half_open": _("Trying again"),
    }.get(state, state)


def _health_label(summary: CallSummary) -> str:
    if summary.healthy is None:
        return _("No calls in the last hour")
    if summary.healthy:
        return _("Calls: %(calls)s, failed: %(failed)s", calls=summary.calls, failed=summary.failed)
    return _("Failing: %(failed)s of %(calls)s calls failed", calls=summary.calls, failed=summary.failed)


def _last_check(check: ConnectionHealth | None, now: datetime, timezone: str) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "ok": check.ok,
        "label": _("Answering") if check.ok else _("Failing"),
        "message": check.message,
        "latency": None if check.latency_ms is None else _("%(ms)s ms", ms=round(check.latency_ms)),
        "checked_at": local(check.checked_at, timezone),
        "circuit": check.circuit,
        "circuit_label": _circuit_label(check.circuit),
        "stale": now - check.checked_at > CHECK_STALE_AFTER,
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return _("%(s)s s", s=round(seconds))
    return _("%(m)s min %(s)s s", m=int(seconds // 60), s=round(seconds % 60))


def _today(community: Community, now: datetime) -> tuple[datetime, datetime]:
    return local_day(now.astimezone(ZoneInfo(community.timezone)).date(), community.timezone)


@bp.get("/")
@login_required()
def dashboard() -> Any:
    user = current_user()
    if user.role == "guard":
        return redirect(url_for("admin.guard_queue"))
    rt = runtime_of()
    communities = visible_communities()
    chosen_id = request.args.get("community", "")
    chosen = [require_community(chosen_id)] if chosen_id else communities
    now = rt.clock.now()
    facts = []
    starts = []
    for community in chosen:
        start, end = _today(community, now)
        starts.append(start)
        facts.extend(rt.store.entry_facts([community.id], start, end))
    guard_decided = rt.store.guard_decisions(min(starts)) if starts else {}
    summary = summarise_day(facts, {c.id: c.timezone for c in chosen}, guard_decided)
    circuits = _circuits()
    calls = rt.store.call_summaries([c.id for c in chosen], now - HEALTH_WINDOW) if chosen else {}
    zh = language() == "zh"
    checks = rt.store.connection_health()
    timezone = shared_timezone(chosen)
    health = [
        {
            "connection": conn,
            "plugin_loaded": rt.hub.is_loaded(conn.plugin),
            "circuit": circuits.get(conn.id, "closed"),
            "circuit_label": _circuit_label(circuits.get(conn.id, "closed")),
            "calls": calls.get(conn.id, CallSummary()),
            "calls_label": _health_label(calls.get(conn.id, CallSummary())),
            "check": _last_check(checks.get(conn.id), now, timezone),
        }
        for conn in _connections(chosen)
    ]
    zones = sorted({c.timezone for c in chosen})
    return render_template(
        "admin/dashboard.html",
        communities=communities,
        chosen_id=chosen_id,
        summary=summary,
        reasons=[(r.code, r.zh if zh else r.en, r.count) for r in summary.denial_reasons],
        chart={
            "labels": [f"{hour:02d}" for hour in range(24)],
            "counts": list(summary.per_hour),
            "label": _("Entries"),
        },
        health=health,
        median_ms="–" if summary.median_decision_ms is None else f"{summary.median_decision_ms:.0f} ms",
        median_guard=_duration(summary.median_guard_s),
        zones=zones,
        check_zone=timezone,
    )


dashboard.console_roles = ("operator", "manager")  # type: ignore[attr-defined]  # guards go to their queue
