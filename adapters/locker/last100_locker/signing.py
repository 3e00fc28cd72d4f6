"""HMAC-SHA256 signing of the hub's requests to a locker bank controller (Locker Bank
Protocol, version 1).

Every request carries three headers::

    X-Locker-Key-Id:    <key id>
    X-Locker-Timestamp: <unix seconds>
    X-Locker-Signature: <lower-case hex HMAC-SHA256(secret, string to sign)>

The string to sign is four lines joined by ``\\n`` (no trailing newline)::

    <timestamp>
    <METHOD, upper case>
    <path and query exactly as sent on the request line, e.g. /locker/v1/banks/north/compartments>
    <lower-case hex SHA-256 of the body bytes (of b"" when there is no body)>

The key is the shared secret's UTF-8 bytes. The controller recomputes the string from
the request it received and accepts the request when the signature matches the secret
of that key id and the timestamp is within five minutes of its clock, either way.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

import requests

from last100_locker.errors import RequestSignatureError

KEY_ID_HEADER = "X-Locker-Key-Id"
TIMESTAMP_HEADER = "X-Locker-Timestamp"
SIGNATURE_HEADER = "X-Locker-Signature"

#: How far a request's timestamp may be from the controller's clock, either way.
TOLERANCE_S = 300


def string_to_sign(timestamp: int, method: str, path_and_query: str, body: bytes) -> bytes:
    """The bytes a request signature covers (see the module docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{timestamp}\n{method.upper()}\n{path_and_query}\n{digest}".encode()


def sign_request(secret: bytes, timestamp: int, method: str, path_and_query: str, body: bytes) -> str:
    """The ``X-Locker-Signature`` value of a request."""
    return hmac.new(secret, string_to_sign(timestamp, method, path_and_query, body), hashlib.sha256).hexdigest()


def verify_request(
    secrets: Mapping[str, bytes],
    headers: Mapping[str, str],
    method: str,
    path_and_query: str,
    body: bytes,
    now: float,
) -> str:
    """Check a request's signature, as a controller does.

    :param secrets: the key of every key id the controller accepts.
    :param headers: the request's headers (any case).
    :param path_and_query: the request target exactly as received on the request line.
    :param now: the controller's clock, in unix seconds.
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
    expected = sign_request(secret, int(stamp), method, path_and_query, body)
    # Bytes, not text: compare_digest raises TypeError on non-ASCII text, which no
    # signature is but any header can be.
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode("utf-8", "replace")):
        raise RequestSignatureError("signature_invalid", "the request signature does not match")
    return key_id


class RequestSigner(requests.auth.AuthBase):
    """A ``requests`` auth hook that signs each prepared request as it will be sent
    (final path, final body), so the signature cannot drift from what goes on the wire.

    :param key_id: the hub's key id at the controller.
    :param secret: the shared secret's bytes.
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
