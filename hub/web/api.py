"""The JSON API under ``/api/v1``.

Every body and reply has a marshmallow schema (:mod:`hub.web.schemas`) and is described
in the OpenAPI document served at ``/api/v1/openapi.json`` (:mod:`hub.web.openapi`).
Clients authenticate with API keys (:mod:`hub.web.auth`); pushes are authenticated by
their own signatures and the OpenAPI document is public. Errors always look like
``{"error": {"code": ..., "message": ..., "details": {...}}}``; a request that is refused
(4xx) writes nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from marshmallow import ValidationError

from hub.core.engine import EntryRequest
from hub.core.errors import Conflict, NotFound
from hub.core.model import Credential, Decision, Entry, Feedback, FeedbackCategory, FeedbackSource, PushRequest
from hub.core.profiles import ZONE_KINDS
from hub.core.publishing import current_profile
from hub.core.pushes import receive_push
from hub.core.routes import RouteHint, route_hint
from hub.web import schemas
from hub.web.auth import api_key_required, current_key, forbidden
from hub.web.context import runtime_of
from hub.web.errors import ApiError, api_error
from hub.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: ``Idempotency-Key``: 1–255 visible ASCII characters.
IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")

_ENTRY_NOT_FOUND = "no entry with this id is visible to this API key"
#: Ids in paths: no control characters (PostgreSQL refuses NUL), not absurdly long.
_PATH_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


# ---------------------------------------------------------------------------
# Reading requests
# ---------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(*, required: bool) -> Any:
    """The request's JSON body. An optional body may be left out (``{}`` then).

    :raises ApiError: 415 when a body is not ``application/json``; 400 ``invalid_json``
        when it is empty (but required) or not valid JSON.
    """
    data = request.get_data(cache=True)
    if not data and not required:
        return {}
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if not data:
        raise ApiError(400, "invalid_json", "the body is empty: send a JSON object")
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header, when sent.

    :raises ValidationError: not 1–255 visible ASCII characters.
    """
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise ValidationError({"Idempotency-Key": ["Must be 1 to 255 visible ASCII characters."]})
    return value


# ---------------------------------------------------------------------------
# Building replies
# ---------------------------------------------------------------------------


# The entry path's schemas, made once: a schema holds no state between loads and dumps.
_ENTRY = schemas.EntrySchema()
_ENTRY_REQUEST = schemas.EntryRequestSchema()


def entry_reply(entry: Entry) -> dict[str, Any]:
    """An entry as the API shows it, with its route hint."""
    rt = runtime_of()
    if entry.decision is Decision.DENIED:
        hint = RouteHint()  # a rider who may not enter is shown no way in
    else:
        community = rt.store.get_community(entry.community_id)
        buildings = rt.store.order_buildings(entry.connection_id, entry.order_refs)
        hint = route_hint(community, rt.store.list_zones(community.id), buildings, entry.locker)
    grant = entry.access_pass
    box = entry.locker
    locker = (
        None
        if box is None
        else {"bank": box.bank_id, "compartment": box.locker_no, "code": box.pin, "valid_until": box.valid_until}
    )
    return _ENTRY.dump(
        {
            "id": entry.id,
            "decision": entry.decision,
            "reasons": [{"code": r.code, "zh": r.zh, "en": r.en} for r in entry.reasons],
            "pass_": None
            if grant is None
            else {
                "kind": grant.kind,
                "value": grant.value,
                "valid_from": grant.valid_from,
                "valid_until": grant.valid_until,
                "revoked_at": entry.pass_revoked_at,
            },
            "locker": locker,
            "route": {
                "building": None
                if hint.building is None
                else {"id": hint.building.id, "name": hint.building.name, "door_no": hint.building.door_no},
                "parking": None
                if hint.parking is None
                else {"id": hint.parking.id, "name": hint.parking.name, "notes": hint.parking.notes},
                "locker": locker,
            },
            "decision_ms": entry.decision_ms,
            "community": entry.community_id,
            "gate": entry.gate_id,
            "created_at": entry.created_at,
            "exited_at": entry.exited_at,
        }
    )


