"""The console's communities: each community's entry policy, its gates (with printable
QR codes), buildings and marked areas (zones), and the connections that serve it.

Operators see and change every community and add new ones; property managers see and
change only their own (another community's objects answer 404 by any URL, GET or POST);
guards get 403. Every form is checked in full before anything is saved: a wrong field
re-renders the form with what was typed and its message (400), and nothing changes.
Every change is audited. The policy form applies
:func:`hub.core.policy_input.edit_policy`, the rules of ``last100 communities
set-policy``; the QR codes are those of ``last100 gates qr``.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from hub.core import errors
from hub.core.model import Building, Community, Connection, Gate, PluginKind, Zone
from hub.core.policy_input import FLAGS, LIMITS, TIMES, InvalidPolicy, PolicyProblem, Problem, edit_policy
from hub.core.policy_input import policy_changes as changed_fields
from hub.core.profiles import ZONE_KINDS
from hub.web import gateqr
from hub.web.admin import bp, error_page
from hub.web.admin.auth import audit, current_user, login_required, require_community, visible_communities
from hub.web.context import runtime_of

#: The roles that may open and change communities (managers: their own only).
EDITORS = ("operator", "manager")
#: Ids of communities, gates, buildings and zones: they appear in URLs and the CLI.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Names and door numbers stay short enough for a gate's screen and a printed label.
_NAME_MAX = 100
_DOOR_MAX = 20
#: A point of a zone: "latitude, longitude" (a Chinese comma or spaces work too).
_POINT = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(?:[,，]\s*|\s+)([+-]?\d+(?:\.\d+)?)\s*$")

Problems = dict[str, list[str]]


# -- labels ----------------------------------------------------------------------------


def zone_kind_labels() -> dict[str, str]:
    """The kinds of zone, in :data:`ZONE_KINDS` order, with their names for people."""
    labels = {
        "parking": _("Rider parking"),
        "locker": _("Food lockers"),
        "rest_station": _("Rest station"),
        "no_go": _("No-go area"),
        "route": _("Riding route"),
    }
    return {kind: labels[kind] for kind in ZONE_KINDS}


def _plugin_kind_labels() -> dict[str, str]:
    return {
        PluginKind.PLATFORM: _("Delivery platform"),
        PluginKind.ACCESS: _("Gate access"),
        PluginKind.LOCKER: _("Food lockers"),
        PluginKind.VISITOR: _("Visitor system"),
        PluginKind.POLICY: _("Entry rules"),
        PluginKind.CORE: _("Built in"),
    }


def _policy_problem(problem: PolicyProblem) -> str:
    if problem.problem is Problem.NOT_A_NUMBER:
        return _("Enter a whole number.")
    if problem.problem is Problem.OUT_OF_RANGE and problem.limits is not None:
        low, high = problem.limits
        return _("Enter a number from %(low)s to %(high)s.", low=low, high=high)
    if problem.problem is Problem.NOT_A_TIME:
        return _("Enter a time like 06:30.")
    return _("Give both the opening and the closing time, or leave both empty (always open).")


# -- lookups: another community's object is 404 ----------------------------------------


def _is_kind(connection: Connection, kind: PluginKind) -> bool:
    """Whether ``connection``'s plugin is of ``kind``; a connection whose plugin is not
    installed counts (as on the entries page), so a choice made earlier stays visible."""
    hub = runtime_of().hub
    if not hub.is_loaded(connection.plugin):
        return True
    return kind in hub.plugin(connection.plugin).info.kinds


def _kinds_of(connection: Connection) -> list[str]:
    hub = runtime_of().hub
    if not hub.is_loaded(connection.plugin):
        return []
    labels = _plugin_kind_labels()
    return [labels[k] for k in sorted(hub.plugin(connection.plugin).info.kinds)]


def _gate_of(community: Community, gate_id: str) -> Gate:
    try:
        gate = runtime_of().store.get_gate(gate_id)
    except errors.NotFound:
        raise NotFound() from None
    if gate.community_id != community.id:
        raise NotFound()
    return gate


def _building_of(community: Community, building_id: str) -> Building:
    found = next((b for b in community.buildings if b.id == building_id), None)
    if found is None:
        raise NotFound()
    return found


def _zone_of(community: Community, zone_id: str) -> Zone:
    try:
        return runtime_of().store.get_zone(community.id, zone_id)
    except errors.NotFound:
        raise NotFound() from None


def _back(community: Community, anchor: str) -> Response:
    return redirect(url_for("admin.community", community_id=community.id, _anchor=anchor), 303)


def _name(problems: Problems, raw: str, message: str) -> str:
    name = raw.strip()
    if not name:
        problems["name"] = [message]
    elif len(name) > _NAME_MAX:
        problems["name"] = [_("Use at most %(n)s characters.", n=_NAME_MAX)]
    return name


def _new_id(problems: Problems, raw: str, taken: bool) -> str:
    value = raw.strip()
    if not _ID.match(value):
        problems["id"] = [_("Use letters, digits, '-', '_' or '.' (at most 64), starting with a letter or digit.")]
    elif taken:
        problems["id"] = [_("This id is already used; choose another.")]
    return value


# -- the list --------------------------------------------------------------------------


def _list_page(form: dict[str, str] | None = None, problems: Problems | None = None) -> str:
    rt = runtime_of()
    communities = visible_communities()
    gate_counts: dict[str, int] = {}
    for gate in rt.store.list_gates():
        gate_counts[gate.community_id] = gate_counts.get(gate.community_id, 0) + 1
    return render_template(
        "admin/communities.html",
        communities=communities,
        gate_counts=gate_counts,
        may_add=current_user().is_operator,
        form=form or {"id": "", "name": "", "address": "", "timezone": "Asia/Shanghai"},
        problems=problems or {},
        timezones=sorted(available_timezones()),
    )


@bp.get("/communities")
@login_required(*EDITORS)
def communities() -> str:
    return _list_page()


@bp.post("/communities")
@login_required("operator")
def community_add() -> Any:
    rt = runtime_of()
    form = {key: request.form.get(key, "").strip() for key in ("id", "name", "address", "timezone")}
    problems: Problems = {}
    known = {c.id for c in rt.store.list_communities()}
    form["id"] = _new_id(problems, form["id"], form["id"] in known)
    _name(problems, form["name"], _("Give the community a name."))
    if not _known_timezone(form["timezone"]):
        problems["timezone"] = [_("Choose a time zone from the list, e.g. Asia/Shanghai.")]
    if not problems:
        community = Community(form["id"], form["name"], form["address"], form["timezone"])
        try:
            rt.store.add_community(community)
        except errors.Conflict:
            problems["id"] = [_("This id is already used; choose another.")]
    if problems:
        return _list_page(form, problems), 400
    audit(
        "community.created",
        community.id,
        {"name": community.name, "address": community.address, "timezone": community.timezone},
    )
    flash(_("Community %(name)s added. Now set its entry policy and add its gates.", name=community.name), "success")
    return _back(community, "policy")


def _known_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia", a folder
        return False
    return True


# -- one community ---------------------------------------------------------------------


@bp.get("/communities/<community_id>")
@login_required(*EDITORS)
def community(community_id: str) -> str:
    rt = runtime_of()
    found = require_community(community_id)
    connections = rt.store.connections_for_community(found.id)
    names = {c.id: c.name for c in connections}
    gates = rt.store.list_gates(found.id)
    for gate in gates:
        if gate.access_connection_id and gate.access_connection_id not in names:
            names[gate.access_connection_id] = _connection_name(gate.access_connection_id)
    order = {kind: n for n, kind in enumerate(ZONE_KINDS)}
    zones = sorted(rt.store.list_zones(found.id), key=lambda z: (order.get(z.kind, len(order)), z.name, z.id))
    return render_template(
        "admin/community.html",
        community=found,
        policy=found.policy,
        gates=gates,
        zones=zones,
        zone_kinds=zone_kind_labels(),
        connections=connections,
        connection_names=names,
        kinds_of=_kinds_of,
        limits=LIMITS,
    )


def _connection_name(connection_id: str) -> str:
    try:
        return runtime_of().store.get_connection(connection_id).name
    except errors.NotFound:
        return connection_id


# -- the entry policy ------------------------------------------------------------------


def _platform_choices(community: Community) -> list[tuple[str, str]]:
    """The platforms the policy may name: the community's platform connections, and
    whatever the policy names already (a plugin name, set with the command line)."""
    linked = [c for c in runtime_of().store.connections_for_community(community.id) if _is_kind(c, PluginKind.PLATFORM)]
    choices = [(c.id, c.name) for c in linked]
    known = {c.id for c in linked}
    for name in sorted(community.policy.allowed_platforms - known):
        choices.append((name, _("%(name)s (every connection of this plugin)", name=name)))
    return choices


@bp.route("/communities/<community_id>/policy", methods=["GET", "POST"])
@login_required(*EDITORS)
def community_policy(community_id: str) -> Any:
    found = require_community(community_id)
    policy = found.policy
    choices = _platform_choices(found)
    context: dict[str, Any] = {"community": found, "choices": choices, "limits": LIMITS, "problems": {}}
    if request.method == "GET":
        form: dict[str, Any] = {
            name: f"{getattr(policy, name):%H:%M}" if getattr(policy, name) else "" for name in TIMES
        }
        form.update({name: str(getattr(policy, name)) for name in LIMITS})
        form.update({name: getattr(policy, name) for name in FLAGS})
        form["allowed_platforms"] = set(policy.allowed_platforms)
        return render_template("admin/community_policy.html", form=form, **context)

    typed: dict[str, Any] = {name: request.form.get(name, "") for name in (*TIMES, *LIMITS)}
    typed.update({name: name in request.form for name in FLAGS})
    chosen = request.form.getlist("allowed_platforms")
    problems: Problems = {}
    offered = {value for value, _label in choices}
    if any(value not in offered for value in chosen):
        problems["allowed_platforms"] = [_("Choose platforms from the list.")]
    try:
        edited = edit_policy(policy, {**typed, "allowed_platforms": [v for v in chosen if v in offered]})
    except InvalidPolicy as exc:
        problems.update({name: [_policy_problem(p)] for name, p in exc.by_field().items()})
    if problems:
        form = {**typed, "allowed_platforms": set(chosen)}
        context["problems"] = problems
        return render_template("admin/community_policy.html", form=form, **context), 400

    changes = changed_fields(policy, edited)
    if not changes:
        flash(_("Nothing was changed."), "notice")
        return _back(found, "policy")
    runtime_of().store.update_community(dataclasses.replace(found, policy=edited))
    audit("community.policy_changed", found.id, {"changed": changes})
    flash(_("The entry policy of %(name)s is saved.", name=found.name), "success")
    return _back(found, "policy")


# -- gates -----------------------------------------------------------------------------


@bp.route("/communities/<community_id>/gates/new", methods=["GET", "POST"])
@login_required(*EDITORS)
def gate_new(community_id: str) -> Any:
    return _gate_form(require_community(community_id), None)


@bp.route("/communities/<community_id>/gates/<gate_id>/edit", methods=["GET", "POST"])
@login_required(*EDITORS)
def gate_edit(community_id: str, gate_id: str) -> Any:
    found = require_community(community_id)
    return _gate_form(found, _gate_of(found, gate_id))


def _gate_form(community: Community, existing: Gate | None) -> Any:
    rt = runtime_of()
    access = [c for c in rt.store.connections_for_community(community.id) if _is_kind(c, PluginKind.ACCESS)]
    choices = [(c.id, c.name) for c in access]
    if existing and existing.access_connection_id and existing.access_connection_id not in {c.id for c in access}:
        choices.append((existing.access_connection_id, _connection_name(existing.access_connection_id)))
    context: dict[str, Any] = {"community": community, "existing": existing, "choices": choices, "problems": {}}
    if request.method == "GET":
        base = existing or Gate("", community.id, "", "", "1", None)
        form = {
            "id": base.id,
            "name": base.name,
            "code": base.code,
            "door_no": base.door_no,
            "access": base.access_connection_id or "",
        }
        return render_template("admin/gate_form.html", form=form, **context)

    form = {key: request.form.get(key, "").strip() for key in ("id", "name", "code", "door_no", "access")}
    problems: Problems = {}
    if existing is None:
        gate_id = _new_id(problems, form["id"], _gate_exists(form["id"]))
        code = form["code"] or f"{community.id}-{gate_id}"
        if not _ID.match(code):
            problems["code"] = [
                _("Use letters, digits, '-', '_' or '.' (at most 64), starting with a letter or digit.")
            ]
        elif "id" not in problems and _code_used(code):
            problems["code"] = [_("Another gate uses this code; choose another.")]
    else:
        gate_id, code = existing.id, existing.code
    name = _name(problems, form["name"], _("Give the gate a name riders and guards know it by."))
    door_no = form["door_no"]
    if not door_no:
        problems["door_no"] = [_("Give the door number (1 when the gate has one door).")]
    elif len(door_no) > _DOOR_MAX:
        problems["door_no"] = [_("Use at most %(n)s characters.", n=_DOOR_MAX)]
    if form["access"] and form["access"] not in {value for value, _label in choices}:
        problems["access"] = [_("Choose a connection from the list.")]
    gate = Gate(gate_id, community.id, name, code, door_no, form["access"] or None)
    if not problems and existing is None:
        try:
            rt.store.add_gate(gate)
        except errors.Conflict:  # added by someone else since the checks above
            problems["id"] = [_("This id is already used; choose another.")]
    elif not problems:
        rt.store.update_gate(gate)
    if problems:
        context["problems"] = problems
        return render_template("admin/gate_form.html", form=form, **context), 400

    facts = {"name": gate.name, "door_no": gate.door_no, "access_connection": gate.access_connection_id}
    if existing is None:
        audit("gate.created", gate.id, {"community": community.id, "code": gate.code, **facts})
        flash(_("Gate %(name)s added. Download its QR code to print.", name=gate.name), "success")
    else:
        before = {
            "name": existing.name,
            "door_no": existing.door_no,
            "access_connection": existing.access_connection_id,
        }
        audit("gate.updated", gate.id, {"community": community.id, "changed": _diff(before, facts)})
        flash(_("Gate %(name)s saved.", name=gate.name), "success")
    return _back(community, f"gate-{gate.id}")


def _gate_exists(gate_id: str) -> bool:
    try:
        runtime_of().store.get_gate(gate_id)
    except errors.NotFound:
        return False
    return True


def _code_used(code: str) -> bool:
    try:
        runtime_of().store.gate_by_code(code)
    except errors.NotFound:
        return False
    return True


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"before": before[k], "after": after[k]} for k in after if before.get(k) != after[k]}


@bp.get("/communities/<community_id>/gates/<gate_id>/qr.<any(png, svg):fmt>")
@login_required(*EDITORS)
def gate_qr(community_id: str, gate_id: str, fmt: str) -> Any:
    """The gate's printable QR code, as ``last100 gates qr`` writes it."""
    rt = runtime_of()
    gate = _gate_of(require_community(community_id), gate_id)
    url = gateqr.rider_url(rt.config.public_url, rt.gate_codes.sign(gate.code))
    if fmt == "svg":
        body, mimetype = gateqr.gate_qr_svg(url, gate.name).encode("utf-8"), "image/svg+xml"
    else:
        try:
            body, mimetype = gateqr.gate_qr_png(url, gate.name), "image/png"
        except gateqr.FontMissing:
            message = _("This server has no font for the gate's name in the picture. Download the SVG instead.")
            return error_page(503, message)
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True, download_name=f"gate-{gate.id}.{fmt}")


