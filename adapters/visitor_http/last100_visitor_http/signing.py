"""Signing of the hub's requests to a visitor system, and the system's check of it.

Every request carries::

    X-Timestamp: <unix seconds, decimal>
    X-Signature: <lower-case hex HMAC-SHA256(secret, timestamp + "\\n" + body)>

- ``secret`` is the shared secret's UTF-8 bytes, used as given (not base64-decoded).
- ``body`` is the exact bytes of the request body (``b""`` for ``HEAD`` and ``GET``).
  Verify over the bytes received, never over a re-serialisation of the parsed JSON.
- The header names are configurable (``signature_header``, ``timestamp_header``).

The system accepts a request when the signature matches and the timestamp is within five
minutes of its clock, either way. Worked example (``README.md``)::

    secret    visitor-example-secret
    timestamp 1767585600
    body      {"communityCode":"SUNNY-GARDEN",...}
    signature hex HMAC-SHA256 of b"1767585600\\n" + body

This module knows nothing of the hub.
"""

from __future__ import annotations

import hashlib
import hmac

from last100_visitor_http.errors import SignatureError

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
KEY_ID_HEADER = "X-Key-Id"

#: How far a request's timestamp may be from the system's clock, either way.
TOLERANCE_S = 300


def string_to_sign(timestamp: str, body: bytes) -> bytes:
    """The bytes a signature covers: the timestamp, a line feed, the body."""
    return timestamp.encode("ascii") + b"\n" + body


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: lower-case hex HMAC-SHA256."""
    return hmac.new(secret.encode("utf-8"), string_to_sign(timestamp, body), hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, now: float, tolerance_s: int = TOLERANCE_S
) -> None:
    """Check a request's signature and timestamp, as a visitor system does.

    :param timestamp: the timestamp header as received.
    :param signature: the signature header as received (hex, either case).
    :param now: the system's clock, in unix seconds.
    :raises SignatureError: a header is missing, the timestamp is not unix seconds or is
        out of tolerance, or the signature does not match.
    """
    if not (timestamp and signature):
        raise SignatureError("signature_missing", "the request is not signed")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureError("timestamp_invalid", "the timestamp must be unix seconds")
    if abs(now - int(timestamp)) > tolerance_s:
        raise SignatureError("timestamp_out_of_range", "the timestamp is more than 5 minutes off")
    given = signature.strip().lower()
    # compare_digest takes ASCII text only; anything else cannot be a hex signature.
    if not (given.isascii() and hmac.compare_digest(sign(secret, timestamp, body), given)):
        raise SignatureError("signature_invalid", "the signature does not match")
