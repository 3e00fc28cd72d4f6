"""Reading what a controller pushes to its listening host: the token in the URL, the
multipart body with its ``event_log`` part, the plain JSON body, other event types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from last100_hikvision.errors import PushAuthError, PushFormatError
from last100_hikvision.push import read_push

TOKEN = "hikvision-example-push-token-01"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MULTIPART = {"content-type": "multipart/form-data; boundary=MIME_boundary"}
JSON = {"content-type": "application/json; charset=UTF-8"}


def read(body: bytes, headers=None, query=None, token: str = TOKEN):
    return read_push(token, {"token": TOKEN} if query is None else query, headers or JSON, body, SHANGHAI)


def test_a_multipart_push_is_read_from_its_event_log_part_past_the_picture(fixture_bytes) -> None:
    [message] = read(fixture_bytes("push_multipart.bin"), MULTIPART)

    event = message.event
    assert message.event_type == "AccessControllerEvent"
    assert (event.serial_no, event.card_no, event.minor) == (4435, "7128676793", 1)
    assert event.occurred_at == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert (event.door_no, event.direction, event.passed) == (1, "in", True)  # door 1 from reader 1


def test_a_plain_json_push_is_read(fixture_bytes) -> None:
    [message] = read(fixture_bytes("push_event.json"))

    assert message.event.serial_no == 4435


def test_a_json_body_without_a_content_type_is_read(fixture_bytes) -> None:
    [message] = read(fixture_bytes("push_event.json"), {})

    assert message.event.card_no == "7128676793"


def test_an_event_wrapped_in_event_notification_alert_is_read(fixture_json) -> None:
    body = json.dumps({"EventNotificationAlert": fixture_json("push_event.json")}).encode()

    [message] = read(body)

    assert message.event.serial_no == 4435


def test_a_refused_card_is_read_as_an_event_that_did_not_pass(fixture_bytes) -> None:
    [message] = read(fixture_bytes("push_denied.json"))

    assert message.event.minor == 8 and not message.event.passed


def test_a_heartbeat_is_a_message_without_a_door_event(fixture_bytes) -> None:
    [message] = read(fixture_bytes("push_heartbeat.json"))

    assert (message.event_type, message.event) == ("heartBeat", None)


@pytest.mark.parametrize(
    ("query", "token"),
    [({}, TOKEN), ({"token": ""}, TOKEN), ({"token": TOKEN[:-1] + "2"}, TOKEN), ({"token": TOKEN}, "")],
    ids=["no token", "empty token", "wrong token", "no push_token configured"],
)
def test_a_push_without_the_right_token_is_refused_before_it_is_read(query, token) -> None:
    with pytest.raises(PushAuthError):
        read(b"not even json", query=query, token=token)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"<EventNotificationAlert/>", JSON),
        (b'{"dateTime": "2026-01-05T12:00:00+08:00"}', JSON),
        (b'{"eventType": "AccessControllerEvent", "dateTime": "2026-01-05T12:00:00+08:00"}', JSON),
        (
            b'{"eventType": "AccessControllerEvent", "dateTime": "2026-01-05T12:00:00+08:00",'
            b' "AccessControllerEvent": {"majorEventType": 5, "subEventType": 1}}',
            JSON,
        ),
        (
            b'{"eventType": "AccessControllerEvent", "dateTime": "noon",'
            b' "AccessControllerEvent": {"majorEventType": 5, "subEventType": 1, "serialNo": 1}}',
            JSON,
        ),
        (b"--MIME_boundary\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\r\n--MIME_boundary--\r\n", MULTIPART),
        (b"no parts at all", MULTIPART),
    ],
    ids=[
        "xml",
        "no event type",
        "no event object",
        "no serial number",
        "bad time",
        "only a picture",
        "not multipart",
    ],
)
def test_a_push_that_is_no_event_message_is_malformed(body, headers) -> None:
    with pytest.raises(PushFormatError):
        read(body, headers)
