"""The OpenAPI 3 document of the JSON API, generated from its marshmallow schemas with
apispec, served at ``GET /api/v1/openapi.json``.

Paths are written out here with their parameters and every status they answer with; the
bodies come from :mod:`hub.web.schemas`, so a field added to a schema is documented
with it.
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from hub.web import schemas

TITLE = "Last100 Hub API"
OPENAPI_VERSION = "3.1.0"

_DESCRIPTION = """\
Riders through residential gates in seconds. Platform back ends, gate scanners and guard
handhelds authenticate with an API key (`Authorization: Bearer <key>` or `X-Api-Key`),
scoped to connections and communities. Errors always look like
`{"error": {"code": "...", "message": "...", "details": {...}}}`. A refused request (4xx)
changes nothing.
"""

_KEY_AUTH = [{"bearerAuth": []}, {"apiKeyHeader": []}]


def _hub_version() -> str:
    try:
        return version("last100-hub")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0"


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json("Error")}


_UNAUTHORIZED = {
    "description": "No API key, or not a valid one (`unauthorized`).",
    "headers": {
        "WWW-Authenticate": {"description": '`Bearer realm="last100"`', "schema": {"type": "string"}},
    },
    "content": _json("Error"),
}
_LOCATION = {"Location": {"description": "Where to read the entry.", "schema": {"type": "string"}}}
_FORBIDDEN = _error("The API key's scope does not cover this connection or community (`forbidden`).")
_INVALID_JSON = _error("The body is not valid JSON (`invalid_json`).")
_NOT_JSON = _error("The body is not `application/json` (`unsupported_media_type`).")
_TOO_LARGE = _error("The body is larger than 1 MiB (`request_entity_too_large`).")
_INVALID = _error(
    "A field is missing, unknown, of the wrong type or out of range (`invalid_request`; "
    "`details.fields` maps each bad field, e.g. `credential.kind`, to its messages)."
)

_RATE_LIMITED = {
    "description": "Too many entries at this gate, for this rider or with this API key in the current "
    "window (`rate_limited`; `details.limit` names the limit): nothing was decided or stored. "
    "Try again after `Retry-After` seconds.",
    "headers": {"Retry-After": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}}},
    "content": _json("Error"),
}

_ENTRY_ID = {
    "name": "entry_id",
    "in": "path",
    "required": True,
    "description": "The entry's id.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


_COMMUNITY_ID = {
    "name": "community_id",
    "in": "path",
    "required": True,
    "description": "The community's id.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
_FEEDBACK_LOCATION = {"Location": {"description": "Where to read the report.", "schema": {"type": "string"}}}


def _paths(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/entries",
        operations={
            "post": {
                "operationId": "createEntry",
                "summary": "Decide a rider's entry at a gate",
                "description": (
                    "Verifies the rider with the platform, checks their orders and the community's rules, and "
                    "issues a pass (or a locker compartment). A platform that is down gives `manual_check`. "
                    "With an `Idempotency-Key`, a retry with the same body returns the same entry with 200; the "
                    "same key with a different body is refused with 422 `idempotency_key_reused`. Keys are "
                    "per API key."
                ),
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Makes retries safe: 1-255 visible ASCII characters.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                    }
                ],
                "requestBody": {"required": True, "content": _json("EntryRequest")},
                "responses": {
                    "201": {"description": "Decided now.", "headers": _LOCATION, "content": _json("Entry")},
                    "200": {
                        "description": "A replay: the entry decided for an earlier request with the same "
                        "Idempotency-Key and body, as it is now.",
                        "headers": _LOCATION,
                        "content": _json("Entry"),
                    },
                    "400": _INVALID_JSON,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _error(
                        "The gate code is forged or unknown (`gate_not_found`), or the connection is unknown "
                        "(`connection_not_found`)."
                    ),
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _error(
                        "Invalid fields (`invalid_request`, see `details.fields`), or the Idempotency-Key was "
                        "used for a different request (`idempotency_key_reused`)."
                    ),
                    "429": _RATE_LIMITED,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/entries/{entry_id}",
        operations={
            "get": {
                "operationId": "getEntry",
                "summary": "Read an entry",
                "parameters": [_ENTRY_ID],
                "responses": {
                    "200": {"description": "The entry, as it is now.", "content": _json("Entry")},
                    "401": _UNAUTHORIZED,
                    "404": _error(
                        "No such entry, or not one this API key may see (`entry_not_found`): the same answer, "
                        "so ids are not confirmed."
                    ),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/entries/{entry_id}/exit",
        operations={
            "post": {
                "operationId": "exitEntry",
                "summary": "Record that the rider left",
                "description": (
                    "Records the exit time (a second call keeps the first time), ends the pass and asks the "
                    "gate's device to revoke it; `pass.revoked_at` is set once the device confirmed. The body "
                    "may be left out."
                ),
                "parameters": [_ENTRY_ID],
                "requestBody": {"required": False, "content": _json("ExitRequest")},
                "responses": {
                    "200": {"description": "The entry, with `exited_at`.", "content": _json("Entry")},
                    "400": _INVALID_JSON,
                    "401": _UNAUTHORIZED,
                    "404": _error("No such entry, or not one this API key may see (`entry_not_found`)."),
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _INVALID,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/communities/{community_id}/profile",
        operations={
            "get": {
                "operationId": "getCommunityProfile",
                "summary": "A community's rules, gates, buildings and marked areas, for riders",
                "parameters": [
                    {
                        "name": "community_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    }
                ],
                "responses": {
                    "200": {"description": "The profile.", "content": _json("Profile")},
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _error("No such community (`community_not_found`)."),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/communities/{community_id}/feedback",
        operations={
            "post": {
                "operationId": "createFeedback",
                "summary": "Forward a report about a community (from a rider, through the platform)",
                "description": (
                    "Stores an open report for the community's management. `external_ref` is the platform's own "
                    "id of the report: sending the same report again answers 200 with the stored one, and the "
                    "same `external_ref` with a different report is refused with 422 `external_ref_reused`. The "
                    "API key must cover the community and the connection, and the connection must serve the "
                    "community."
                ),
                "parameters": [_COMMUNITY_ID],
                "requestBody": {"required": True, "content": _json("FeedbackRequest")},
                "responses": {
                    "201": {"description": "Stored now.", "headers": _FEEDBACK_LOCATION, "content": _json("Feedback")},
                    "200": {
                        "description": "Sent before with the same content: the stored report, as it is now.",
                        "headers": _FEEDBACK_LOCATION,
                        "content": _json("Feedback"),
                    },
                    "400": _INVALID_JSON,
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _error(
                        "No such community (`community_not_found`), or the connection is unknown or does not "
                        "serve it (`connection_not_found`)."
                    ),
                    "413": _TOO_LARGE,
                    "415": _NOT_JSON,
                    "422": _error(
                        "Invalid fields (`invalid_request`, see `details.fields`), or the `external_ref` was sent "
                        "with a different report (`external_ref_reused`)."
                    ),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/communities/{community_id}/feedback/{connection_id}/{external_ref}",
        operations={
            "get": {
                "operationId": "getFeedback",
                "summary": "A forwarded report's status and the answers shared with the reporter",
                "parameters": [
                    _COMMUNITY_ID,
                    {
                        "name": "connection_id",
                        "in": "path",
                        "required": True,
                        "description": "The connection that sent the report.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    },
                    {
                        "name": "external_ref",
                        "in": "path",
                        "required": True,
                        "description": "The platform's own id of the report.",
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 100,
                            "pattern": schemas.EXTERNAL_REF,
                        },
                    },
                ],
                "responses": {
                    "200": {"description": "The report, as it is now.", "content": _json("Feedback")},
                    "401": _UNAUTHORIZED,
                    "403": _FORBIDDEN,
                    "404": _error(
                        "The connection sent no report with this id to this community (`feedback_not_found`)."
                    ),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/openapi.json",
        operations={
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    )
    spec.path(
        path="/api/v1/push/{connection_id}",
        operations={
            "post": {
                "operationId": "receivePush",
                "summary": "A platform or device pushes events for one connection",
                "description": (
                    "Authenticated by the push's own signature, checked by the connection's plugin (no API "
                    "key). The body is whatever the platform's protocol sends; the answer is the "
                    "acknowledgement that platform expects. A repeated event is acknowledged and not applied "
                    "again."
                ),
                "security": [],
                "parameters": [
                    {
                        "name": "connection_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {}},
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "Accepted (or a repeat): the platform's own acknowledgement.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "400": _error("Malformed push (`push_rejected`)."),
                    "401": _error("Forged or stale push (`push_rejected`)."),
                    "403": _error("The connection is disabled (`push_rejected`)."),
                    "404": _error("No such connection (`not_found`), or it takes no pushes (`push_rejected`)."),
                    "413": _TOO_LARGE,
                },
            }
        },
    )


def build_spec() -> APISpec:
    spec = APISpec(
        title=TITLE,
        version=_hub_version(),
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
        security=_KEY_AUTH,
    )
    spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer l100_<prefix>_<secret>`"},
    )
    spec.components.security_scheme(
        "apiKeyHeader",
        {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "The same key, in its own header."},
    )
    for name, schema in (
        ("EntryRequest", schemas.EntryRequestSchema),
        ("ExitRequest", schemas.ExitRequestSchema),
        ("Entry", schemas.EntrySchema),
        ("Profile", schemas.ProfileSchema),
        ("FeedbackRequest", schemas.FeedbackRequestSchema),
        ("Feedback", schemas.FeedbackSchema),
        ("Error", schemas.ErrorSchema),
    ):
        spec.components.schema(name, schema=schema)
    _paths(spec)
    return spec


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document as a dict (built once per process)."""
    return build_spec().to_dict()
