"""The masks the console shows personal data through."""

from __future__ import annotations

import pytest

from hub.core import masking


@pytest.mark.parametrize(
    ("value", "shown"),
    [("13812345678", "138****5678"), ("+86 138-1234-5678", "861****5678"), ("5551234", "*****34"), ("12", "**")],
)
def test_phones_keep_only_their_ends(value, shown):
    assert masking.mask_phone(value) == shown


def test_names_keep_their_first_character():
    assert masking.mask_name("王小明") == "王**"
    assert masking.mask_name(" Li Wei ") == "L*****"
    assert masking.mask_name("") == ""


def test_references_keep_three_characters():
    assert masking.mask_ref("R-77123") == "R-7…"
    assert masking.mask_ref("abc") == "***"


def test_addresses_keep_at_most_their_first_third():
    address = "1 Garden Road, Building 1, Flat 1203"
    shown = masking.mask_address(address)
    assert shown == "1 Garden***"
    assert "1203" not in shown
    assert masking.mask_address("北京市朝阳区幸福里3号楼") == "北京市朝***"
    assert masking.mask_address("  ") == ""


def test_a_contact_is_masked_as_a_phone_or_as_a_name():
    assert masking.mask_contact("Mrs Zhang 13812345678") == "138****5678"
    assert masking.mask_contact("张女士") == "张**"
