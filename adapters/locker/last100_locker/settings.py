"""The settings of one locker connection: one locker bank behind one controller."""

from __future__ import annotations

from urllib.parse import urlsplit

import marshmallow
from marshmallow import fields, validate

from last100_locker.wire import SIZES, ZONES

#: Shortest shared secret accepted: 32 characters, 256 bits when they are random bytes
#: in hex or base64 (the protocol uses the secret's UTF-8 bytes as the HMAC key).
MIN_SECRET_LENGTH = 32

# Plain http only reaches a controller on this machine (the simulator): elsewhere the
# drop-off codes would cross the network in clear text.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _https_unless_loopback(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise marshmallow.ValidationError("must not have a query or fragment")
    if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
        raise marshmallow.ValidationError("must use https (plain http is allowed for localhost only)")


class LockerSettings(marshmallow.Schema):
    """One locker connection's settings."""

    base_url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_https_unless_loopback,
        metadata={"description": "Where the controller serves the protocol; /v1/... is appended."},
    )
    key_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"secret": False, "description": "The hub's key id at the controller (X-Locker-Key-Id)."},
    )
    secret = fields.String(
        required=True,
        validate=validate.Length(min=MIN_SECRET_LENGTH, max=1024, error="must be {min} to {max} characters long"),
        metadata={"secret": True, "description": "The HMAC-SHA256 secret shared with the controller."},
    )
    bank_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The bank's id at the controller (a controller may run several banks)."},
    )
    default_zone = fields.String(
        load_default="warm",
        validate=validate.OneOf(ZONES),
        metadata={"description": "Temperature zone for an order that does not say: ambient, warm or chilled."},
    )
    default_size = fields.String(
        load_default="M",
        validate=validate.OneOf(SIZES),
        metadata={"description": "Compartment size for an order that does not say: S, M or L."},
    )
    dropoff_minutes = fields.Integer(
        load_default=30,
        validate=validate.Range(min=5, max=240),
        metadata={"description": "How long the rider's drop-off code holds the compartment."},
    )
