"""Ele.me's push messages: authenticate them and read them, without the hub.

Ele.me POSTs each message to the app's callback URL as a JSON object (public docs)::

    {"requestId": "100007375110081178", "type": 55, "appId": 65929831,
     "message": "{\\"orderId\\":\\"1213078763526670502\\",\\"state\\":\\"delivering\\",...}",
     "shopId": 152182777, "timestamp": 1509495770350, "userId": 283166468180069210,
     "signature": "A07AD61808CA7C160D5BD44C44DA559B"}

``timestamp`` is in milliseconds, ``message`` is a JSON document in a string, and the
receiver answers ``{"message": "ok"}``. See :mod:`last100_eleme.signing` for the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from last100_eleme.signing import push_sign_base, push_signature

#: Order-status messages (``message``: ``orderId``, ``state`` as an order status,
#: ``updateTime`` in seconds): accepted, cancelled, invalidated, force-invalidated, finished.
ORDER_STATUS_TYPES = frozenset({12, 14, 15, 17, 18})

#: Delivery-state messages (``message``: ``orderId``, ``state`` as a delivery state,
#: ``subState``, ``updateAt`` in milliseconds).
DELIVERY_STATE_TYPES = frozenset(range(51, 77))

#: The acknowledgement Ele.me expects for an accepted message.
ACK = {"message": "ok"}


class PushError(Exception):
    """A push message that must be refused."""


class PushFormatError(PushError):
    """The message is malformed (answer 400)."""


class PushAuthError(PushError):
    """The message is forged, for another app, or outside the time tolerance (answer 401)."""


@dataclass(frozen=True)
class PushMessage:
    """An authenticated push message.

    :ivar event_id: stable for the same message: its ``requestId``, or when it has none a
        SHA-256 of its signed fields.
    :ivar type: Ele.me's message type.
    :ivar sent_at_ms: the message's ``timestamp`` (unix milliseconds).
    :ivar message: the decoded ``message`` document.
    """

    event_id: str
    type: int
    sent_at_ms: int
    message: dict[str, Any]


def _int(fields: dict[str, Any], key: str) -> int:
    value = fields.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # isdigit() is also true of "²" and other digits int() does not read.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise PushFormatError(f"the push's {key!r} is missing or not an integer")


def verify_push(body: bytes, *, secret: str, app_id: str, now_ms: int, tolerance_s: float) -> PushMessage:
    """Authenticate and decode one push message.

    :param body: the raw request body.
    :param secret: the app's secret.
    :param app_id: the app's numeric id as text; a message for another app is refused.
    :param now_ms: when the message arrived, unix milliseconds.
    :param tolerance_s: how far the message's timestamp may be from ``now_ms``, either way.
    :raises PushAuthError: no or a wrong signature, another app, too old or too far ahead.
    :raises PushFormatError: not a push message.
    """
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise PushFormatError("the push is not JSON") from None
    if not isinstance(fields, dict):
        raise PushFormatError("the push is not a JSON object")
    given = fields.get("signature")
    if not isinstance(given, str) or not given:
        raise PushAuthError("the push carries no signature")
    try:
        expected = push_signature(fields, secret)
    except ValueError as exc:
        raise PushFormatError(str(exc)) from None
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")):
        raise PushAuthError("the push's signature does not match the secret")
    if str(fields.get("appId")) != app_id:
        raise PushAuthError(f"the push is addressed to app {fields.get('appId')!r}, not this connection's app_id")
    sent_at_ms = _int(fields, "timestamp")
    # Whole milliseconds and seconds: a timestamp of any size compares (a float overflows).
    skew_ms = now_ms - sent_at_ms
    if skew_ms > tolerance_s * 1000:
        raise PushAuthError(f"the push was sent {skew_ms // 1000} s ago, more than the {tolerance_s:g} s tolerance")
    if -skew_ms > tolerance_s * 1000:
        raise PushAuthError(f"the push is dated {-skew_ms // 1000} s ahead, more than the {tolerance_s:g} s tolerance")
    type_ = _int(fields, "type")
    raw_message = fields.get("message")
    try:
        message = json.loads(raw_message) if isinstance(raw_message, str) else None
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict):
        raise PushFormatError("the push's 'message' is not a JSON object in a string")
    request_id = fields.get("requestId")
    if isinstance(request_id, str | int) and not isinstance(request_id, bool) and str(request_id):
        event_id = str(request_id)
    else:
        # Without a message id, the same message must still get the same id: hash what
        # is signed (not the raw bytes, whose whitespace a resend may change).
        event_id = "sha256:" + hashlib.sha256(push_sign_base(fields, "").encode("utf-8")).hexdigest()
    return PushMessage(event_id=event_id, type=type_, sent_at_ms=sent_at_ms, message=message)


def sign_push(fields: dict[str, Any], secret: str) -> dict[str, Any]:
    """``fields`` with their ``signature`` added (for senders: the simulator, tests)."""
    return {**fields, "signature": push_signature(fields, secret)}
