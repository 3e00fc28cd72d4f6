"""Request signatures against the README's worked example, computed with openssl:

printf '%s\\n%s' 1767585600 "$body" | openssl dgst -sha256 -hmac visitor-example-secret
"""

from __future__ import annotations

import pytest

from last100_visitor_http.errors import SignatureError
from last100_visitor_http.signing import sign, string_to_sign, verify

SECRET = "visitor-example-secret"
NOW = 1767585600


def test_the_worked_example_signs_to_its_literal_value(fixture_json) -> None:
    example = fixture_json("signature_example.json")

    assert sign(SECRET, "1767585600", example["body"].encode("utf-8")) == (
        "3b9fb7ce462ef41a77f10c6b5c0daab238b492014ed69d5299e9fc496ec2195e"
    )


def test_an_empty_body_signs_the_timestamp_and_the_line_feed() -> None:
    assert string_to_sign("1767585600", b"") == b"1767585600\n"
    assert sign(SECRET, "1767585600", b"") == "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc"


def test_a_small_body_signs_to_its_literal_value() -> None:
    assert sign(SECRET, "1767585600", b'{"a":1}') == "62db9ce970d2f108b085e8207c5d8823b528b7560e2da5ad0aff4c33396b720b"


def test_verify_accepts_the_worked_example_in_either_case_within_tolerance(fixture_json) -> None:
    example = fixture_json("signature_example.json")
    body = example["body"].encode("utf-8")

    verify(SECRET, "1767585600", example["signature"], body, now=NOW + 300)
    verify(SECRET, "1767585600", example["signature"].upper(), body, now=NOW - 300)


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now", "code"),
    [
        ("", "1d99e0c8", b"", NOW, "signature_missing"),
        ("1767585600", "", b"", NOW, "signature_missing"),
        ("1767585600.5", "1d99e0c8", b"", NOW, "timestamp_invalid"),
        ("1767585600", "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc", b"", NOW + 301,
         "timestamp_out_of_range"),
        ("1767585600", "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc", b"", NOW - 301,
         "timestamp_out_of_range"),
        ("1767585600", "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc", b"x", NOW,
         "signature_invalid"),
        ("1767585600", "签名", b"", NOW, "signature_invalid"),
    ],
    ids=["no timestamp", "no signature", "fractional", "stale", "ahead", "other body", "not hex"],
)  # fmt: skip
def test_verify_refuses_with_a_code(timestamp, signature, body, now, code) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(SECRET, timestamp, signature, body, now=now)

    assert caught.value.code == code


def test_verify_refuses_another_secret() -> None:
    with pytest.raises(SignatureError) as caught:
        verify(
            "another-secret", "1767585600", "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc", b"", NOW
        )

    assert caught.value.code == "signature_invalid"