def _reply(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def visible_entry(entry_id: str) -> Entry:
    """An entry the request's key may see: its community and its connection are in the
    key's scope. Any other entry is "not found", so ids are not confirmed.

    :raises ApiError: 404 ``entry_not_found``.
    """
    key = current_key()
    if not _PATH_ID.fullmatch(entry_id):
        raise ApiError(404, "entry_not_found", _ENTRY_NOT_FOUND)
    try:
        entry = runtime_of().store.get_entry(entry_id)
    except NotFound:
        raise ApiError(404, "entry_not_found", _ENTRY_NOT_FOUND) from None
    if not (key.may_see(entry.community_id) and key.may_use(entry.connection_id)):
        raise ApiError(404, "entry_not_found", _ENTRY_NOT_FOUND)
    return entry


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


@bp.post("/entries")
@api_key_required
def create_entry() -> Response:
    """A rider asks to enter at a gate: decided at once. 201 with the new entry; 200 with
    the earlier entry when the same ``Idempotency-Key`` and body were sent before."""
    key = current_key()
    rt = runtime_of()
    retry_key = idempotency_key()
    body = schemas.load(_ENTRY_REQUEST, json_body(required=True))
    connection_id = body["connection"]
    if not key.may_use(connection_id):
        return forbidden(f"this API key may not enter riders through connection {connection_id!r}")
    try:
        gate = rt.store.gate_by_code(rt.gate_codes.verify(body["gate_code"]))
    except NotFound:
        return api_error(404, "gate_not_found", "no gate has this code")
    if not key.may_see(gate.community_id):
        return forbidden("this API key may not enter riders at this gate's community")
    try:
        rt.store.get_connection(connection_id)
    except NotFound:
        return api_error(404, "connection_not_found", f"no connection {connection_id!r}")
    location = body.get("location")
    entry_request = EntryRequest(
        gate_code=gate.code,
        connection_id=connection_id,
        credential=Credential(body["credential"]["kind"], body["credential"]["value"]),
        order_ref=body.get("order_ref"),
        presence_code=body.get("presence_code"),
        location=(location["lat"], location["lon"]) if location else None,
        # Each key has its own idempotency keys: two clients never collide.
        idempotency_key=f"apikey:{key.id}:{retry_key}" if retry_key else None,
        actor=f"api:{key.name}",
    )
    try:
        entry, created = rt.engine.submit(entry_request)
    except Conflict:
        return api_error(422, "idempotency_key_reused", "this Idempotency-Key was already used for a different request")
    response = _reply(entry_reply(entry), 201 if created else 200)
    response.headers["Location"] = url_for("api.get_entry", entry_id=entry.id)
    return response


@bp.get("/entries/<entry_id>")
@api_key_required
def get_entry(entry_id: str) -> Response:
    """One entry, as it is now."""
    return _reply(entry_reply(visible_entry(entry_id)))


@bp.post("/entries/<entry_id>/exit")
@api_key_required
def exit_entry(entry_id: str) -> Response:
    """The rider left: the exit time is recorded (the first call's is kept) and the pass
    is taken back at the gate's device."""
    schemas.load(schemas.ExitRequestSchema(), json_body(required=False))
    entry = visible_entry(entry_id)
    return _reply(entry_reply(runtime_of().engine.exit(entry.id, actor=f"api:{current_key().name}")))


# ---------------------------------------------------------------------------
# Communities
# ---------------------------------------------------------------------------


@bp.get("/communities/<community_id>/profile")
@api_key_required
def community_profile_view(community_id: str) -> Response:
    """A community's public rules, gates, buildings and marked areas."""
    if not current_key().may_see(community_id):
        return forbidden("this API key may not read this community")
    rt = runtime_of()
    try:
        if not _PATH_ID.fullmatch(community_id):
            raise NotFound(community_id)
        community = rt.store.get_community(community_id)
    except NotFound:
        return api_error(404, "community_not_found", f"no community {community_id!r}")
    # The version the publishing job sends platforms (recorded here first if it changed).
    profile = current_profile(rt.store, community)
    policy = community.policy
    always_open = policy.opening is None or policy.closing is None or policy.opening == policy.closing
    zones: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ZONE_KINDS}
    for zone in profile.zones:
        zones[zone.kind].append(
            {"id": zone.id, "name": zone.name, "points": [list(p) for p in zone.points], "notes": zone.notes}
        )
    body = {
        "version": profile.version,
        "community": {"id": community.id, "name": community.name, "address": community.address},
        "rules": {
            "hours": {
                "opening": None if always_open else f"{policy.opening:%H:%M}",
                "closing": None if always_open else f"{policy.closing:%H:%M}",
                "always_open": always_open,
            },
            "timezone": community.timezone,
            "max_pass_minutes": policy.max_pass_minutes,
            "exit_grace_minutes": policy.exit_grace_minutes,
            "lockers_only": policy.lockers_only,
            "presence_required": policy.require_presence,
            "active_order_required": policy.require_active_order,
            "zh": profile.rules_zh,
            "en": profile.rules_en,
        },
        "gates": [{"id": g.id, "name": g.name, "door_no": g.door_no} for g in profile.gates],
        "buildings": [
            {"id": b.id, "name": b.name, "door_no": b.door_no, "lat": b.latitude, "lon": b.longitude}
            for b in community.buildings
        ],
        "zones": zones,
    }
    return _reply(schemas.ProfileSchema().dump(body))


