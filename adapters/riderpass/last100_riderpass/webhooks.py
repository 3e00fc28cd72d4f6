"""Verifying and reading a platform's pushes, which follow the Standard Webhooks
specification (https://www.standardwebhooks.com).

Headers::

    webhook-id:        msg_... (unique per event; the hub drops repeats)
    webhook-timestamp: unix seconds
    webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")> [...]

The signature header may list several space-separated signatures (a platform rotating
its secret signs with both), and the hub may hold several secrets (the hub's side of the
same rotation): a push is authentic when any ``v1`` signature matches any secret. Entries
of other versions (``v1a``, asymmetric) are skipped. The timestamp must be within five
minutes of when the push arrived, either way.

Why not the official ``standardwebhooks`` package here (the simulator and the tests use
it to sign): it compares timestamps with the wall clock rather than with when the push
arrived, and a malformed signature entry makes it raise ``ValueError`` instead of a
verification error.

The body is ``{"type": ..., "timestamp": ..., "data": {...}}``, the payload structure
the specification recommends; the event types are ``order.status_changed``,
``rider.suspended`` and ``rider.reinstated``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from last100_riderpass.errors import PushFormatError, PushVerificationError
from last100_riderpass.wire import OrderRecord, read_order, require_object, require_str, require_time

#: How far a push's timestamp may be from its arrival, either way.
TOLERANCE_S = 300

SECRET_PREFIX = "whsec_"

ORDER_STATUS_CHANGED = "order.status_changed"
RIDER_SUSPENDED = "rider.suspended"
RIDER_REINSTATED = "rider.reinstated"


def decode_push_secret(text: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 of 24 to 64 random bytes,
    usually prefixed ``whsec_``.

    :raises ValueError: not base64, or of the wrong length.
    """
    text = text.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64 after the whsec_ prefix") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"must decode to 24 to 64 bytes, got {len(key)}")
    return key


@dataclass(frozen=True)
class OrderStatusChanged:
    order: OrderRecord


@dataclass(frozen=True)
class RiderStatusChanged:
    rider_ref: str
    status: str  # "suspended" or "active"


@dataclass(frozen=True)
class Push:
    """A verified push.

    :ivar event: what happened, or ``None`` for an event type this version does not know
        (acknowledged and ignored, so platforms can add types without breaking hubs).
    """

    id: str
    type: str
    occurred_at: datetime
    event: OrderStatusChanged | RiderStatusChanged | None


def verify_signature(secrets: Sequence[bytes], headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Check a push's Standard Webhooks signature and timestamp.

    :param secrets: the HMAC keys the push may be signed with.
    :param headers: the push's headers (any case).
    :param now: when the push arrived.
    :return: the ``webhook-id``.
    :raises PushVerificationError: a header is missing or malformed, the timestamp is
        out of tolerance, or no signature matches.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise PushVerificationError("webhook-id, webhook-timestamp and webhook-signature are required")
    if not (stamp.isascii() and stamp.isdigit()):
        raise PushVerificationError("webhook-timestamp must be unix seconds")
    offset = int(stamp) - now.timestamp()
    if offset < -TOLERANCE_S:
        raise PushVerificationError("the push is more than 5 minutes old")
    if offset > TOLERANCE_S:
        raise PushVerificationError("the push is dated more than 5 minutes ahead")
    if not secrets:
        raise PushVerificationError("no push secret is configured")
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = [hmac.new(secret, signed, hashlib.sha256).digest() for secret in secrets]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # The last base64 character of a digest has unused bits that decoding ignores;
        # only the one spelling the specification's signers produce is a signature.
        if base64.b64encode(given).decode("ascii") != encoded:
            continue
        if any(hmac.compare_digest(given, digest) for digest in expected):
            return msg_id
    raise PushVerificationError("no signature matches a push secret")


def read_push(secrets: Sequence[bytes], headers: Mapping[str, str], body: bytes, now: datetime) -> Push:
    """Verify a push, then read its body.

    :raises PushVerificationError: not authentic or not fresh (answer 401).
    :raises PushFormatError: authentic but not a RiderPass event (answer 400).
    """
    msg_id = verify_signature(secrets, headers, body, now)
    try:
        payload = require_object(json.loads(body), "push body")
        kind = require_str(payload, "type")
        occurred_at = require_time(payload, "timestamp")
        data = require_object(payload.get("data"), "data")
        event: OrderStatusChanged | RiderStatusChanged | None = None
        if kind == ORDER_STATUS_CHANGED:
            event = OrderStatusChanged(read_order(data.get("order")))
        elif kind in (RIDER_SUSPENDED, RIDER_REINSTATED):
            status = "suspended" if kind == RIDER_SUSPENDED else "active"
            event = RiderStatusChanged(require_str(data, "rider_ref"), status)
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PushFormatError(f"malformed push: {exc}") from None
    except RecursionError:  # JSON nested deeper than the parser's stack
        raise PushFormatError("malformed push: nested too deeply") from None
    return Push(id=msg_id, type=kind, occurred_at=occurred_at, event=event)