# -- buildings -------------------------------------------------------------------------


@bp.route("/communities/<community_id>/buildings/new", methods=["GET", "POST"])
@login_required(*EDITORS)
def building_new(community_id: str) -> Any:
    return _building_form(require_community(community_id), None)


@bp.route("/communities/<community_id>/buildings/<building_id>/edit", methods=["GET", "POST"])
@login_required(*EDITORS)
def building_edit(community_id: str, building_id: str) -> Any:
    found = require_community(community_id)
    return _building_form(found, _building_of(found, building_id))


def _building_form(community: Community, existing: Building | None) -> Any:
    context: dict[str, Any] = {"community": community, "existing": existing, "problems": {}}
    if request.method == "GET":
        base = existing or Building("", "")
        form = {
            "id": base.id,
            "name": base.name,
            "door_no": base.door_no,
            "latitude": "" if base.latitude is None else str(base.latitude),
            "longitude": "" if base.longitude is None else str(base.longitude),
        }
        return render_template("admin/building_form.html", form=form, **context)

    form = {key: request.form.get(key, "").strip() for key in ("id", "name", "door_no", "latitude", "longitude")}
    problems: Problems = {}
    if existing is None:
        building_id = _new_id(problems, form["id"], any(b.id == form["id"] for b in community.buildings))
    else:
        building_id = existing.id
    name = _name(problems, form["name"], _("Give the building a name, as on its sign."))
    if len(form["door_no"]) > _DOOR_MAX:
        problems["door_no"] = [_("Use at most %(n)s characters.", n=_DOOR_MAX)]
    latitude = _coordinate(problems, "latitude", form["latitude"], 90)
    longitude = _coordinate(problems, "longitude", form["longitude"], 180)
    if "latitude" not in problems and "longitude" not in problems and (latitude is None) != (longitude is None):
        problems["latitude" if latitude is None else "longitude"] = [
            _("Give both the latitude and the longitude, or neither.")
        ]
    if problems:
        context["problems"] = problems
        return render_template("admin/building_form.html", form=form, **context), 400

    building = Building(building_id, name, form["door_no"], latitude, longitude)
    if existing is None:
        buildings = (*community.buildings, building)
    else:
        buildings = tuple(building if b.id == existing.id else b for b in community.buildings)
    runtime_of().store.update_community(dataclasses.replace(community, buildings=buildings))
    facts = _building_facts(building)
    if existing is None:
        audit("building.created", f"{community.id}/{building.id}", {"community": community.id, **facts})
        flash(_("Building %(name)s added.", name=building.name), "success")
    else:
        changes = _diff(_building_facts(existing), facts)
        audit("building.updated", f"{community.id}/{building.id}", {"community": community.id, "changed": changes})
        flash(_("Building %(name)s saved.", name=building.name), "success")
    return _back(community, "buildings")


