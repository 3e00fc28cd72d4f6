"""marshmallow schemas of every request and reply of the JSON API.

Request schemas refuse unknown fields (marshmallow's ``RAISE``) and strings with control
characters; reply schemas only dump. The OpenAPI document (:mod:`hub.web.openapi`) is
generated from these classes, so what the API checks and what it documents are one.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from hub.core.model import CredentialKind, Decision, FeedbackCategory, FeedbackStatus, PassKind


class FullMatch(validate.Regexp):
    """``validate.Regexp`` over the whole value: Python's ``$`` also matches before a
    final newline, which would let ``"plat\\n"`` through."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


#: Text a person or a device may send: no control characters.
# Control characters and lone surrogates (JSON "\ud800"), which no text can be encoded with.
_PRINTABLE = FullMatch(r"^[^\x00-\x1f\x7f\ud800-\udfff]*$", error="Must not contain control characters.")


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), _PRINTABLE], **kwargs)


class JSONNumber(fields.Float):
    """A JSON number: unlike ``fields.Float`` it refuses numbers written as strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class _Request(Schema):
    class Meta:
        unknown = RAISE


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


class CredentialSchema(_Request):
    kind = fields.Enum(
        CredentialKind,
        by_value=True,
        required=True,
        metadata={
            "description": "token: from the rider app; typed_code: typed by the rider; "
            "entry_code: a signed offline code read at the gate."
        },
    )
    value = _text(4096, required=True, metadata={"description": "The credential itself; never logged."})


class LocationSchema(_Request):
    lat = JSONNumber(required=True, validate=validate.Range(-90, 90), metadata={"description": "Latitude, WGS-84."})
    lon = JSONNumber(required=True, validate=validate.Range(-180, 180), metadata={"description": "Longitude, WGS-84."})


class EntryRequestSchema(_Request):
    gate_code = _text(
        200,
        required=True,
        metadata={
            "description": "The signed code printed at the gate (what its QR carries).",
            "example": "sunny-north.Xk3…",
        },
    )
    connection = _text(100, required=True, metadata={"description": "The platform connection the rider comes through."})
    credential = fields.Nested(CredentialSchema, required=True)
    order_ref = _text(100, metadata={"description": "The order the rider delivers, when known."})
    presence_code = _text(16, metadata={"description": "The code on the gate's screen, proving the rider is there."})
    location = fields.Nested(LocationSchema, metadata={"description": "Where the rider's phone is."})


class ExitRequestSchema(_Request):
    """No fields (yet): the body may be left out, or be ``{}``."""


#: A report's text may have line breaks and tabs, but no other control characters.
_MULTILINE = FullMatch(
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
    error="Must not contain control characters other than line breaks and tabs.",
)
#: A platform's id of a report: it goes in a URL path, so no '/' and nothing to escape.
EXTERNAL_REF = r"^[A-Za-z0-9][A-Za-z0-9._:~-]*$"


class FeedbackRequestSchema(_Request):
    connection = _text(100, required=True, metadata={"description": "The platform connection sending the report."})
    external_ref = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100),
            FullMatch(EXTERNAL_REF, error="Use letters, digits and . _ : ~ - (starting with a letter or digit)."),
        ],
        metadata={
            "description": "The platform's own id of the report; sending it again is safe.",
            "example": "fb-20260105-0042",
        },
    )
    category = fields.Enum(FeedbackCategory, by_value=True, required=True)
    body = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=2000), _MULTILINE],
        metadata={"description": "What happened, as the reporter wrote it."},
    )
    contact = fields.String(
        validate=[validate.Length(max=200), _PRINTABLE],
        metadata={"description": "The reporter's name or phone, when they want an answer (personal data)."},
    )


# ---------------------------------------------------------------------------
# Replies
# ---------------------------------------------------------------------------


class ReasonSchema(Schema):
    code = fields.String(required=True, metadata={"example": "no_active_order"})
    zh = fields.String(required=True)
    en = fields.String(required=True)


class PassSchema(Schema):
    kind = fields.Enum(PassKind, by_value=True, required=True)
    value = fields.String(required=True, metadata={"description": "What the gate's scanner or the guard checks."})
    valid_from = fields.DateTime(required=True)
    valid_until = fields.DateTime(required=True)
    revoked_at = fields.DateTime(
        required=True, allow_none=True, metadata={"description": "When the gate's device took the pass back."}
    )


class LockerSchema(Schema):
    bank = fields.String(required=True, metadata={"description": "The locker bank (a locker connection's id)."})
    compartment = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "The rider's drop-off code."})
    valid_until = fields.DateTime(required=True, allow_none=True, metadata={"description": "Drop-off deadline."})


class RouteBuildingSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    door_no = fields.String(required=True)


class RouteParkingSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    notes = fields.String(required=True)


class RouteSchema(Schema):
    building = fields.Nested(
        RouteBuildingSchema,
        required=True,
        allow_none=True,
        metadata={"description": "The community's building the order is addressed to, when it is recognised."},
    )
    parking = fields.Nested(
        RouteParkingSchema, required=True, allow_none=True, metadata={"description": "Where to leave the e-bike."}
    )
    locker = fields.Nested(LockerSchema, required=True, allow_none=True)


class EntrySchema(Schema):
    id = fields.String(required=True)
    decision = fields.Enum(Decision, by_value=True, required=True)
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)
    pass_ = fields.Nested(PassSchema, data_key="pass", required=True, allow_none=True)
    locker = fields.Nested(LockerSchema, required=True, allow_none=True)
    route = fields.Nested(RouteSchema, required=True)
    decision_ms = fields.Float(required=True, metadata={"description": "How long the decision took."})
    community = fields.String(required=True)
    gate = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    exited_at = fields.DateTime(required=True, allow_none=True)


class HoursSchema(Schema):
    opening = fields.String(required=True, allow_none=True, metadata={"example": "06:00"})
    closing = fields.String(required=True, allow_none=True, metadata={"example": "23:30"})
    always_open = fields.Boolean(required=True)


class RulesSchema(Schema):
    hours = fields.Nested(HoursSchema, required=True, metadata={"description": "Local time of the community."})
    timezone = fields.String(required=True, metadata={"example": "Asia/Shanghai"})
    max_pass_minutes = fields.Integer(required=True)
    exit_grace_minutes = fields.Integer(required=True)
    lockers_only = fields.Boolean(required=True)
    presence_required = fields.Boolean(required=True)
    active_order_required = fields.Boolean(required=True)
    zh = fields.String(required=True, metadata={"description": "The rules in Simplified Chinese."})
    en = fields.String(required=True, metadata={"description": "The rules in English."})


class ProfileGateSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    door_no = fields.String(required=True)


class ProfileBuildingSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    door_no = fields.String(required=True)
    lat = fields.Float(required=True, allow_none=True)
    lon = fields.Float(required=True, allow_none=True)


class ZoneSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    points = fields.List(
        fields.List(fields.Float(), validate=validate.Length(equal=2)),
        required=True,
        metadata={"description": "A polygon or a path of [lat, lon] points."},
    )
    notes = fields.String(required=True)


class ZonesSchema(Schema):
    parking = fields.List(fields.Nested(ZoneSchema), required=True, metadata={"description": "Rider parking areas."})
    locker = fields.List(fields.Nested(ZoneSchema), required=True, metadata={"description": "Food lockers."})
    rest_station = fields.List(fields.Nested(ZoneSchema), required=True, metadata={"description": "Rest stations."})
    no_go = fields.List(fields.Nested(ZoneSchema), required=True, metadata={"description": "Areas riders keep out of."})
    route = fields.List(fields.Nested(ZoneSchema), required=True, metadata={"description": "Riding routes."})


class ProfileCommunitySchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)


class ProfileSchema(Schema):
    version = fields.Integer(
        required=True,
        metadata={"description": "Grows with every change; the version the hub publishes to platforms."},
    )
    community = fields.Nested(ProfileCommunitySchema, required=True)
    rules = fields.Nested(RulesSchema, required=True)
    gates = fields.List(fields.Nested(ProfileGateSchema), required=True, metadata={"description": "Never their codes."})
    buildings = fields.List(fields.Nested(ProfileBuildingSchema), required=True)
    zones = fields.Nested(ZonesSchema, required=True)


class FeedbackAnswerSchema(Schema):
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class FeedbackSchema(Schema):
    community = fields.String(required=True)
    connection = fields.String(required=True)
    external_ref = fields.String(required=True)
    category = fields.Enum(FeedbackCategory, by_value=True, required=True)
    body = fields.String(required=True)
    status = fields.Enum(
        FeedbackStatus,
        by_value=True,
        required=True,
        metadata={"description": "open, in_progress (being looked at), resolved or closed."},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    responses = fields.List(
        fields.Nested(FeedbackAnswerSchema),
        required=True,
        metadata={"description": "The answers meant for the reporter, oldest first (never internal notes)."},
    )


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "invalid_request"})
    message = fields.String(required=True)
    details = fields.Dict(
        required=True,
        metadata={"description": "More about the error; ``fields`` maps each bad field to its messages."},
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error messages as ``{"credential.kind": [...]}``."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            # A nested object's own error (not an object at all) is named for the object.
            name = prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_messages(value, name))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """``schema.load(data)``; a :class:`ValidationError` carries flattened messages."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationError(flatten_messages(exc.messages)) from None