# ---------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------

_FEEDBACK_NOT_FOUND = "this connection sent no report with this id to this community"


def feedback_reply(report: Feedback) -> dict[str, Any]:
    """A platform's report as the API shows it: the answers shared with the reporter
    only, and never the reporter's contact."""
    return schemas.FeedbackSchema().dump(
        {
            "community": report.community_id,
            "connection": report.connection_id,
            "external_ref": report.external_ref,
            "category": report.category,
            "body": report.body,
            "status": report.status,
            "created_at": report.created_at,
            "updated_at": report.updated_at,
            "responses": [
                {"body": r.body, "created_at": r.created_at} for r in report.responses if r.shared_with_reporter
            ],
        }
    )


def _feedback_location(report: Feedback) -> str:
    return url_for(
        "api.get_feedback",
        community_id=report.community_id,
        connection_id=report.connection_id,
        external_ref=report.external_ref,
    )


@bp.post("/communities/<community_id>/feedback")
@api_key_required
def create_feedback(community_id: str) -> Response:
    """A platform forwards a report about a community (from a rider, through its app).
    201 with the new report; 200 with the stored one when the same ``external_ref`` and
    content were sent before; 422 when that ``external_ref`` was sent with other content."""
    key = current_key()
    rt = runtime_of()
    body = schemas.load(schemas.FeedbackRequestSchema(), json_body(required=True))
    connection_id = body["connection"]
    if not key.may_see(community_id):
        return forbidden("this API key may not send reports about this community")
    if not key.may_use(connection_id):
        return forbidden(f"this API key may not send reports through connection {connection_id!r}")
    if not _PATH_ID.fullmatch(community_id):
        return api_error(404, "community_not_found", f"no community {community_id!r}")
    try:
        rt.store.get_community(community_id)
    except NotFound:
        return api_error(404, "community_not_found", f"no community {community_id!r}")
    if connection_id not in {c.id for c in rt.store.connections_for_community(community_id)}:
        return api_error(
            404, "connection_not_found", f"no connection {connection_id!r} serves community {community_id!r}"
        )
    try:
        report, created = rt.store.add_feedback(
            community_id,
            source=FeedbackSource.PLATFORM,
            category=FeedbackCategory(body["category"]),
            body=body["body"],
            contact=body.get("contact", ""),
            connection_id=connection_id,
            external_ref=body["external_ref"],
            actor=f"api:{key.name}",
        )
    except Conflict:
        return api_error(
            422, "external_ref_reused", "this external_ref was already sent with a different report; use a new one"
        )
    response = _reply(feedback_reply(report), 201 if created else 200)
    response.headers["Location"] = _feedback_location(report)
    return response


@bp.get("/communities/<community_id>/feedback/<connection_id>/<external_ref>")
@api_key_required
def get_feedback(community_id: str, connection_id: str, external_ref: str) -> Response:
    """A report the platform sent, as it is now: its status and the answers shared with
    the reporter."""
    key = current_key()
    if not key.may_see(community_id):
        return forbidden("this API key may not read this community's reports")
    if not key.may_use(connection_id):
        return forbidden(f"this API key may not read reports of connection {connection_id!r}")
    if not all(_PATH_ID.fullmatch(part) for part in (community_id, connection_id, external_ref)):
        return api_error(404, "feedback_not_found", _FEEDBACK_NOT_FOUND)
    try:
        report = runtime_of().store.feedback_by_ref(connection_id, external_ref)
    except NotFound:
        return api_error(404, "feedback_not_found", _FEEDBACK_NOT_FOUND)
    if report.community_id != community_id:
        return api_error(404, "feedback_not_found", _FEEDBACK_NOT_FOUND)
    return _reply(feedback_reply(report))


# ---------------------------------------------------------------------------
# Public: the OpenAPI document and pushes
# ---------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 document of this API (public)."""
    return jsonify(openapi_document())


@bp.post("/push/<connection_id>")
def push(connection_id: str) -> Response:
    """A platform or device pushes events for one connection. Authenticated by the
    push's own signature (checked by the connection's plugin), not by an API key."""
    if not _PATH_ID.fullmatch(connection_id):
        raise NotFound(f"connection {connection_id!r} not found")
    rt = runtime_of()
    form = request.form.to_dict() if request.mimetype == "application/x-www-form-urlencoded" else {}
    outcome = receive_push(
        rt.hub,
        rt.store,
        connection_id,
        PushRequest(
            method=request.method,
            url=request.base_url,
            headers=dict(request.headers),
            body=request.get_data(cache=True),
            received_at=rt.clock.now(),
            query=request.args.to_dict(),
            form=form,
        ),
    )
    if outcome.error:
        return api_error(outcome.status, "push_rejected", outcome.error)
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    return response
