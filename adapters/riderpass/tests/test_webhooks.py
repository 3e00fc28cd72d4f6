"""Push verification per Standard Webhooks: the worked example, the official library's
signatures, rotation on either side, and every way a push can be forged, stale or
malformed.

The worked example's signature was computed once with openssl::

    printf 'msg_01JGX7Y2T8RIDERPASS.1767585600.<body>' \\
      | openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the secret> -binary | base64
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from last100_riderpass.errors import PushFormatError, PushVerificationError
from last100_riderpass.webhooks import (
    OrderStatusChanged,
    RiderStatusChanged,
    decode_push_secret,
    read_push,
    verify_signature,
)

SECRET_TEXT = "whsec_cmlkZXJwYXNzLWV4YW1wbGUtd2ViaG9vay1rZXktMzI="
SECRET = b"riderpass-example-webhook-key-32"
ROTATED_TEXT = "whsec_cmlkZXJwYXNzLXJvdGF0ZWQtd2ViaG9vay1rZXktMzI="
ROTATED = b"riderpass-rotated-webhook-key-32"
MSG_ID = "msg_01JGX7Y2T8RIDERPASS"
STAMP = "1767585600"
ARRIVED = datetime(2026, 1, 5, 4, 0, 2, tzinfo=UTC)
SIGNATURE = "v1,mncEtLkfMaQYBiRJIg1rZgA6ns8Gw6O3D+KDQ6gfTU0="  # with SECRET
ROTATED_SIGNATURE = "v1,VRfuF72NUol+oGAq5/sLE+aOgDzmHsy7obf10etX5hE="  # with ROTATED


@pytest.fixture
def body(fixture_text) -> bytes:
    return fixture_text("push_order_status_changed.json").encode()


def headers(signature: str = SIGNATURE, stamp: str = STAMP, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": stamp, "webhook-signature": signature}


def sign(secret: bytes, body: bytes, stamp: str = STAMP, msg_id: str = MSG_ID) -> str:
    mac = hmac.new(secret, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_the_worked_example_holds_by_plain_hmac(body) -> None:
    assert sign(SECRET, body) == SIGNATURE
    assert sign(ROTATED, body) == ROTATED_SIGNATURE


def test_push_secrets_decode_with_or_without_the_whsec_prefix() -> None:
    assert decode_push_secret(SECRET_TEXT) == SECRET
    assert decode_push_secret(SECRET_TEXT.removeprefix("whsec_")) == SECRET
    with pytest.raises(ValueError, match="24 to 64 bytes"):
        decode_push_secret("whsec_" + base64.b64encode(b"too short").decode())
    with pytest.raises(ValueError, match="base64"):
        decode_push_secret("whsec_***")


def test_a_valid_push_is_read(body) -> None:
    push = read_push([SECRET], headers(), body, ARRIVED)

    assert push.id == MSG_ID
    assert push.type == "order.status_changed"
    assert push.occurred_at == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert isinstance(push.event, OrderStatusChanged)
    assert (push.event.order.ref, push.event.order.status) == ("DEMO-ORDER-1", "delivered")


def test_header_names_are_case_insensitive(body) -> None:
    upper = {k.upper(): v for k, v in headers().items()}

    assert verify_signature([SECRET], upper, body, ARRIVED) == MSG_ID


def test_a_push_signed_by_the_official_library_verifies(body) -> None:
    sent_at = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    signature = Webhook(SECRET_TEXT).sign(MSG_ID, sent_at, body.decode())

    assert verify_signature([SECRET], headers(signature), body, ARRIVED) == MSG_ID


def test_a_rider_suspension_is_read(fixture_text) -> None:
    body = fixture_text("push_rider_suspended.json").encode()
    stamp = "1767585598"

    push = read_push([SECRET], headers(sign(SECRET, body, stamp), stamp), body, ARRIVED)

    assert push.event == RiderStatusChanged("R1003", "suspended")


def test_a_rider_reinstatement_is_read() -> None:
    body = b'{"type":"rider.reinstated","timestamp":"2026-01-05T04:00:00Z","data":{"rider_ref":"R1003"}}'

    push = read_push([SECRET], headers(sign(SECRET, body)), body, ARRIVED)

    assert push.event == RiderStatusChanged("R1003", "active")


def test_an_unknown_event_type_is_authentic_but_carries_no_event() -> None:
    body = b'{"type":"rider.rated","timestamp":"2026-01-05T04:00:00Z","data":{"stars":5}}'

    push = read_push([SECRET], headers(sign(SECRET, body)), body, ARRIVED)

    assert (push.type, push.event) == ("rider.rated", None)


def test_a_push_signed_with_the_rotated_secret_verifies_while_both_are_held(body) -> None:
    assert verify_signature([SECRET, ROTATED], headers(ROTATED_SIGNATURE), body, ARRIVED) == MSG_ID


def test_one_of_several_signatures_matching_is_enough(body) -> None:
    # The platform signs with its old and new secret while the hub still holds the old one.
    listed = f"v1a,c29tZXRoaW5nIGFzeW1tZXRyaWM= {ROTATED_SIGNATURE} {SIGNATURE}"

    assert verify_signature([SECRET], headers(listed), body, ARRIVED) == MSG_ID


def test_malformed_entries_in_the_signature_list_are_skipped(body) -> None:
    listed = f"v1 v1,%%% nonsense {SIGNATURE}"

    assert verify_signature([SECRET], headers(listed), body, ARRIVED) == MSG_ID


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secrets": [ROTATED]}, "no signature matches"),
        ({"signature": "v1,bmVhcmx5IHJpZ2h0IGJ1dCBub3QgYXQgYWxs"}, "no signature matches"),
        ({"signature": "v2," + SIGNATURE[3:]}, "no signature matches"),
        ({"msg_id": "msg_other"}, "no signature matches"),
        ({"tamper": True}, "no signature matches"),
        ({"secrets": []}, "no push secret"),
    ],
    ids=["wrong secret", "forged", "unknown version", "id changed", "body changed", "no secret held"],
)
def test_a_forged_push_is_refused(body, kwargs, message) -> None:
    secrets = kwargs.get("secrets", [SECRET])
    sent = body.replace(b"delivered", b"arrived") if kwargs.get("tamper") else body
    given = headers(kwargs.get("signature", SIGNATURE), msg_id=kwargs.get("msg_id", MSG_ID))

    with pytest.raises(PushVerificationError, match=message):
        verify_signature(secrets, given, sent, ARRIVED)


@pytest.mark.parametrize(
    ("arrived", "message"),
    [
        (datetime(2026, 1, 5, 4, 5, 1, tzinfo=UTC), "more than 5 minutes old"),
        (datetime(2026, 1, 5, 3, 54, 59, tzinfo=UTC), "more than 5 minutes ahead"),
    ],
    ids=["stale", "from the future"],
)
def test_a_push_outside_the_five_minute_tolerance_is_refused(body, arrived, message) -> None:
    with pytest.raises(PushVerificationError, match=message):
        verify_signature([SECRET], headers(), body, arrived)


def test_a_push_at_the_edge_of_the_tolerance_verifies(body) -> None:
    at_edge = datetime(2026, 1, 5, 4, 0, tzinfo=UTC) + timedelta(minutes=5)

    assert verify_signature([SECRET], headers(), body, at_edge) == MSG_ID


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_push_missing_a_header_is_refused(body, missing) -> None:
    given = {k: v for k, v in headers().items() if k != missing}

    with pytest.raises(PushVerificationError, match="required"):
        verify_signature([SECRET], given, body, ARRIVED)


def test_a_push_with_a_non_numeric_timestamp_is_refused(body) -> None:
    with pytest.raises(PushVerificationError, match="unix seconds"):
        verify_signature([SECRET], headers(stamp="2026-01-05T04:00:00Z"), body, ARRIVED)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b'["order.status_changed"]',
        b'{"timestamp":"2026-01-05T04:00:00Z","data":{}}',
        b'{"type":"order.status_changed","data":{"order":{}}}',
        b'{"type":"order.status_changed","timestamp":"2026-01-05T04:00:00Z","data":{"order":{"ref":"A"}}}',
        b'{"type":"rider.suspended","timestamp":"2026-01-05T04:00:00Z","data":{}}',
        b'{"type":"rider.suspended","timestamp":"2026-01-05T04:00:00Z","data":"R1003"}',
    ],
    ids=["not json", "not utf-8", "not an object", "no type", "no timestamp", "half an order", "no rider", "bad data"],
)
def test_an_authentic_but_malformed_push_is_a_format_error(body) -> None:
    with pytest.raises(PushFormatError):
        read_push([SECRET], headers(sign(SECRET, body)), body, ARRIVED)
