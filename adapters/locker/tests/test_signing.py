"""Request signing: the hub's requests carry exactly the headers of the README's worked
examples, and a controller's check (as the simulator runs it) accepts those and nothing
else.

The expected values were computed once with openssl, independently of this code::

    printf '1767585600\\nPOST\\n/locker/v1/banks/north-gate/allocations\\n<sha256 hex of body>' \\
      | openssl dgst -sha256 -hmac 'locker-example-secret-0123456789abcdef'
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
import responses

from last100_locker.client import LockerClient
from last100_locker.errors import RequestSignatureError
from last100_locker.signing import string_to_sign, verify_request

SECRET = b"locker-example-secret-0123456789abcdef"
NOW = 1767585600  # 2026-01-05T04:00:00Z

ALLOCATE_PATH = "/locker/v1/banks/north-gate/allocations"
ALLOCATE_BODY = b'{"order_ref":"DEMO-ORDER-1","size":"M","zone":"warm","dropoff_minutes":30}'
ALLOCATE_BODY_SHA256 = "35de375e7d2a94bc369baa442be9767d56975e5db10458a45550390688ccd386"
ALLOCATE_SIGNATURE = "9dd737cfe7678992200dfce6c56886a5927e39486f53f175f12667f65688f962"

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
COMPARTMENTS_SIGNATURE = "eb588b8d42a3b91b8029deab569961fc238ca8ff2da67a759058a28daf28b9c5"
PING_SIGNATURE = "c5e7dfd34c2afc8738848227a68480a514a3d0bb91cec6fb2a1572a08bde8c9a"
RELEASE_SIGNATURE = "35209590b0d8d5cdea45b5a896e2e7ed5b0533cbaf4fc1a36c26cdc0d1d06ccc"


def test_the_worked_example_holds_by_plain_hmac() -> None:
    # The README's numbers, recomputed with nothing but hashlib and hmac.
    assert hashlib.sha256(ALLOCATE_BODY).hexdigest() == ALLOCATE_BODY_SHA256
    signed = f"{NOW}\nPOST\n{ALLOCATE_PATH}\n{ALLOCATE_BODY_SHA256}".encode()
    assert hmac.new(SECRET, signed, hashlib.sha256).hexdigest() == ALLOCATE_SIGNATURE


def test_the_string_to_sign_is_timestamp_method_target_and_body_hash() -> None:
    expected = f"1767585600\nPOST\n{ALLOCATE_PATH}\n{ALLOCATE_BODY_SHA256}".encode()

    assert string_to_sign(NOW, "post", ALLOCATE_PATH, ALLOCATE_BODY) == expected


@responses.activate(assert_all_requests_are_fired=True)
def test_the_client_sends_the_worked_example_headers_for_an_allocation(fixture_json) -> None:
    call = responses.post(
        f"https://lockers.test{ALLOCATE_PATH}",
        json=fixture_json("allocation_created.json"),
        status=201,
        match=[
            responses.matchers.header_matcher(
                {
                    "X-Locker-Key-Id": "hub-sunny",
                    "X-Locker-Timestamp": "1767585600",
                    "X-Locker-Signature": ALLOCATE_SIGNATURE,
                    "Content-Type": "application/json",
                }
            )
        ],
    )
    client = LockerClient("https://lockers.test/locker/", "hub-sunny", SECRET, now=lambda: NOW + 0.9)

    client.allocate("north-gate", "DEMO-ORDER-1", size="M", zone="warm", dropoff_minutes=30)

    assert call.calls[0].request.body == ALLOCATE_BODY


@responses.activate(assert_all_requests_are_fired=True)
def test_a_get_is_signed_over_the_hash_of_an_empty_body(fixture_json) -> None:
    responses.get(
        "https://lockers.test/locker/v1/banks/north-gate/compartments",
        json=fixture_json("compartments.json"),
        match=[responses.matchers.header_matcher({"X-Locker-Signature": COMPARTMENTS_SIGNATURE})],
    )
    responses.get(
        "https://lockers.test/locker/v1/ping",
        json=fixture_json("ping.json"),
        match=[responses.matchers.header_matcher({"X-Locker-Signature": PING_SIGNATURE})],
    )
    client = LockerClient("https://lockers.test/locker", "hub-sunny", SECRET, now=lambda: NOW)

    assert len(client.compartments("north-gate")) == 4
    assert client.ping() == "locker/1"


@responses.activate(assert_all_requests_are_fired=True)
def test_a_release_is_signed_over_its_empty_json_object(fixture_json) -> None:
    responses.post(
        "https://lockers.test/locker/v1/banks/north-gate/allocations/al_7f3a9c2e5b1d4f60/release",
        json=fixture_json("allocation_released.json"),
        match=[responses.matchers.header_matcher({"X-Locker-Signature": RELEASE_SIGNATURE})],
    )
    client = LockerClient("https://lockers.test/locker", "hub-sunny", SECRET, now=lambda: NOW)

    assert client.release("north-gate", "al_7f3a9c2e5b1d4f60") is not None


HEADERS = {
    "x-locker-key-id": "hub-sunny",
    "x-locker-timestamp": "1767585600",
    "x-locker-signature": ALLOCATE_SIGNATURE,
}


def _verify(headers=HEADERS, *, method="POST", target=ALLOCATE_PATH, body=ALLOCATE_BODY, now=NOW + 10) -> str:
    return verify_request({"hub-sunny": SECRET}, headers, method, target, body, now)


def test_a_controller_accepts_the_worked_example() -> None:
    assert _verify() == "hub-sunny"


def test_a_controller_accepts_a_timestamp_up_to_five_minutes_off_either_way() -> None:
    assert _verify(now=NOW + 300) == "hub-sunny"
    assert _verify(now=NOW - 300) == "hub-sunny"


def test_a_controller_accepts_the_signature_in_upper_case_hex() -> None:
    assert _verify({**HEADERS, "x-locker-signature": ALLOCATE_SIGNATURE.upper()}) == "hub-sunny"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"headers": {}}, "signature_missing"),
        ({"headers": {**HEADERS, "x-locker-key-id": "someone-else"}}, "key_unknown"),
        ({"now": NOW + 301}, "timestamp_out_of_range"),
        ({"now": NOW - 301}, "timestamp_out_of_range"),
        ({"headers": {**HEADERS, "x-locker-timestamp": "1767585600.5"}}, "timestamp_out_of_range"),
        ({"body": ALLOCATE_BODY.replace(b"DEMO-ORDER-1", b"DEMO-ORDER-2")}, "signature_invalid"),
        ({"target": ALLOCATE_PATH + "?x=1"}, "signature_invalid"),
        ({"method": "PUT"}, "signature_invalid"),
        ({"headers": {**HEADERS, "x-locker-signature": "00" * 32}}, "signature_invalid"),
    ],
    ids=["unsigned", "unknown key", "stale", "future", "fractional time", "body changed", "path changed",
         "method changed", "forged"],
)  # fmt: skip
def test_a_controller_refuses_a_request_that_is_not_exactly_what_was_signed(change, code) -> None:
    with pytest.raises(RequestSignatureError) as caught:
        _verify(**change)

    assert caught.value.code == code
