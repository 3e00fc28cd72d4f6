"""The console's entries: a filtered, paged list and one entry in full.

Managers see their own communities' entries, operators every community's; guards work
the guard queue instead (403 here). Another community's entry answers 404 by any URL.
Opening an entry shows its rider's masked name and phone, so it is audited
(``entry.viewed``). What the hub keeps in full — the rider's reference at the platform
and the orders' addresses — is masked too; an operator may reveal it for one entry,
giving a reason, and each reveal is audited (``personal_data.revealed``).
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, render_template, request, url_for
from flask_babel import gettext as _

from hub.core.errors import NotFound
from hub.core.model import Community, Connection, Decision, Entry, Gate, PluginKind
from hub.web.admin import bp
from hub.web.admin.auth import audit, current_user, login_required, require_community, visible_communities
from hub.web.admin.dates import day_range, local, parse_day, shared_timezone
from hub.web.admin.reveal import reveal_reason
from hub.web.context import runtime_of

PAGE_SIZE = 50
#: The roles that may read entries.
READERS = ("operator", "manager")


def decision_label(decision: Decision) -> str:
    labels = {
        Decision.GRANTED: _("Granted"),
        Decision.DENIED: _("Denied"),
        Decision.MANUAL_CHECK: _("Manual check"),
    }
    return labels[decision]


def _cursor(entry: Entry) -> str:
    return f"{entry.created_at.isoformat()}|{entry.id}"


def _parse_cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    at, _sep, entry_id = value.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        abort(400, "before must be a cursor from this page's 'next page' link")
    if moment.tzinfo is None or not entry_id:
        abort(400, "before must be a cursor from this page's 'next page' link")
    return moment, entry_id


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        abort(400, f"unknown {name} {value!r}")
    return value


@bp.get("/entries")
@login_required(*READERS)
def entries() -> str:
    rt = runtime_of()
    communities = visible_communities()
    community_id = request.args.get("community") or None
    community = require_community(community_id) if community_id else None
    in_scope = [community] if community is not None else communities

    if community is None and current_user().role == "operator":
        gates = rt.store.list_gates()
        linked = rt.store.list_connections()
    else:
        gates = [gate for c in in_scope for gate in rt.store.list_gates(c.id)]
        linked = [conn for c in in_scope for conn in rt.store.connections_for_community(c.id)]
    connections = {conn.id: conn for conn in linked if _may_be_platform(conn)}
    gate_id = _choice("gate", {g.id for g in gates})
    connection_id = _choice("platform", set(connections))
    decision = _choice("decision", {d.value for d in Decision})
    timezone = community.timezone if community is not None else shared_timezone(communities)
    first = parse_day(request.args.get("from"), "from")
    last = parse_day(request.args.get("to"), "to")
    since, until = day_range(first, last, timezone)

    if community is not None:
        scope: list[str] | None = [community.id]
    elif current_user().role == "operator":
        scope = None
    else:
        scope = [c.id for c in communities]
    found = rt.store.list_entries(
        community_ids=scope,
        gate_id=gate_id,
        connection_id=connection_id,
        decision=decision,
        since=since,
        until=until,
        before=_parse_cursor(request.args.get("before")),
        limit=PAGE_SIZE + 1,
    )
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    filters = {
        k: v
        for k, v in {
            "community": community_id,
            "gate": gate_id,
            "platform": connection_id,
            "decision": decision,
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
        }.items()
        if v
    }
    return render_template(
        "admin/entries.html",
        entries=page,
        communities=communities,
        community_names={c.id: c.name for c in communities},
        gates=gates,
        gate_names={g.id: g.name for g in gates},
        connections=sorted(connections.values(), key=lambda c: c.name),
        connection_names={cid: conn.name for cid, conn in connections.items()},
        decisions=list(Decision),
        decision_label=decision_label,
        filters=filters,
        timezone=timezone,
        local=lambda moment: local(moment, timezone),
        next_url=url_for("admin.entries", **filters, before=_cursor(page[-1])) if more else None,
        first_url=url_for("admin.entries", **filters) if request.args.get("before") else None,
    )


#: What a reveal shows of an entry, as the audit record names it.
REVEALED_FIELDS = ("rider_ref", "order_addresses")


@bp.get("/entries/<entry_id>")
@login_required(*READERS)
def entry_detail(entry_id: str) -> str:
    entry, community = _entry(entry_id)
    audit("entry.viewed", entry.id, {"community": entry.community_id})
    return _entry_page(entry, community, revealed=False)


@bp.post("/entries/<entry_id>/reveal")
@login_required("operator")
def entry_reveal(entry_id: str) -> tuple[str, int] | str:
    entry, community = _entry(entry_id)
    reason = reveal_reason()
    if reason is None:
        return _entry_page(entry, community, revealed=False, reveal_problem=True), 400
    audit(
        "personal_data.revealed",
        entry.id,
        {"community": entry.community_id, "fields": list(REVEALED_FIELDS), "reason": reason},
    )
    return _entry_page(entry, community, revealed=True)


def _entry(entry_id: str) -> tuple[Entry, Community]:
    try:
        entry = runtime_of().store.get_entry(entry_id)
    except NotFound:
        abort(404)
    return entry, require_community(entry.community_id)


def _entry_page(entry: Entry, community: Community, *, revealed: bool, reveal_problem: bool = False) -> str:
    rt = runtime_of()
    rider = rt.store.entry_rider(entry.id)
    slowest = max((call.duration_ms for call in entry.hook_calls), default=0.0)
    return render_template(
        "admin/entry_detail.html",
        entry=entry,
        community=community,
        gate=_gate_or_none(entry.gate_id),
        connection_name=_connection_name(entry.connection_id),
        rider=rider,
        orders=rt.store.get_orders(entry.connection_id, entry.order_refs),
        decision_label=decision_label,
        # Each call's bar is scaled to the slowest call (a <meter>: the console's
        # content security policy allows no inline styles).
        slowest_ms=max(slowest, 0.001),
        timezone=community.timezone,
        local=lambda moment: local(moment, community.timezone),
        now=rt.clock.now(),
        revealed=revealed,
        reveal_problem=reveal_problem,
        reveal_url=url_for("admin.entry_reveal", entry_id=entry.id),
    )


def _may_be_platform(connection: Connection) -> bool:
    """Whether riders may come through ``connection`` (a connection whose plugin is not
    installed is kept: its old entries are still there)."""
    hub = runtime_of().hub
    if not hub.is_loaded(connection.plugin):
        return True
    return PluginKind.PLATFORM in hub.plugin(connection.plugin).info.kinds


def _gate_or_none(gate_id: str) -> Gate | None:
    try:
        return runtime_of().store.get_gate(gate_id)
    except NotFound:
        return None


def _connection_name(connection_id: str) -> str:
    try:
        return runtime_of().store.get_connection(connection_id).name
    except NotFound:
        return connection_id
