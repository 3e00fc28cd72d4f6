"""Signatures against worked examples: each expected value is a literal MD5 over a
literal, spelled-out canonical string, checked with ``hashlib`` right here, never by
asking the code under test."""

from __future__ import annotations

import hashlib

import pytest

from last100_eleme.signing import (
    canonical_json,
    push_sign_base,
    push_signature,
    request_sign_base,
    request_signature,
)


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def test_a_simple_call_is_signed_over_action_token_sorted_pairs_and_secret():
    canonical = (
        "eleme.order.getOrder"
        "c199e3dc2705388f927e27d5ea6833d4"
        'app_key="9Y4dGq4wUv"'
        'orderId="1203846973688183898"'
        "timestamp=1700000000"
        "s3cr3t"
    )
    expected = "3804B5D103C8DFBC40A137A0385CD1CB"
    assert md5_upper(canonical) == expected

    args = (
        "eleme.order.getOrder",
        "c199e3dc2705388f927e27d5ea6833d4",
        {"app_key": "9Y4dGq4wUv", "timestamp": 1700000000},
        {"orderId": "1203846973688183898"},
        "s3cr3t",
    )
    assert request_sign_base(*args) == canonical
    assert request_signature(*args) == expected


def test_nested_params_chinese_text_and_numbers_are_signed_as_compact_utf8_json():
    canonical = (
        "eleme.partner.community.publishProfile"
        "tok-1"
        'app_key="key-1"'
        'communityId="sunny-garden"'
        'profile={"version":3,"name":"阳光花园","rules":{"zh":"骑手请走北门/东门","en":"Use the north gate"},'
        '"geofence":[[31.2,121.43],[31.21,121.44]],"lockersOnly":false,"hours":{"opens":null}}'
        "timestamp=1767585600"
        "sec-1"
    )
    expected = "DABBADF9DF2126DA076EBE82D373605E"
    assert md5_upper(canonical) == expected

    profile = {
        "version": 3,
        "name": "阳光花园",
        "rules": {"zh": "骑手请走北门/东门", "en": "Use the north gate"},
        "geofence": [[31.2, 121.43], [31.21, 121.44]],
        "lockersOnly": False,
        "hours": {"opens": None},
    }
    args = (
        "eleme.partner.community.publishProfile",
        "tok-1",
        {"app_key": "key-1", "timestamp": 1767585600},
        {"profile": profile, "communityId": "sunny-garden"},
        "sec-1",
    )
    assert request_sign_base(*args) == canonical
    assert request_signature(*args) == expected


def test_params_are_sorted_by_key_as_the_official_sdks_do_not_by_the_pair_text():
    # "id" sorts before "id2"; the pair texts 'id=1' and 'id2=2.5' would sort the other way.
    canonical = 'eleme.partner.rider.getActiveOrderstok-1app_key="key-1"id=1id2=2.5timestamp=1767585600sec-1'
    expected = "49DB9A5BA3D8F7351AFF7C01C4A34592"
    assert md5_upper(canonical) == expected

    args = (
        "eleme.partner.rider.getActiveOrders",
        "tok-1",
        {"app_key": "key-1", "timestamp": 1767585600},
        {"id2": 2.5, "id": 1},
        "sec-1",
    )
    assert request_signature(*args) == expected


def test_a_call_without_params_signs_only_the_metas():
    canonical = 'eleme.user.getUsertok-1app_key="key-1"timestamp=1767585600sec-1'
    expected = "13DA76D6EAC7A5C023BEF454380394B5"
    assert md5_upper(canonical) == expected

    assert request_signature(
        "eleme.user.getUser", "tok-1", {"app_key": "key-1", "timestamp": 1767585600}, {}, "sec-1"
    ) == (expected)


def test_a_push_is_signed_over_sorted_plain_pairs_with_the_message_verbatim():
    message = (
        '{"orderId":"1213078763526670502","shopId":152182777,"state":"delivering",'
        '"subState":"noSubstate","name":"穆*","phone":"150****8965","updateAt":1509495770000}'
    )
    canonical = (
        "appId=65929831"
        f"message={message}"
        "requestId=100007375110081178"
        "shopId=152182777"
        "timestamp=1509495770350"
        "type=55"
        "userId=283166468180069210"
        "push-secret"
    )
    expected = "DFFE3CDAA50772CC51621686BBB9EA89"
    assert md5_upper(canonical) == expected

    fields = {
        "requestId": "100007375110081178",
        "type": 55,
        "appId": 65929831,
        "message": message,
        "shopId": 152182777,
        "timestamp": 1509495770350,
        "userId": 283166468180069210,
        "signature": "ignored: never part of what is signed",
    }
    assert push_sign_base(fields, "push-secret") == canonical
    assert push_signature(fields, "push-secret") == expected


def test_a_null_push_field_is_signed_as_empty_text():
    canonical = "a=b=2s"
    expected = md5_upper(canonical)
    assert expected == "ED3A09689551F2BF3178DAA496E86DFA"
    assert push_signature({"b": 2, "a": None}, "s") == expected


@pytest.mark.parametrize("value", [1.5, True, {"nested": 1}, [1]])
def test_a_push_field_the_signature_cannot_render_is_refused(value):
    with pytest.raises(ValueError, match="push field 'x'"):
        push_signature({"x": value}, "s")


def test_canonical_json_is_compact_and_leaves_chinese_and_slashes_as_they_are():
    assert canonical_json({"a": "北门/东门", "b": [1, 2.5, None, True]}) == '{"a":"北门/东门","b":[1,2.5,null,true]}'