def _building_facts(building: Building) -> dict[str, Any]:
    return {
        "name": building.name,
        "door_no": building.door_no,
        "latitude": building.latitude,
        "longitude": building.longitude,
    }


def _coordinate(problems: Problems, key: str, raw: str, bound: int) -> float | None:
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -bound <= value <= bound:
        problems[key] = [_("Enter a number from %(low)s to %(high)s.", low=-bound, high=bound)]
        return None
    return value


@bp.route("/communities/<community_id>/buildings/<building_id>/remove", methods=["GET", "POST"])
@login_required(*EDITORS)
def building_remove(community_id: str, building_id: str) -> Any:
    found = require_community(community_id)
    building = _building_of(found, building_id)
    if request.method == "GET":
        return render_template(
            "admin/community_remove.html",
            community=found,
            what=_("Remove the building %(name)s from %(community)s?", name=building.name, community=found.name),
            anchor="buildings",
        )
    remaining = tuple(b for b in found.buildings if b.id != building.id)
    runtime_of().store.update_community(dataclasses.replace(found, buildings=remaining))
    audit(
        "building.removed",
        f"{found.id}/{building.id}",
        {"community": found.id, **_building_facts(building)},
    )
    flash(_("Building %(name)s removed.", name=building.name), "success")
    return _back(found, "buildings")


