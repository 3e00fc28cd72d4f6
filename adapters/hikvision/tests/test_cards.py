"""A pass's user number and card number, against worked examples computed outside this
code: ``printf 'last100-hikvision/card/v1\\0<grant id>' | openssl dgst -sha256 -hmac
hikvision-example-card-secret-01``, the digest read as a number n, and the card number
10^(d-1) + n mod 9·10^(d-1) for d digits."""

from __future__ import annotations

import pytest

from last100_hikvision.cards import card_number, employee_no

GRANT_ID = "0b6e1f2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
OTHER_GRANT_ID = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
SECRET = "hikvision-example-card-secret-01"


@pytest.mark.parametrize(
    ("grant_id", "length", "expected"),
    [
        (GRANT_ID, 10, "7128676793"),
        (GRANT_ID, 8, "18676793"),
        (GRANT_ID, 20, "50768662705128676793"),
        (OTHER_GRANT_ID, 10, "7060263451"),
        (OTHER_GRANT_ID, 20, "57207818113060263451"),
    ],
)
def test_card_numbers_match_the_worked_examples(grant_id, length, expected) -> None:
    assert card_number(SECRET, grant_id, length) == expected


def test_another_secret_gives_another_card_for_the_same_grant() -> None:
    assert card_number("another-card-secret-of-16+", GRANT_ID, 10) != "7128676793"


def test_card_numbers_never_start_with_zero() -> None:
    cards = [card_number(SECRET, f"grant-{n}", 8) for n in range(2000)]

    assert all(len(c) == 8 and c.isdigit() and c[0] != "0" for c in cards)
    assert len(set(cards)) == len(cards)


@pytest.mark.parametrize("length", [7, 21])
def test_card_lengths_outside_what_readers_take_are_refused(length) -> None:
    with pytest.raises(ValueError, match="8 to 20"):
        card_number(SECRET, GRANT_ID, length)


def test_a_uuid_grant_id_is_its_32_hex_digits() -> None:
    assert employee_no(GRANT_ID) == "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b"
    assert employee_no("{0B6E1F2C-3D4E-4F50-8A6B-7C8D9E0F1A2B}") == "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b"


def test_any_other_grant_id_is_hashed_to_32_hex_digits() -> None:
    # sha256("rider-pass-42"), computed with sha256sum.
    assert employee_no("rider-pass-42") == "1e964797ff46f95088fbdd9cf9c34af5"
