"""Riders' phones and names are masked before they leave the adapter; a value that
cannot be read as a phone number is dropped, never passed on raw."""

from __future__ import annotations

import pytest

from last100_meituan.privacy import mask_name, mask_phone


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("13812345678_1234", "138****5678 转 1234"),  # Meituan privacy number with extension
        ("13812345678,1234", "138****5678 转 1234"),
        ("13812345678#1234", "138****5678 转 1234"),
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("021-64381234", "021****1234"),  # landline with area code
        ("64381234", "****1234"),  # short local number: only the last four show
        ("138****5678", "138****5678"),  # already masked by the platform
        ("138****5678_1234", "138****5678 转 1234"),
    ],
)
def test_phone_numbers_are_masked_and_privacy_extensions_kept(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw", ["", None, "unknown", "12345", "13812345678_", "138 1234 5678 ext abc", "王小明"])
def test_values_that_are_not_phone_numbers_are_dropped_not_passed_on(raw):
    assert mask_phone(raw) == ""


def test_a_masked_phone_never_contains_the_hidden_digits():
    assert "1234" not in mask_phone("13812345678").split("****")[0]
    assert "12345678" not in mask_phone("13812345678_1234")


@pytest.mark.parametrize(
    "raw, masked",
    [("王小明", "王**"), ("王五", "王*"), ("王", "王*"), ("王*", "王*"), ("", ""), (None, "")],
)
def test_names_keep_only_their_first_character(raw, masked):
    assert mask_name(raw) == masked
