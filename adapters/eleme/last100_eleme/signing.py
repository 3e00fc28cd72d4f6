"""The two signatures of the Ele.me Open Platform.

**NOP requests** (every API call)::

    signature = MD5(action + token + "k1=" + json(v1) + "k2=" + json(v2) + ... + secret)

upper-case hex, where ``k1, k2, ...`` are the keys of ``metas`` (``app_key``, ``timestamp``)
and ``params`` merged, sorted by key. ``json(v)`` is the value as compact JSON text:

- separators ``,`` and ``:`` with no spaces;
- non-ASCII characters written as themselves in UTF-8, not as ``\\uXXXX`` escapes
  (Chinese text is signed as Chinese text), and ``/`` not escaped;
- strings quoted (``"abc"``), numbers and ``true`` / ``false`` / ``null`` bare;
- objects keep the order of their keys as sent: the request body is serialised from the
  same values, so the platform, re-serialising what it parsed, sees the same order.

This is what Ele.me's PHP SDK does (``ksort`` then ``json_encode`` with
``JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE``). The Java SDK also sorts by key
(``TreeMap``) but escapes ``/`` as ``\\/``: the public SDKs disagree there, and we follow
the PHP SDK. Some third-party clients sort the ``"k=v"`` strings instead of the keys; that
differs only when one key is another key followed by a character below ``=`` (``id`` and
``id2``), and we sort by key as both official SDKs do.

**Push messages** (Ele.me calling us)::

    signature = MD5("k1=" + v1 + "k2=" + v2 + ... + secret)

upper-case hex over every top-level field of the message except ``signature``, sorted by
key, each value as plain text: strings as they are (``message`` is itself a JSON string
and is signed verbatim), integers in decimal, ``null`` as the empty string.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(value: Any) -> str:
    """``value`` as the compact JSON text that NOP signatures and bodies use."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def request_sign_base(action: str, token: str, metas: Mapping[str, Any], params: Mapping[str, Any], secret: str) -> str:
    """The exact text a NOP request signature is the MD5 of.

    A key in both ``params`` and ``metas`` takes the ``metas`` value, as in the Java SDK;
    :class:`~last100_eleme.client.ElemeClient` refuses such params before signing.
    """
    merged = {**params, **metas}
    pairs = "".join(f"{key}={canonical_json(merged[key])}" for key in sorted(merged))
    return f"{action}{token}{pairs}{secret}"


def request_signature(action: str, token: str, metas: Mapping[str, Any], params: Mapping[str, Any], secret: str) -> str:
    """The upper-case MD5 hex signature of a NOP request."""
    return _md5_upper(request_sign_base(action, token, metas, params, secret))


def _push_text(key: str, value: Any) -> str:
    # Only the types Ele.me's push messages carry have a documented rendering; anything
    # else (a float, a nested object) would be signed differently by every SDK.
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"push field {key!r} is a {type(value).__name__}, which Ele.me's push signature does not cover")


def push_sign_base(fields: Mapping[str, Any], secret: str) -> str:
    """The exact text a push message's signature is the MD5 of.

    :raises ValueError: a field has a type the signature has no rendering for.
    """
    pairs = "".join(f"{key}={_push_text(key, fields[key])}" for key in sorted(fields) if key != "signature")
    return f"{pairs}{secret}"


def push_signature(fields: Mapping[str, Any], secret: str) -> str:
    """The upper-case MD5 hex signature of a push message (``signature`` itself is
    ignored if present).

    :raises ValueError: a field has a type the signature has no rendering for.
    """
    return _md5_upper(push_sign_base(fields, secret))


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()
