"""Meituan Open Platform signatures, for requests and for callbacks.

Every request to Meituan and every callback from it carries the system parameters
``app_id``, ``timestamp`` (Unix seconds) and ``sig``::

    sig = md5(url + "?" + "k1=v1&k2=v2..." + app_secret)   # lower-case hex

``url`` is the request URL without its query string; the parameters are all query and
form parameters except ``sig`` and those with an empty value, sorted by name and joined
with ``&``. Values enter the signed string as they are (Chinese stays Chinese, a space
stays a space): they are URL-encoded on the wire only.

This module is pure: no HTTP, no hub. The client signs with it, the simulator and the
plugin verify with it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

SIGNATURE_PARAM = "sig"


def url_without_query(url: str) -> str:
    """``url`` without its query string and fragment: the part Meituan signs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def query_params(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (they are signed like any other parameter)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def canonical_string(url: str, params: Mapping[str, Any]) -> str:
    """The string whose MD5 (after the secret is appended) is the signature.

    >>> canonical_string("https://x.test/api/v1/a", {"b": "2", "a": "1", "sig": "s", "c": ""})
    'https://x.test/api/v1/a?a=1&b=2'
    """
    pairs = sorted(
        (str(key), str(value))
        for key, value in params.items()
        if key != SIGNATURE_PARAM and value is not None and str(value) != ""
    )
    return f"{url_without_query(url)}?" + "&".join(f"{key}={value}" for key, value in pairs)


def sign(url: str, params: Mapping[str, Any], app_secret: str) -> str:
    """The ``sig`` for a request to (or a callback at) ``url`` with ``params``."""
    signed = canonical_string(url, params) + app_secret
    return hashlib.md5(signed.encode("utf-8")).hexdigest()


def signature_matches(url: str, params: Mapping[str, Any], app_secret: str) -> bool:
    """Whether ``params["sig"]`` is the right signature, compared in constant time so
    the time taken reveals nothing about how much of a forged signature was right."""
    given = str(params.get(SIGNATURE_PARAM) or "")
    expected = sign(url, params, app_secret)
    return hmac.compare_digest(given.lower().encode(), expected.encode())


# ---------------------------------------------------------------------------
# Callbacks (pushes from Meituan)
# ---------------------------------------------------------------------------


class CallbackError(Exception):
    """A callback did not pass verification."""


class CallbackForged(CallbackError):
    """Not signed with our secret, for another app, or too old / too far in the future."""


class CallbackMalformed(CallbackError):
    """Signed, but not a callback this adapter can read."""


@dataclass(frozen=True)
class VerifiedCallback:
    """A callback whose signature, app and timestamp were checked. ``params`` are every
    query and form parameter except ``sig``."""

    params: Mapping[str, str]
    timestamp: int


def verify_callback(
    url: str,
    params: Mapping[str, str],
    *,
    app_id: str,
    app_secret: str,
    now: float,
    tolerance_s: float,
) -> VerifiedCallback:
    """Check a callback's signature over ``url`` and ``params``, its ``app_id``, and that
    its ``timestamp`` is within ``tolerance_s`` of ``now`` in either direction (a replayed
    old callback and one stamped far ahead are both refused).

    The signature is checked first, so a sender without the secret learns nothing from
    the answer about which other check it would have failed.

    :raises CallbackForged: missing or wrong signature, another app, stale or future.
    :raises CallbackMalformed: signed correctly but the timestamp is not a number.
    """
    if not params.get(SIGNATURE_PARAM):
        raise CallbackForged("the callback carries no sig")
    if not signature_matches(url, params, app_secret):
        raise CallbackForged("the callback's sig does not match")
    if params.get("app_id") != app_id:
        raise CallbackForged("the callback is addressed to another app_id")
    raw_timestamp = params.get("timestamp", "")
    try:
        timestamp = int(raw_timestamp)
    except (TypeError, ValueError):
        raise CallbackMalformed("the callback's timestamp is not a Unix time in seconds") from None
    skew = now - timestamp
    if abs(skew) > tolerance_s:
        direction = "old" if skew > 0 else "far in the future"
        raise CallbackForged(f"the callback's timestamp is {abs(skew):.0f} s {direction} (tolerance {tolerance_s:g} s)")
    return VerifiedCallback({k: v for k, v in params.items() if k != SIGNATURE_PARAM}, timestamp)
