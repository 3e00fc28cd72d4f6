"""The settings of one RiderPass connection (one platform account at one hub).

Every value loads as plain JSON (strings, numbers, lists of strings), because the hub
stores settings as JSON and encrypts the secret ones; keys are parsed from these strings
when a connection is first used.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import marshmallow
from marshmallow import fields, validate

from last100_riderpass.entrycodes import DEFAULT_LEEWAY_S, load_public_key
from last100_riderpass.signing import decode_signing_secret
from last100_riderpass.webhooks import decode_push_secret

# Plain http only reaches a platform on this machine (the simulator): elsewhere rider
# credentials and personal data would cross the network in clear text.
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _https_unless_loopback(value: str) -> None:
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise marshmallow.ValidationError("must not have a query or fragment")
    if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
        raise marshmallow.ValidationError("must use https (plain http is allowed for localhost only)")


def _checked_by(decode: Any, what: str) -> Any:
    """A validator that runs a decoder and reports its complaint without the value,
    which may be a secret."""

    def check(value: str) -> None:
        try:
            decode(value)
        except ValueError as exc:
            raise marshmallow.ValidationError(f"not a valid {what}: {exc}") from None

    return check


class StringList(fields.List):
    """A list of strings that also takes one string (a form field with one value)."""

    def __init__(self, check: Any, **kwargs: Any) -> None:
        super().__init__(fields.String(validate=check), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, str):
            value = [value]
        return super()._deserialize(value, attr, data, **kwargs)


class RiderPassSettings(marshmallow.Schema):
    """One RiderPass connection's settings."""

    base_url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=_https_unless_loopback,
        metadata={"description": "Where the platform serves the protocol; /v1/... is appended."},
    )
    key_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"secret": False, "description": "The hub's key id at the platform (RiderPass-Key-Id)."},
    )
    signing_secret = fields.String(
        required=True,
        validate=_checked_by(decode_signing_secret, "signing secret (base64 of at least 32 bytes)"),
        metadata={"secret": True, "description": "HMAC secret for the hub's requests, base64."},
    )
    push_secrets = StringList(
        _checked_by(decode_push_secret, "push secret (whsec_ and base64 of 24 to 64 bytes)"),
        load_default=list,
        metadata={
            "secret": True,
            "description": "Standard Webhooks secrets of the platform's pushes; several while it rotates.",
        },
    )
    entry_code_keys = StringList(
        _checked_by(load_public_key, "Ed25519 public key (PEM, or base64 of the 32 raw bytes)"),
        load_default=list,
        metadata={
            "secret": False,
            "description": "The platform's Ed25519 public keys for entry codes; several while it rotates.",
        },
    )
    entry_code_leeway_s = fields.Integer(
        load_default=DEFAULT_LEEWAY_S,
        validate=validate.Range(min=0, max=120),
        metadata={"description": "Clock skew allowed on an entry code's exp and iat, in seconds."},
    )
    connect_timeout_s = fields.Float(
        load_default=1.0,
        validate=validate.Range(min=0.05, max=30),
        metadata={"description": "Longest wait for a TCP/TLS connection (capped by the connection's timeout)."},
    )
    max_cache_seconds = fields.Integer(
        load_default=300,
        validate=validate.Range(min=0, max=3600),
        metadata={"description": "Cap on how long the hub reuses a verification, whatever the platform allows."},
    )
