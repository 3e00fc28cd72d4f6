"""The guard's queue: the manual checks waiting at the user's gates, newest first, each
with the rider's masked identity, the platform, the orders and why the hub could not
decide. A guard lets the rider in (and, where the gate's controller can, opens the gate
at once) or turns them away with a reason the rider reads.

The page refreshes its list every :data:`REFRESH_S` seconds (a small script fetches
``/admin/guard/list``; without scripts the page reloads itself). The refresh does not
count as activity, so an unattended screen still signs out after the idle timeout.
Showing riders' masked names and phones is audited (``personal_data.viewed``) once per
session for each new set of entries shown.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.core import errors
from hub.core.model import Decision, Gate
from hub.core.reports import PendingCheck
from hub.core.trace import tracing
from hub.web.admin import bp
from hub.web.admin.auth import audit, current_user, login_required
from hub.web.admin.dates import DEFAULT_TIMEZONE, local
from hub.web.context import runtime_of
from hub.web.i18n import language

#: Manual checks older than this are left out: the rider has long gone.
QUEUE_WINDOW = timedelta(hours=12)
REFRESH_S = 10
#: The most a guard may write to the rider.
MAX_REASON = 200
_SEEN = "guard_seen"


def _checks() -> list[PendingCheck]:
    rt = runtime_of()
    user = current_user()
    return rt.store.pending_checks(user.gate_ids, rt.clock.now() - QUEUE_WINDOW)


def _note_personal_data(checks: list[PendingCheck]) -> None:
    ids = sorted(c.entry_id for c in checks)
    if not ids:
        return
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
    if session.get(_SEEN) == digest:
        return
    session[_SEEN] = digest
    audit("personal_data.viewed", "guard_queue", {"entries": ids})


def _openable(checks: list[PendingCheck]) -> set[str]:
    """The gates among ``checks`` whose controller can open them on request."""
    rt = runtime_of()
    found = set()
    for gate_id in {c.gate_id for c in checks}:
        gate = rt.store.get_gate(gate_id)
        if gate.access_connection_id is None:
            continue
        try:
            connection = rt.store.get_connection(gate.access_connection_id)
        except errors.NotFound:
            continue
        loaded = connection.enabled and rt.hub.is_loaded(connection.plugin)
        if loaded and rt.hub.implements(connection.plugin, "hub_open_door"):
            found.add(gate_id)
    return found


def _list_context() -> dict[str, Any]:
    checks = _checks()
    _note_personal_data(checks)
    rt = runtime_of()
    timezones = {c.id: c.timezone for c in rt.store.list_communities()}
    return {
        "checks": checks,
        "openable": _openable(checks),
        "zh": language() == "zh",
        "clock": lambda moment, community_id: local(moment, timezones.get(community_id, DEFAULT_TIMEZONE), "%H:%M"),
        "ids": ",".join(c.entry_id for c in checks),
    }


@bp.get("/guard")
@login_required()
def guard_queue() -> str:
    return render_template("admin/guard.html", refresh_s=REFRESH_S, **_list_context())


@bp.get("/guard/list")
@login_required()
def guard_list() -> str:
    """The list alone, for the page's refresh."""
    return render_template("admin/_guard_list.html", **_list_context())


def _waiting_entry(entry_id: str) -> Any:
    """The entry, when it is at one of the user's gates; 404 otherwise."""
    try:
        entry = runtime_of().store.get_entry(entry_id)
    except errors.NotFound:
        raise NotFound() from None
    if entry.gate_id not in current_user().gate_ids:
        raise NotFound()
    return entry


def _open_gate(gate: Gate, entry_id: str) -> bool:
    """Ask the gate's controller to open it now; the attempt is audited either way."""
    rt = runtime_of()
    user = current_user()
    if gate.access_connection_id is None:
        return False
    connection = rt.store.get_connection(gate.access_connection_id)
    with tracing() as trace:
        try:
            opened = rt.hub.open_door(connection, gate, f"guard {user.username} let in entry {entry_id}")
        except errors.HubError:
            opened = False
    rt.store.record_actions(trace.actions, actor=user.actor, entry_id=entry_id)
    return opened


def _back() -> Response:
    return redirect(url_for("admin.guard_queue"), 303)


@bp.post("/guard/<entry_id>/approve")
@login_required()
def approve(entry_id: str) -> Response:
    rt = runtime_of()
    entry = _waiting_entry(entry_id)
    user = current_user()
    try:
        # Decided first: the gate opens only for a rider this guard's decision let in
        # (of two guards deciding at once, the second is told and opens nothing).
        rt.store.record_guard_decision(entry.id, Decision.GRANTED, user.actor)
    except errors.Conflict:
        flash(_("Someone else has already decided this check."), "notice")
        return _back()
    gate = rt.store.get_gate(entry.gate_id)
    if request.form.get("open") == "1" and gate.access_connection_id is not None:
        if _open_gate(gate, entry.id):
            flash(_("Let in. %(gate)s is opening.", gate=gate.name), "success")
        else:
            flash(_("Let in, but %(gate)s did not open. Open it by hand.", gate=gate.name), "error")
    else:
        flash(_("Let in at %(gate)s.", gate=gate.name), "success")
    return _back()


@bp.post("/guard/<entry_id>/deny")
@login_required()
def deny(entry_id: str) -> Response:
    rt = runtime_of()
    entry = _waiting_entry(entry_id)
    reason = " ".join(request.form.get("reason", "").split())[:MAX_REASON]
    try:
        rt.store.record_guard_decision(entry.id, Decision.DENIED, current_user().actor, reason=reason or None)
    except errors.Conflict:
        flash(_("Someone else has already decided this check."), "notice")
        return _back()
    flash(_("Turned away."), "success")
    return _back()
