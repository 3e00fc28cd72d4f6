"""The settings of one visitor-system connection.

Every value loads as plain JSON (strings, numbers, objects), because the hub stores
settings as JSON and encrypts the secret ones. The field map is compiled here, so a
template with an unknown placeholder or a format that does not fit is refused when the
connection is saved, with a message naming the target field.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow
from marshmallow import fields, validate, validates_schema

from last100_visitor_http.client import IDEMPOTENCY_HEADER
from last100_visitor_http.mapping import compile_field_map
from last100_visitor_http.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from last100_visitor_http.templates import FieldMapError

#: The field map a new connection starts with: the fields most visitor books ask for.
DEFAULT_FIELD_MAP = {
    "visitorName": "{masked_name}",
    "visitorPhone": "{masked_phone}",
    "visitTime": "{started_at:%Y-%m-%d %H:%M:%S}",
    "leaveTime": "{ends_at:%Y-%m-%d %H:%M:%S}",
    "reason": "外卖配送 {platform}",
    "gate": "{gate_id}",
}

# Plain http only reaches a system on this machine (the simulator): elsewhere the
# secret's signatures and the riders' data would cross the network in clear text.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

# Headers the client sets itself; a signing header of the same name would clash.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in ("Content-Type", "Content-Length", "Host", "Accept", "User-Agent", "Connection", IDEMPOTENCY_HEADER)
)

_MAX_FIELD_NAME = 100

_DOTTED_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")

_URL = validate.URL(schemes={"http", "https"}, require_tld=False)


def _endpoint(value: str) -> None:
    _URL(value)
    parts = urlsplit(value)
    if parts.fragment:
        raise marshmallow.ValidationError("must not have a fragment")
    if parts.username or parts.password:
        raise marshmallow.ValidationError("must not carry a user name or password: use secret and key_id")
    if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
        raise marshmallow.ValidationError("must use https (plain http is allowed for localhost only)")


def _optional_endpoint(value: str) -> None:
    if value:
        _endpoint(value)


def _header_name(value: str) -> None:
    if not _HEADER_NAME.match(value):
        raise marshmallow.ValidationError("is not a valid HTTP header name")
    if value.lower() in _RESERVED_HEADERS:
        raise marshmallow.ValidationError(f"{value} is set by the hub itself; choose another header")


def _optional_path(value: str) -> None:
    if value and not _DOTTED_PATH.match(value):
        raise marshmallow.ValidationError("must be a dotted path into the reply, e.g. code or data.recordId")


def _timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise marshmallow.ValidationError(
            f"unknown timezone {value!r}; use an IANA name such as Asia/Shanghai"
        ) from None


def _field_names(value: dict[str, Any]) -> None:
    # Checked here rather than by the key field, whose errors marshmallow nests by key:
    # the hub's settings errors are a flat list of messages per setting.
    if any(not 1 <= len(name) <= _MAX_FIELD_NAME for name in value):
        raise marshmallow.ValidationError(f"field names must be 1 to {_MAX_FIELD_NAME} characters")


def _field_map(value: dict[str, Any]) -> None:
    if not value:
        raise marshmallow.ValidationError("must map at least one field")
    _field_names(value)
    not_text = [name for name, template in value.items() if not isinstance(template, str)]
    if not_text:
        raise marshmallow.ValidationError([f"{name}: the template must be text" for name in not_text])
    try:
        compile_field_map(value)
    except FieldMapError as exc:
        raise marshmallow.ValidationError([f"{name}: {problem}" for name, problem in exc.errors.items()]) from None


def _static_fields(value: dict[str, Any]) -> None:
    _field_names(value)
    for name, item in value.items():
        try:
            json.dumps(item)
        except (TypeError, ValueError):
            raise marshmallow.ValidationError(f"{name}: must be a JSON value") from None


def _header(default: str, what: str) -> fields.String:
    return fields.String(
        load_default=default,
        validate=_header_name,
        metadata={"description": f"The header carrying {what} (default {default})."},
    )


class VisitorHttpSettings(marshmallow.Schema):
    """One visitor-system connection's settings."""

    url = fields.String(
        required=True,
        validate=_endpoint,
        metadata={"description": "The endpoint each visit is POSTed to."},
    )
    secret = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"secret": True, "description": "The HMAC-SHA256 signing key shared with the system (UTF-8)."},
    )
    key_id = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={
            "secret": False,
            "description": "The hub's id at the system, sent in key_id_header; empty: not sent.",
        },
    )
    signature_header = _header(SIGNATURE_HEADER, "the signature")
    timestamp_header = _header(TIMESTAMP_HEADER, "the signing timestamp")
    key_id_header = _header(KEY_ID_HEADER, "key_id")
    field_map = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        load_default=lambda: dict(DEFAULT_FIELD_MAP),
        validate=_field_map,
        metadata={"description": "Target field name -> template over the visit, e.g. {masked_name}."},
    )
    static_fields = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        validate=_static_fields,
        metadata={"description": "Constant fields sent with every record, e.g. a community code."},
    )
    idempotency_field = fields.String(
        load_default="externalId",
        validate=validate.Length(max=100),
        metadata={"description": "Body field carrying the visit's entry id; empty: the header only."},
    )
    timezone = fields.String(
        load_default="Asia/Shanghai",
        validate=_timezone,
        metadata={"description": "The IANA timezone the field map writes times in."},
    )
    success_path = fields.String(
        load_default="",
        validate=_optional_path,
        metadata={"description": "Where the reply says whether the record was taken, e.g. code; empty: any 2xx."},
    )
    success_value = fields.String(
        load_default="",
        metadata={"description": "The value at success_path that means success, as text, e.g. 0."},
    )
    record_id_path = fields.String(
        load_default="",
        validate=_optional_path,
        metadata={"description": "Where the reply holds the record id, e.g. data.recordId; empty: the entry id."},
    )
    message_path = fields.String(
        load_default="",
        validate=_optional_path,
        metadata={"description": "Where the reply holds the system's message; empty: message, msg, errmsg, ..."},
    )
    health_url = fields.String(
        load_default="",
        validate=_optional_endpoint,
        metadata={"description": "Probed with a signed GET by the connection check; empty: a signed HEAD of url."},
    )
    connect_timeout_s = fields.Float(
        load_default=1.0,
        validate=validate.Range(min=0.05, max=30),
        metadata={"description": "Longest wait for a TCP/TLS connection (capped by the connection's timeout)."},
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        mapped = set(data.get("field_map", {}))
        static = set(data.get("static_fields", {}))
        both = sorted(mapped & static)
        if both:
            errors["static_fields"] = [f"{', '.join(both)}: also in field_map; give each field once"]
        id_field = data.get("idempotency_field", "")
        if id_field and id_field in mapped | static:
            errors["idempotency_field"] = [f"{id_field} is also in field_map or static_fields"]
        if data.get("success_path") and not data.get("success_value"):
            errors["success_value"] = ["is required with success_path"]
        headers = [data.get(n, "").lower() for n in ("signature_header", "timestamp_header", "key_id_header")]
        if len(set(headers)) < len(headers):
            errors["signature_header"] = ["signature_header, timestamp_header and key_id_header must differ"]
        if errors:
            raise marshmallow.ValidationError(errors)
