"""Events a controller pushes to its HTTP listening host (ISAPI ``httpHosts``).

A device cannot sign what it sends, so a connection's push URL carries a secret token as
a query parameter (``…/api/v1/push/<connection>?token=<push_token>``), configured as the
listening host's URL on the device and compared here in constant time.

The device posts each event as ``multipart/form-data`` whose JSON part (usually named
``event_log``) holds the event message, followed by picture parts; some firmware posts
the JSON message alone (``application/json``). Both are read. An event message is::

    {"ipAddress": "…", "dateTime": "2026-01-05T12:00:00+08:00",
     "eventType": "AccessControllerEvent", "eventState": "active",
     "AccessControllerEvent": {"majorEventType": 5, "subEventType": 1, "cardNo": "…",
                               "cardReaderNo": 1, "doorNo": 1, "serialNo": 12, …}}
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from last100_hikvision.errors import PushAuthError, PushFormatError
from last100_hikvision.wire import DoorEvent, door_event

#: The ``eventType`` of access control events; devices push others too (heartbeats).
ACCESS_CONTROLLER_EVENT = "AccessControllerEvent"


@dataclass(frozen=True)
class PushedMessage:
    """One event message of a push: its type, and the door event when it is one."""

    event_type: str
    event: DoorEvent | None = None


def check_token(expected: str, query: Mapping[str, str]) -> None:
    """Check the push URL's ``token`` against the connection's ``push_token``.

    :raises PushAuthError: no token configured, none given, or a different one.
    """
    if not expected:
        raise PushAuthError("this connection has no push_token, so it accepts no pushes")
    given = query.get("token", "")
    # Constant time: the token is the only thing standing between the URL and forged
    # door events, so its comparison must not leak how much of a guess was right.
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise PushAuthError("the push URL's token is missing or wrong")


def _json_parts(content_type: str, body: bytes) -> list[bytes]:
    """The JSON parts of a multipart body, in order."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise PushFormatError("the multipart body could not be split into parts")
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        is_json = part.get_content_type() in ("application/json", "text/json")
        if is_json or (part.get_content_maintype() == "text" and payload.lstrip().startswith(b"{")):
            parts.append(payload)
    return parts


def _message(payload: bytes, zone: tzinfo) -> PushedMessage:
    try:
        body: Any = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise PushFormatError("an event part is not JSON") from None
    if isinstance(body, dict) and isinstance(body.get("EventNotificationAlert"), dict):
        body = body["EventNotificationAlert"]  # a wrapping some firmware adds
    if not isinstance(body, dict) or not isinstance(body.get("eventType"), str):
        raise PushFormatError("an event message has no eventType")
    event_type = body["eventType"]
    if event_type != ACCESS_CONTROLLER_EVENT:
        return PushedMessage(event_type)
    record = body.get(ACCESS_CONTROLLER_EVENT)
    if not isinstance(record, dict):
        raise PushFormatError("an AccessControllerEvent message has no AccessControllerEvent object")
    try:
        event = door_event(
            record,
            when=body.get("dateTime"),
            major=record.get("majorEventType"),
            minor=record.get("subEventType"),
            zone=zone,
        )
    except ValueError as exc:
        raise PushFormatError(f"malformed AccessControllerEvent: {exc}") from None
    return PushedMessage(event_type, event)


def read_push(
    expected_token: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes, zone: tzinfo
) -> list[PushedMessage]:
    """Authenticate a push and read its event messages.

    :param expected_token: the connection's ``push_token``.
    :param query: the push URL's query parameters.
    :param headers: the request headers, names in lower case.
    :param body: the raw body.
    :param zone: the device's timezone, for times written without an offset.
    :raises PushAuthError: the token is missing or wrong (checked before anything is read).
    :raises PushFormatError: the body is not an event message.
    """
    check_token(expected_token, query)
    content_type = headers.get("content-type", "")
    if content_type.lower().startswith("multipart/"):
        payloads = _json_parts(content_type, body)
        if not payloads:
            raise PushFormatError("the multipart push has no JSON event part")
    else:
        payloads = [body]
    return [_message(p, zone) for p in payloads]