# -- zones -----------------------------------------------------------------------------


@bp.route("/communities/<community_id>/zones/new", methods=["GET", "POST"])
@login_required(*EDITORS)
def zone_new(community_id: str) -> Any:
    return _zone_form(require_community(community_id), None)


@bp.route("/communities/<community_id>/zones/<zone_id>/edit", methods=["GET", "POST"])
@login_required(*EDITORS)
def zone_edit(community_id: str, zone_id: str) -> Any:
    found = require_community(community_id)
    return _zone_form(found, _zone_of(found, zone_id))


def points_text(points: tuple[tuple[float, float], ...]) -> str:
    """A zone's points as the form shows them: one ``lat, lon`` a line."""
    return "\n".join(f"{lat}, {lon}" for lat, lon in points)


def parse_points(text: str, problems: Problems) -> tuple[tuple[float, float], ...]:
    """The points of the form's box (one ``latitude, longitude`` a line; empty lines are
    skipped). Each wrong line is named in ``problems["points"]``."""
    points = []
    messages = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = _POINT.match(line)
        if found is None:
            messages.append(
                _("Line %(n)s: write one point as “latitude, longitude”, e.g. 31.2304, 121.4737.", n=number)
            )
            continue
        lat, lon = float(found.group(1)), float(found.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            messages.append(_("Line %(n)s: latitude is from -90 to 90, longitude from -180 to 180.", n=number))
            continue
        points.append((lat, lon))
    if messages:
        problems["points"] = messages
    return tuple(points)


#: The fewest points a zone of a kind needs, when it has any (an area, a path).
_MIN_POINTS = {"no_go": 3, "route": 2}


def _zone_form(community: Community, existing: Zone | None) -> Any:
    rt = runtime_of()
    kinds = zone_kind_labels()
    context: dict[str, Any] = {"community": community, "existing": existing, "kinds": kinds, "problems": {}}
    if request.method == "GET":
        base = existing or Zone("", request.args.get("kind", ""), "")
        form = {
            "id": base.id,
            "kind": base.kind,
            "name": base.name,
            "points": points_text(base.points),
            "notes": base.notes,
        }
        return render_template("admin/zone_form.html", form=form, **context)

    form = {key: request.form.get(key, "") for key in ("id", "kind", "name", "points", "notes")}
    problems: Problems = {}
    if existing is None:
        zone_id = _new_id(problems, form["id"], form["id"].strip() in {z.id for z in rt.store.list_zones(community.id)})
    else:
        zone_id = existing.id
    kind = form["kind"]
    if kind not in kinds:
        problems["kind"] = [_("Choose what kind of area this is.")]
    name = _name(problems, form["name"], _("Give the area a name riders will understand."))
    points = parse_points(form["points"], problems)
    fewest = _MIN_POINTS.get(kind, 1)
    if "points" not in problems and points and len(points) < fewest:
        problems["points"] = [_("Give at least %(n)s points for this kind of area.", n=fewest)]
    notes = form["notes"].strip()
    if len(notes) > 500:
        problems["notes"] = [_("Use at most %(n)s characters.", n=500)]
    if problems:
        context["problems"] = problems
        return render_template("admin/zone_form.html", form=form, **context), 400

    zone = Zone(zone_id, kind, name, points, notes)
    facts = {"kind": zone.kind, "name": zone.name, "points": [list(p) for p in zone.points], "notes": zone.notes}
    subject = f"{community.id}/{zone.id}"
    if existing is None:
        try:
            rt.store.add_zone(community.id, zone)
        except errors.Conflict:
            context["problems"] = {"id": [_("This id is already used; choose another.")]}
            return render_template("admin/zone_form.html", form=form, **context), 400
        audit("zone.created", subject, {"community": community.id, **facts})
        flash(_("Area %(name)s added.", name=zone.name), "success")
    else:
        rt.store.update_zone(community.id, zone)
        before = {
            "kind": existing.kind,
            "name": existing.name,
            "points": [list(p) for p in existing.points],
            "notes": existing.notes,
        }
        audit("zone.updated", subject, {"community": community.id, "changed": _diff(before, facts)})
        flash(_("Area %(name)s saved.", name=zone.name), "success")
    return _back(community, "zones")


@bp.route("/communities/<community_id>/zones/<zone_id>/remove", methods=["GET", "POST"])
@login_required(*EDITORS)
def zone_remove(community_id: str, zone_id: str) -> Any:
    found = require_community(community_id)
    zone = _zone_of(found, zone_id)
    if request.method == "GET":
        return render_template(
            "admin/community_remove.html",
            community=found,
            what=_("Remove the area %(name)s from %(community)s?", name=zone.name, community=found.name),
            anchor="zones",
        )
    try:
        runtime_of().store.remove_zone(found.id, zone.id)
    except errors.NotFound:
        raise NotFound() from None
    audit("zone.removed", f"{found.id}/{zone.id}", {"community": found.id, "kind": zone.kind, "name": zone.name})
    flash(_("Area %(name)s removed.", name=zone.name), "success")
    return _back(found, "zones")
