"""Request signing: the hub's requests carry exactly the headers of the protocol's worked
examples, and a platform's check (as the simulator runs it) accepts those and nothing else.

The expected signatures were computed once with openssl, independently of this code::

    printf '1767585600\\nPOST\\n/riderpass/v1/riders/verify\\n<sha256 hex of body>' \\
      | openssl dgst -sha256 -mac HMAC -macopt hexkey:<hex of the secret> -binary | base64
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
import responses

from last100_riderpass.client import RiderPassClient
from last100_riderpass.errors import RequestSignatureError
from last100_riderpass.signing import canonical_request, decode_signing_secret, verify_request

SECRET = b"riderpass-example-signing-key-32"
NOW = 1767585600  # 2026-01-05T04:00:00Z

VERIFY_BODY = b'{"credential":{"kind":"token","value":"demo-rider-1"},"community_id":"sunny-garden","gate_id":"north"}'
VERIFY_BODY_SHA256 = "73ddf726ac4437e043547dfc226add7a6043e3fef23475a1c1ff5365ca6d58cb"
VERIFY_CANONICAL = b"1767585600\nPOST\n/riderpass/v1/riders/verify\n" + VERIFY_BODY_SHA256.encode()
VERIFY_SIGNATURE = "v1,NhIO5udE08TmgbdEbwmseWcrEjq2SXktN492oDvkRhQ="

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
GET_ORDER_SIGNATURE = "v1,Jwf2DDBPXTfu8hlEkKCAlF8Y3/3Hlq8h1IAl4ricOk8="


def test_the_worked_example_holds_by_plain_hmac() -> None:
    # The document's numbers, recomputed with nothing but hashlib and hmac.
    assert hashlib.sha256(VERIFY_BODY).hexdigest() == VERIFY_BODY_SHA256
    mac = hmac.new(SECRET, VERIFY_CANONICAL, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(mac).decode() == VERIFY_SIGNATURE


def test_canonical_request_is_timestamp_method_target_and_body_hash() -> None:
    assert canonical_request(NOW, "post", "/riderpass/v1/riders/verify", VERIFY_BODY) == VERIFY_CANONICAL


def test_signing_secret_is_base64_of_at_least_32_bytes() -> None:
    assert decode_signing_secret("cmlkZXJwYXNzLWV4YW1wbGUtc2lnbmluZy1rZXktMzI=") == SECRET
    with pytest.raises(ValueError, match="at least 32 bytes"):
        decode_signing_secret(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        decode_signing_secret("not base64!")


@responses.activate(assert_all_requests_are_fired=True)
def test_client_sends_the_worked_example_headers_for_a_post(fixture_json) -> None:
    call = responses.post(
        "https://platform.test/riderpass/v1/riders/verify",
        json=fixture_json("verify_rider.json"),
        match=[
            responses.matchers.header_matcher(
                {
                    "RiderPass-Key-Id": "hub-sunny",
                    "RiderPass-Timestamp": "1767585600",
                    "RiderPass-Signature": VERIFY_SIGNATURE,
                    "Content-Type": "application/json",
                }
            )
        ],
    )
    client = RiderPassClient("https://platform.test/riderpass/", "hub-sunny", SECRET, now=lambda: NOW + 0.9)

    client.verify_rider("token", "demo-rider-1", community_id="sunny-garden", gate_id="north")

    assert call.calls[0].request.body == VERIFY_BODY


@responses.activate(assert_all_requests_are_fired=True)
def test_client_signs_a_get_over_the_hash_of_an_empty_body(fixture_json) -> None:
    mac = hmac.new(
        SECRET, f"1767585600\nGET\n/riderpass/v1/orders/DEMO-ORDER-1\n{EMPTY_SHA256}".encode(), hashlib.sha256
    )
    assert "v1," + base64.b64encode(mac.digest()).decode() == GET_ORDER_SIGNATURE
    responses.get(
        "https://platform.test/riderpass/v1/orders/DEMO-ORDER-1",
        json=fixture_json("order_delivered.json"),
        match=[responses.matchers.header_matcher({"RiderPass-Signature": GET_ORDER_SIGNATURE})],
    )
    client = RiderPassClient("https://platform.test/riderpass", "hub-sunny", SECRET, now=lambda: NOW)

    assert client.get_order("DEMO-ORDER-1") is not None


@responses.activate(assert_all_requests_are_fired=True)
def test_signature_covers_the_percent_encoded_path_as_sent(fixture_json) -> None:
    target = "/riderpass/v1/orders/A%2F17%20B"
    expected = hmac.new(SECRET, f"1767585600\nGET\n{target}\n{EMPTY_SHA256}".encode(), hashlib.sha256).digest()
    responses.get(
        "https://platform.test" + target,
        json=fixture_json("order_delivered.json"),
        match=[responses.matchers.header_matcher({"RiderPass-Signature": "v1," + base64.b64encode(expected).decode()})],
    )
    client = RiderPassClient("https://platform.test/riderpass", "hub-sunny", SECRET, now=lambda: NOW)

    client.get_order("A/17 B")


HEADERS = {
    "riderpass-key-id": "hub-sunny",
    "riderpass-timestamp": "1767585600",
    "riderpass-signature": VERIFY_SIGNATURE,
}


def _verify(headers=HEADERS, *, target="/riderpass/v1/riders/verify", body=VERIFY_BODY, now=NOW + 10) -> str:
    return verify_request({"hub-sunny": SECRET}, headers, "POST", target, body, now)


def test_platform_accepts_the_worked_example() -> None:
    assert _verify() == "hub-sunny"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"headers": {}}, "signature_missing"),
        ({"headers": {**HEADERS, "riderpass-key-id": "someone-else"}}, "key_unknown"),
        ({"now": NOW + 301}, "timestamp_out_of_range"),
        ({"now": NOW - 301}, "timestamp_out_of_range"),
        ({"headers": {**HEADERS, "riderpass-timestamp": "1767585600.5"}}, "timestamp_out_of_range"),
        ({"body": VERIFY_BODY.replace(b"demo-rider-1", b"demo-rider-2")}, "signature_invalid"),
        ({"target": "/riderpass/v1/riders/verify?x=1"}, "signature_invalid"),
        ({"headers": {**HEADERS, "riderpass-signature": "v1,AAAA"}}, "signature_invalid"),
    ],
    ids=["unsigned", "unknown key", "stale", "future", "fractional time", "body changed", "path changed", "forged"],
)
def test_platform_refuses_a_request_that_is_not_exactly_what_was_signed(change, code) -> None:
    with pytest.raises(RequestSignatureError) as caught:
        _verify(**change)
    assert caught.value.code == code
