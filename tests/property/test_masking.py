"""Masking, as properties: whatever text comes in, what the hub keeps or shows of a phone
number or a name gives nothing away beyond what the masks promise (hub/core/masking.py
for the console, and each adapter's masking of what its platform sends).

The promise for phones: no number survives, that is, no run of seven digits, however
the sender spaced or dashed it (the shortest Chinese numbers are seven digits; a masked
mobile ``138****5678`` keeps three and four, a privacy number's extension at most six).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.masking import mask_address, mask_contact, mask_name, mask_phone, mask_phones_in, mask_ref
from last100_eleme.plugin import mask_phone as eleme_mask_phone
from last100_meituan.privacy import mask_name as meituan_mask_name
from last100_meituan.privacy import mask_phone as meituan_mask_phone
from last100_riderpass.mapping import masked_name as riderpass_masked_name
from last100_riderpass.mapping import masked_phone as riderpass_masked_phone

#: Seven digits in a row, single spaces or dashes allowed between them.
NUMBER = re.compile(r"\d(?:[ -]?\d){6,}")

digits = st.text(st.sampled_from("0123456789"), min_size=7, max_size=13)


@st.composite
def written_phones(draw: st.DrawFn) -> tuple[str, str]:
    """A phone number and how a person or a platform wrote it: grouped with spaces or
    dashes, with +86, with a privacy number's extension, inside other words."""
    number = (
        "1"
        + draw(st.text(st.sampled_from("3456789"), min_size=1, max_size=1))
        + draw(st.text(st.sampled_from("0123456789"), min_size=9, max_size=9))
    )
    separator = draw(st.sampled_from(["", " ", "-"]))
    written = separator.join([number[:3], number[3:7], number[7:]]) if separator else number
    written = draw(st.sampled_from(["", "+86 ", "+86", "86"])) + written
    written += draw(st.sampled_from(["", "_1234", ",12", " 转 56"]))
    before = draw(st.sampled_from(["", "电话 ", "Tel: ", "张先生 "]))
    return number, before + written


phone_noise = st.text(st.sampled_from("0123456789 -+_*转abc王"), max_size=40)


def no_number_in(text: str) -> bool:
    return NUMBER.search(text) is None


# -- hub/core/masking.py ---------------------------------------------------------------------------


@given(value=phone_noise | st.text(max_size=30))
def test_a_masked_phone_keeps_at_most_three_and_four_digits(value):
    masked = mask_phone(value)
    kept = re.findall(r"\d+", masked)

    assert all(len(run) <= 4 for run in kept)
    assert sum(len(run) for run in kept) <= 7


@given(phone=written_phones(), noise=phone_noise)
def test_no_phone_number_survives_masking_however_it_is_written(phone, noise):
    number, written = phone

    assert no_number_in(mask_phones_in(noise + " " + written + " " + noise))
    assert number not in re.sub(r"\D", "", mask_phones_in(written))


@given(text=phone_noise | st.text(max_size=40))
def test_masking_phones_in_text_is_done_once_and_for_all(text):
    once = mask_phones_in(text)

    assert no_number_in(once)
    assert mask_phones_in(once) == once
    assert mask_phones_in(text) == text or NUMBER.search(text)  # text without a number is left alone


@given(name=st.text(min_size=1, max_size=12).filter(str.strip))
def test_a_masked_name_shows_its_first_character_only(name):
    masked = mask_name(name)

    assert masked[0] == name.strip()[0]
    assert set(masked[1:]) <= {"*"}
    assert len(masked) == len(name.strip())


@given(contact=phone_noise | st.text(max_size=30), phone=st.none() | written_phones())
def test_a_masked_contact_holds_no_phone_number_and_at_most_one_letter_of_a_name(contact, phone):
    contact = contact if phone is None else f"{contact} {phone[1]}"

    masked = mask_contact(contact)

    assert no_number_in(masked)
    if not re.search(r"\d", contact):
        assert len(re.sub(r"[*\s]", "", masked)) <= 1


@given(value=st.text(max_size=60))
def test_a_masked_address_or_ref_keeps_only_its_beginning(value):
    address, ref = mask_address(value), mask_ref(value)

    assert value.strip().startswith(address.rstrip("*")) and len(address.rstrip("*")) <= 8
    assert len(ref.rstrip("…*")) <= 3


# -- the adapters' masking of what platforms send ---------------------------------------------------


@pytest.mark.parametrize("mask", [meituan_mask_phone, riderpass_masked_phone], ids=["meituan", "riderpass"])
@given(phone=written_phones(), noise=st.sampled_from(["", "*", "138****", " "]))
def test_an_adapter_keeps_no_phone_number_a_platform_sent_whole(mask, phone, noise):
    masked = mask(phone[1] + noise)

    assert no_number_in(masked)


@given(phone=written_phones(), noise=st.sampled_from(["*", " *"]))
def test_eleme_keeps_no_phone_number_ele_me_sent_whole(phone, noise):
    assert no_number_in(eleme_mask_phone(phone[1] + noise))


@pytest.mark.parametrize("mask", [meituan_mask_name, riderpass_masked_name], ids=["meituan", "riderpass"])
@given(name=st.text(st.characters(exclude_characters="*"), min_size=2, max_size=10).filter(lambda n: n.strip() == n))
def test_an_adapter_keeps_the_first_character_of_a_name_a_platform_sent_whole(mask, name):
    masked = mask(name)

    assert masked[0] == name[0]
    assert set(masked[1:]) == {"*"}
