"""The settings of one Hikvision connection (one access controller).

Every value loads as plain JSON (strings, numbers, booleans), because the hub stores
settings as JSON and encrypts the secret ones.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import marshmallow
from marshmallow import fields, validate

from last100_hikvision.auth import MODES
from last100_hikvision.cards import MAX_CARD_LENGTH, MIN_CARD_LENGTH
from last100_hikvision.client import DEFAULT_TIMEZONE

#: Shortest card_secret and push_token accepted: both must resist guessing.
MIN_SECRET_LENGTH = 16


def _no_query(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise marshmallow.ValidationError("must not have a query or fragment")


def _known_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise marshmallow.ValidationError("not an IANA timezone name, e.g. Asia/Shanghai") from None


def _empty_or_long(value: str) -> None:
    if value and len(value) < MIN_SECRET_LENGTH:
        raise marshmallow.ValidationError(f"must be empty (no pushes) or at least {MIN_SECRET_LENGTH} characters")


class HikvisionSettings(marshmallow.Schema):
    """One Hikvision access controller's settings."""

    base_url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_no_query,
        metadata={"description": "The device, e.g. https://10.0.0.12; /ISAPI/... is appended."},
    )
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=32),
        metadata={"secret": False, "description": "A device account allowed to manage users and doors."},
    )
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"secret": True, "description": "That account's password."},
    )
    verify_tls = fields.Boolean(
        load_default=True,
        metadata={"description": "Check the device's HTTPS certificate (false only for a self-signed one)."},
    )
    auth = fields.String(
        load_default="auto",
        validate=validate.OneOf(MODES),
        metadata={"description": "digest, basic, or auto: Digest, and Basic when the device offers only that."},
    )
    timezone = fields.String(
        load_default=DEFAULT_TIMEZONE,
        validate=_known_timezone,
        metadata={"description": "The device's timezone: pass windows are written in its wall time."},
    )
    card_secret = fields.String(
        required=True,
        validate=validate.Length(min=MIN_SECRET_LENGTH),
        metadata={"secret": True, "description": "Key of the HMAC that turns a grant id into its card number."},
    )
    push_token = fields.String(
        load_default="",
        validate=_empty_or_long,
        metadata={
            "secret": True,
            "description": "The token the device's listening-host URL carries (?token=...); empty: no pushes.",
        },
    )
    card_number_length = fields.Integer(
        load_default=10,
        validate=validate.Range(min=MIN_CARD_LENGTH, max=MAX_CARD_LENGTH),
        metadata={"description": "Digits of a pass's card number, as the device's readers take them."},
    )
    max_results = fields.Integer(
        load_default=30,
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "Events asked for per page of an event search (the device may cap it)."},
    )
