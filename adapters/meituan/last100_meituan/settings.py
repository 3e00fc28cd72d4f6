"""A Meituan connection's settings: the marshmallow schema the hub validates and shows
in the console, and the typed values the plugin works with.

The ``path_*``, ``param_*``, ``field_*`` and ``codes_*`` settings describe partner
endpoints that are not public; their defaults are what this package's simulator serves.
Set them to what your agreement with Meituan says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import marshmallow
from marshmallow import fields, validate

from last100_meituan.client import DEFAULT_BASE_URL, Endpoints, FieldNames

_DEFAULT_PATHS = Endpoints()
_DEFAULT_NAMES = FieldNames()

_PATH = validate.Regexp(r"^/\S*$", error="A path starts with '/' and has no spaces.")
_OPTIONAL_PATH = validate.Regexp(r"^(/\S*)?$", error="A path starts with '/' and has no spaces (or leave it empty).")
_NAME = validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$", error="A field name is letters, digits and '_'.")


def _optional_url(value: str) -> None:
    if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc):
        raise marshmallow.ValidationError("An http(s) URL, or leave it empty.")


def _path(default: str, what: str, *, public: bool, optional: bool = False) -> fields.String:
    origin = "public API" if public else "partner endpoint (not public)"
    return fields.String(
        load_default=default,
        validate=_OPTIONAL_PATH if optional else _PATH,
        metadata={"description": f"Path of the {what} ({origin})."},
    )


def _name(default: str, what: str) -> fields.String:
    return fields.String(
        load_default=default,
        validate=_NAME,
        metadata={"description": f"Partner field name: {what}."},
    )


class MeituanSettingsSchema(marshmallow.Schema):
    """Settings of one Meituan connection (one Meituan app)."""

    app_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The app's app_id at the Meituan Open Platform.", "secret": False},
    )
    app_secret = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The app's secret; signs every request and callback.", "secret": True},
    )
    base_url = fields.Url(
        load_default=DEFAULT_BASE_URL,
        require_tld=False,
        schemes={"http", "https"},
        metadata={"description": "Where the Meituan API lives."},
    )
    connect_timeout_s = fields.Float(
        load_default=2.0,
        validate=validate.Range(min=0.05, max=30),
        metadata={
            "description": "Seconds to wait for a connection; answers are waited for up to the connection's timeout."
        },
    )
    cache_seconds = fields.Integer(
        load_default=300,
        validate=validate.Range(min=0, max=86400),
        metadata={"description": "How long the hub may reuse a verified rider (0: ask every time)."},
    )
    push_tolerance_s = fields.Integer(
        load_default=300,
        validate=validate.Range(min=1, max=3600),
        metadata={"description": "Callbacks whose timestamp is further than this from now, either way, are refused."},
    )
    push_url = fields.String(
        load_default="",
        validate=_optional_url,
        metadata={
            "description": "The callback URL exactly as registered at Meituan, when a proxy in front "
            "of the hub changes it (callbacks are signed over it). Empty: the URL the push arrived at."
        },
    )

    path_ping = _path(_DEFAULT_PATHS.ping, "cheap signed call used to test the connection", public=True)
    path_order_detail = _path(_DEFAULT_PATHS.order_detail, "order detail query", public=True)
    path_logistics_status = _path(
        _DEFAULT_PATHS.logistics_status, "delivery status query; empty skips it", public=True, optional=True
    )
    path_rider_verify = _path(_DEFAULT_PATHS.rider_verify, "rider verification", public=False)
    path_rider_orders = _path(_DEFAULT_PATHS.rider_orders, "rider's orders into a community", public=False)
    path_community_profile = _path(_DEFAULT_PATHS.community_profile, "community profile publishing", public=False)
    path_rider_notice = _path(_DEFAULT_PATHS.rider_notice, "rider notice", public=False)

    param_credential = _name(_DEFAULT_NAMES.credential, "the rider's credential in a request")
    param_credential_type = _name(_DEFAULT_NAMES.credential_type, "the credential's kind ('token' or 'code')")
    field_rider_ref = _name(_DEFAULT_NAMES.rider_ref, "the rider's id")
    field_rider_name = _name(_DEFAULT_NAMES.rider_name, "the rider's name")
    field_rider_phone = _name(_DEFAULT_NAMES.rider_phone, "the rider's phone (a privacy number)")
    field_rider_status = _name(_DEFAULT_NAMES.rider_status, "the rider's status (1 active, 2 suspended)")
    field_community_ref = _name(_DEFAULT_NAMES.community_ref, "the community's id at Meituan")
    field_building = _name(_DEFAULT_NAMES.building, "the building of the delivery address")

    codes_credential_rejected = fields.List(
        fields.Integer(),
        load_default=lambda: [4001],
        metadata={"description": "Partner error codes meaning the rider's credential is invalid or expired."},
    )
    codes_order_not_found = fields.List(
        fields.Integer(),
        load_default=lambda: [4004],
        metadata={"description": "Error codes meaning the order is not known to this app."},
    )


@dataclass(frozen=True)
class MeituanSettings:
    """A connection's settings, loaded and typed."""

    app_id: str
    app_secret: str
    base_url: str
    connect_timeout_s: float
    cache_seconds: int
    push_tolerance_s: int
    push_url: str
    endpoints: Endpoints
    field_names: FieldNames
    codes_credential_rejected: frozenset[int]
    codes_order_not_found: frozenset[int]

    def __repr__(self) -> str:  # never show the secret
        return f"MeituanSettings(app_id={self.app_id!r}, base_url={self.base_url!r})"

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> MeituanSettings:
        """Type the values :class:`MeituanSettingsSchema` loaded (see
        :func:`hub.core.clients.load_settings`)."""
        return cls(
            app_id=values["app_id"],
            app_secret=values["app_secret"],
            base_url=values["base_url"],
            connect_timeout_s=values["connect_timeout_s"],
            cache_seconds=values["cache_seconds"],
            push_tolerance_s=values["push_tolerance_s"],
            push_url=values["push_url"],
            endpoints=Endpoints(
                ping=values["path_ping"],
                order_detail=values["path_order_detail"],
                logistics_status=values["path_logistics_status"],
                rider_verify=values["path_rider_verify"],
                rider_orders=values["path_rider_orders"],
                community_profile=values["path_community_profile"],
                rider_notice=values["path_rider_notice"],
            ),
            field_names=FieldNames(
                credential=values["param_credential"],
                credential_type=values["param_credential_type"],
                rider_ref=values["field_rider_ref"],
                rider_name=values["field_rider_name"],
                rider_phone=values["field_rider_phone"],
                rider_status=values["field_rider_status"],
                community_ref=values["field_community_ref"],
                building=values["field_building"],
            ),
            codes_credential_rejected=frozenset(values["codes_credential_rejected"]),
            codes_order_not_found=frozenset(values["codes_order_not_found"]),
        )
