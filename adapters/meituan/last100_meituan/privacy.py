"""Masking of riders' names and phone numbers before they leave the client.

Meituan hands out privacy numbers (隐私号): a virtual number with an extension, written
``13812345678_1234`` (some payloads use ``,`` or ``#`` instead of ``_``). The hub keeps
masked values only, so every phone is masked here, and anything that does not look like
a phone number is dropped rather than passed on as it came.
"""

from __future__ import annotations

import re

# A mobile or landline number, optionally with +86 / 0086, then an optional extension.
_PHONE = re.compile(
    r"""^\s*
    (?:\+?86[\s-]?|0086[\s-]?)?       # country code, dropped
    (?P<number>[0-9][0-9\s-]{5,18}[0-9])
    \s*(?:(?:_|,|，|\#|转|ext\.?)\s*(?P<ext>[0-9]{1,6}))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
# Already masked by the platform: 138****5678, optionally with an extension.
_MASKED = re.compile(r"^\s*(?P<number>[0-9]{3}\*{3,}[0-9]{4})\s*(?:(?:_|,|，|#|转)\s*(?P<ext>[0-9]{1,6}))?\s*$")


def mask_phone(value: object) -> str:
    """A phone number with its middle digits hidden, e.g. ``138****5678``; a privacy
    number keeps its extension, which is assigned per order and lets a guard call the
    rider: ``13812345678_1234`` gives ``138****5678 转 1234``.

    An empty or unreadable value gives ``""``, never the value itself.
    """
    if value is None:
        return ""
    text = str(value)
    masked = _MASKED.match(text)
    if masked:
        return _with_extension(masked["number"], masked["ext"])
    match = _PHONE.match(text)
    if not match:
        return ""
    digits = re.sub(r"[\s-]", "", match["number"])
    # A mobile number (11 digits) or a landline with its area code keeps its first three
    # digits, like the platforms' own masks; a shorter local number only its last four,
    # or too little of it would be hidden.
    prefix = digits[:3] if len(digits) >= 11 else ""
    return _with_extension(f"{prefix}****{digits[-4:]}", match["ext"])


def _with_extension(number: str, extension: str | None) -> str:
    return f"{number} 转 {extension}" if extension else number


def mask_name(value: object) -> str:
    """A name with all but its first character hidden (``王小明`` gives ``王**``); a name
    the platform already masked (it contains ``*``) is kept as it is."""
    text = str(value or "").strip()
    if not text or "*" in text:
        return text
    return text[0] + "*" * max(1, len(text) - 1)
