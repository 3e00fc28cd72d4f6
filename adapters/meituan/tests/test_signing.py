"""Meituan's signature, pinned to worked examples computed by hand: the canonical string
is spelled out, its MD5 written down as a literal, and the code must agree."""

from __future__ import annotations

import hashlib

import pytest

from last100_meituan.signing import (
    CallbackForged,
    CallbackMalformed,
    canonical_string,
    sign,
    signature_matches,
    verify_callback,
)

SECRET = "a1b2c3d4e5"

# Worked example 1: a plain GET.
ORDER_URL = "https://waimaiopen.meituan.com/api/v1/order/getOrderDetail"
ORDER_PARAMS = {"timestamp": "1767225600", "order_id": "27061900338318741", "app_id": "6510"}
ORDER_CANONICAL = (
    "https://waimaiopen.meituan.com/api/v1/order/getOrderDetail"
    "?app_id=6510&order_id=27061900338318741&timestamp=1767225600"
)
ORDER_SIG = "9006668779c1038e4ab429488fc8eb53"

# Worked example 2: values that URL-encoding would change (Chinese, spaces, "&"), and an
# empty value, which is left out of the signed string.
PROFILE_URL = "https://waimaiopen.meituan.com/api/v1/partner/community/profile/save"
PROFILE_PARAMS = {
    "app_id": "6510",
    "timestamp": "1767225600",
    "version": "3",
    "rules": "骑手请走北门 & 停车区 A",
    "note": "",
    "community_id": "sunny-garden",
}
PROFILE_CANONICAL = (
    "https://waimaiopen.meituan.com/api/v1/partner/community/profile/save"
    "?app_id=6510&community_id=sunny-garden&rules=骑手请走北门 & 停车区 A&timestamp=1767225600&version=3"
)
PROFILE_SIG = "69b140dc9f8842077509f95cdd4f1d92"
# What a signer that URL-encoded the values first would get instead.
PROFILE_SIG_IF_ENCODED = "29304750d5a6e7f480ae9908dffee209"

# Worked example 3: a callback to the hub, signed over the callback URL.
CALLBACK_URL = "https://hub.example.com/api/v1/push/mt-1"
CALLBACK_PARAMS = {
    "order_id": "27061900338318741",
    "status": "8",
    "logistics_status": "40",
    "time": "1767225590",
    "rider_id": "R1001",
    "community_id": "sunny-garden",
    "building": "3",
    "app_id": "6510",
    "timestamp": "1767225600",
}
CALLBACK_CANONICAL = (
    "https://hub.example.com/api/v1/push/mt-1?app_id=6510&building=3&community_id=sunny-garden"
    "&logistics_status=40&order_id=27061900338318741&rider_id=R1001&status=8&time=1767225590"
    "&timestamp=1767225600"
)
CALLBACK_SIG = "106fb2628ee24dd378889bb3ab087f6b"


def test_the_worked_examples_are_the_md5_of_their_spelled_out_strings():
    assert hashlib.md5(f"{ORDER_CANONICAL}{SECRET}".encode()).hexdigest() == ORDER_SIG
    assert hashlib.md5(f"{PROFILE_CANONICAL}{SECRET}".encode()).hexdigest() == PROFILE_SIG
    assert hashlib.md5(f"{CALLBACK_CANONICAL}{SECRET}".encode()).hexdigest() == CALLBACK_SIG


def test_the_tests_own_signer_agrees_with_the_worked_examples(wire):
    assert wire.sig(ORDER_URL, ORDER_PARAMS, SECRET) == ORDER_SIG
    assert wire.sig(PROFILE_URL, PROFILE_PARAMS, SECRET) == PROFILE_SIG
    assert wire.sig(CALLBACK_URL, CALLBACK_PARAMS, SECRET) == CALLBACK_SIG


def test_canonical_string_sorts_parameters_by_name_after_the_url_and_a_question_mark():
    assert canonical_string(ORDER_URL, ORDER_PARAMS) == ORDER_CANONICAL


