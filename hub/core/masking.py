"""Masking personal data for display: what the console shows by default.

Platforms send riders' names and phones already masked; what the hub itself keeps in
full — order addresses, a platform's rider reference, a reporter's contact — is shown
through these functions, and only an operator's audited reveal shows it whole.
Each function keeps just enough to tell two values apart on a page.
"""

from __future__ import annotations

import re

_STAR = "*"
_DIGITS = re.compile(r"\d")
#: A phone number inside text: seven or more digits, single spaces or dashes allowed
#: between them (``138 1234 5678``, ``138-1234-5678``), maybe after ``+86``.
_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[ -]?)?\d(?:[ -]?\d){6,}(?!\d)")


def mask_phone(value: str) -> str:
    """``"13812345678"`` → ``"138****5678"``: the first three and last four digits of a
    number of 11 or more digits, the last two of a shorter one."""
    digits = "".join(_DIGITS.findall(value))
    if len(digits) >= 11:
        return digits[:3] + _STAR * 4 + digits[-4:]
    if len(digits) >= 4:
        return _STAR * (len(digits) - 2) + digits[-2:]
    return _STAR * len(digits)


def mask_phones_in(text: str) -> str:
    """``text`` with every phone number in it masked by :func:`mask_phone`, however it is
    written: ``"+86 138 1234 5678"`` → ``"138****5678"``, ``"13812345678_1234"`` →
    ``"138****5678_1234"`` (an extension is not a phone number). Text holding no run of
    seven digits, a masked number included, is returned as it is.

    For values that should already be masked but come from outside (a platform's
    ``masked_phone``): applied once more, it takes out whatever the sender left in. In
    free text it errs on the side of hiding: a date written ``2026-01-05`` is masked too.
    """

    def masked(found: re.Match[str]) -> str:
        digits = "".join(_DIGITS.findall(found.group()))
        if found.group().startswith(("+86", "86")) and len(digits) == 13:
            digits = digits[2:]  # the country code, not part of the number
        return mask_phone(digits)

    return _PHONE_IN_TEXT.sub(masked, text)


def mask_name(value: str) -> str:
    """``"王小明"`` → ``"王**"``, ``"Li Wei"`` → ``"L*****"``: the first character."""
    value = value.strip()
    return value[:1] + _STAR * (len(value) - 1) if value else ""


def mask_ref(value: str) -> str:
    """An identifier shown by its first three characters: ``"r-48213"`` → ``"r-4…"``."""
    return value[:3] + "…" if len(value) > 3 else _STAR * len(value)


def mask_address(value: str) -> str:
    """An address without its details: the first third of it (at most 8 characters),
    then stars, so a building can be told but not a flat."""
    value = value.strip()
    if not value:
        return ""
    keep = min(8, len(value) // 3)
    return value[:keep] + _STAR * 3


def mask_contact(value: str) -> str:
    """A reporter's contact as typed: a phone number when it has enough digits (the
    rest hidden), a name otherwise."""
    digits = _DIGITS.findall(value)
    if len(digits) >= 7:
        return mask_phone(value)
    return mask_name(value)
