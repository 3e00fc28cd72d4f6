"""HMAC signing of the hub's requests to a platform (RiderPass protocol, version 1).

The hub signs every request with a secret it shares with the platform::

    RiderPass-Key-Id:    <key id>
    RiderPass-Timestamp: <unix seconds>
    RiderPass-Signature: v1,<base64 HMAC-SHA256(secret, canonical request)>

The canonical request is four lines joined by ``\\n`` (no trailing newline)::

    <timestamp>
    <METHOD, upper case>
    <path and query exactly as sent on the request line, e.g. /riderpass/v1/orders/A%2F1>
    <lower-case hex SHA-256 of the body bytes (of b"" when there is no body)>

The platform recomputes it from the request it received and accepts the request when the
signature matches the secret of that key id and the timestamp is within five minutes of
its clock. A rotation adds a second key id at the platform, switches the hub to it, then
removes the first: each key id has exactly one secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

import requests

from last100_riderpass.errors import RequestSignatureError

KEY_ID_HEADER = "RiderPass-Key-Id"
TIMESTAMP_HEADER = "RiderPass-Timestamp"
SIGNATURE_HEADER = "RiderPass-Signature"

#: How far a request's timestamp may be from the platform's clock, either way.
TOLERANCE_S = 300

#: Shortest signing secret the protocol accepts: 256 bits, the HMAC-SHA256 block output.
MIN_SECRET_BYTES = 32


def decode_signing_secret(text: str) -> bytes:
    """The HMAC key of a signing secret exchanged as standard base64.

    :raises ValueError: not base64, or shorter than 32 bytes.
    """
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"must decode to at least {MIN_SECRET_BYTES} bytes, got {len(key)}")
    return key


def canonical_request(timestamp: int, method: str, path_and_query: str, body: bytes) -> bytes:
    """The bytes a request signature covers (see the module docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{method.upper()}\n{path_and_query}\n{digest}".encode()


def sign_request(secret: bytes, timestamp: int, method: str, path_and_query: str, body: bytes) -> str:
    """The ``RiderPass-Signature`` value for a request: ``v1,<base64 HMAC-SHA256>``."""
    mac = hmac.new(secret, canonical_request(timestamp, method, path_and_query, body), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def verify_request(
    secrets: Mapping[str, bytes],
    headers: Mapping[str, str],
    method: str,
    path_and_query: str,
    body: bytes,
    now: float,
) -> str:
    """Check a hub's request signature, as a platform does.

    :param secrets: the HMAC key of every key id the platform accepts.
    :param headers: the request's headers (any case).
    :param path_and_query: the request target exactly as received on the request line.
    :param now: the platform's clock, in unix seconds.
    :return: the key id that signed the request.
    :raises RequestSignatureError: with the problem code to answer 401 with.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    key_id = lower.get(KEY_ID_HEADER.lower(), "")
    stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
    signature = lower.get(SIGNATURE_HEADER.lower(), "")
    if not (key_id and stamp and signature):
        raise RequestSignatureError("signature_missing", "the request is not signed")
    secret = secrets.get(key_id)
    if secret is None:
        raise RequestSignatureError("key_unknown", f"unknown key id {key_id!r}")
    if not (stamp.isascii() and stamp.isdigit()) or abs(now - int(stamp)) > TOLERANCE_S:
        raise RequestSignatureError("timestamp_out_of_range", "the request timestamp is more than 5 minutes off")
    expected = sign_request(secret, int(stamp), method, path_and_query, body).encode()
    # Bytes, not text: compare_digest raises TypeError on non-ASCII text, which no
    # signature is but any header can be.
    candidates = (candidate.encode("utf-8", "replace") for candidate in signature.split())
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise RequestSignatureError("signature_invalid", "the request signature does not match")
    return key_id


class RequestSigner(requests.auth.AuthBase):
    """A ``requests`` auth hook that signs each prepared request as it will be sent
    (final URL, final body), so the signature cannot drift from what goes on the wire.

    :param key_id: the hub's key id at the platform.
    :param secret: the HMAC key (see :func:`decode_signing_secret`).
    :param now: the clock, in unix seconds (tests pass a fixed one).
    """

    def __init__(self, key_id: str, secret: bytes, now: Callable[[], float] = time.time) -> None:
        self._key_id = key_id
        self._secret = secret
        self._now = now

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        timestamp = int(self._now())
        request.headers[KEY_ID_HEADER] = self._key_id
        request.headers[TIMESTAMP_HEADER] = str(timestamp)
        request.headers[SIGNATURE_HEADER] = sign_request(
            self._secret, timestamp, request.method or "GET", request.path_url, body
        )
        return request