def test_signature_of_a_plain_request_matches_the_worked_example():
    assert sign(ORDER_URL, ORDER_PARAMS, SECRET) == ORDER_SIG


def test_values_are_signed_as_they_are_not_url_encoded_and_empty_values_are_left_out():
    assert canonical_string(PROFILE_URL, PROFILE_PARAMS) == PROFILE_CANONICAL
    assert sign(PROFILE_URL, PROFILE_PARAMS, SECRET) == PROFILE_SIG
    assert sign(PROFILE_URL, PROFILE_PARAMS, SECRET) != PROFILE_SIG_IF_ENCODED


def test_the_sig_parameter_and_the_urls_query_string_are_not_part_of_the_signed_url():
    with_sig = {**ORDER_PARAMS, "sig": "whatever"}
    assert sign(f"{ORDER_URL}?app_id=6510&sig=old", with_sig, SECRET) == ORDER_SIG


def test_signature_is_lower_case_hex():
    assert sign(ORDER_URL, ORDER_PARAMS, SECRET) == sign(ORDER_URL, ORDER_PARAMS, SECRET).lower()


def test_signature_matches_accepts_the_right_sig_and_refuses_a_wrong_one():
    assert signature_matches(ORDER_URL, {**ORDER_PARAMS, "sig": ORDER_SIG}, SECRET)
    assert not signature_matches(ORDER_URL, {**ORDER_PARAMS, "sig": ORDER_SIG[:-1] + "0"}, SECRET)
    assert not signature_matches(ORDER_URL, ORDER_PARAMS, SECRET)


# ---------------------------------------------------------------------------
# Callback verification (pure)
# ---------------------------------------------------------------------------


def verify(params, *, now=1767225600, tolerance_s=300, url=CALLBACK_URL):
    return verify_callback(url, params, app_id="6510", app_secret=SECRET, now=now, tolerance_s=tolerance_s)


def test_a_callback_signed_like_the_worked_example_is_verified():
    verified = verify({**CALLBACK_PARAMS, "sig": CALLBACK_SIG})

    assert verified.timestamp == 1767225600
    assert "sig" not in verified.params
    assert verified.params["order_id"] == "27061900338318741"


@pytest.mark.parametrize("skew", [-300, 300])
def test_a_callback_exactly_at_the_tolerance_is_accepted(skew):
    assert verify({**CALLBACK_PARAMS, "sig": CALLBACK_SIG}, now=1767225600 + skew).timestamp == 1767225600


@pytest.mark.parametrize("skew, words", [(301, "old"), (-301, "future")])
def test_a_callback_beyond_the_tolerance_either_way_is_forged(skew, words):
    with pytest.raises(CallbackForged, match=words):
        verify({**CALLBACK_PARAMS, "sig": CALLBACK_SIG}, now=1767225600 + skew)


def test_a_callback_for_another_app_is_forged_even_when_its_sig_is_right():
    params = {**CALLBACK_PARAMS, "app_id": "9999"}
    params["sig"] = hashlib.md5(
        f"{CALLBACK_CANONICAL.replace('app_id=6510', 'app_id=9999')}{SECRET}".encode()
    ).hexdigest()

    with pytest.raises(CallbackForged, match="another app_id"):
        verify(params)


def test_a_callback_signed_over_another_url_is_forged():
    with pytest.raises(CallbackForged, match="does not match"):
        verify({**CALLBACK_PARAMS, "sig": CALLBACK_SIG}, url="https://hub.example.com/api/v1/push/mt-2")


def test_a_signed_callback_whose_timestamp_is_not_a_number_is_malformed():
    params = {**CALLBACK_PARAMS, "timestamp": "yesterday"}
    params["sig"] = hashlib.md5(
        f"{CALLBACK_CANONICAL.replace('timestamp=1767225600', 'timestamp=yesterday')}{SECRET}".encode()
    ).hexdigest()

    with pytest.raises(CallbackMalformed):
        verify(params)
