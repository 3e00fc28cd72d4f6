"""A pass's identity on the device, derived from the hub's grant id.

Both values are functions of the grant id, so a retried grant writes the same user and
the same card instead of a second credential:

- the **user number** (``employeeNo``) is the grant id's 32 hex digits when it is a UUID
  (the hub's are), which fits the 32 characters ISAPI allows; any other id is hashed
  down to 32 hex digits;
- the **card number** is an HMAC-SHA256 of the grant id keyed by the connection's
  ``card_secret``, read as a number and cut to ``length`` digits with no leading zero.
  Without the secret nobody can compute another rider's card from a grant id, and the
  card carries nothing about the rider.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

#: ISAPI's limit on ``employeeNo``.
EMPLOYEE_NO_LENGTH = 32

#: Card numbers are between these lengths: shorter ones could be guessed at a reader,
#: longer ones are refused by most readers.
MIN_CARD_LENGTH = 8
MAX_CARD_LENGTH = 20

# Keeps these MACs apart from anything else the secret might ever be used for.
_CONTEXT = b"last100-hikvision/card/v1\x00"


def employee_no(grant_id: str) -> str:
    """The device user number of a grant: 32 lowercase hex digits.

    >>> employee_no("0b6e1f2c-3d4e-4f50-8a6b-7c8d9e0f1a2b")
    '0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b'
    """
    try:
        return uuid.UUID(grant_id).hex
    except ValueError:
        return hashlib.sha256(grant_id.encode("utf-8")).hexdigest()[:EMPLOYEE_NO_LENGTH]


def card_number(secret: str, grant_id: str, length: int) -> str:
    """The card number of a grant: ``length`` decimal digits, the first not zero.

    :param secret: the connection's ``card_secret``.
    :param grant_id: the hub's grant id.
    :param length: how many digits the device's readers take (8 to 20).
    """
    if not MIN_CARD_LENGTH <= length <= MAX_CARD_LENGTH:
        raise ValueError(f"card numbers have {MIN_CARD_LENGTH} to {MAX_CARD_LENGTH} digits, not {length}")
    mac = hmac.new(secret.encode("utf-8"), _CONTEXT + grant_id.encode("utf-8"), hashlib.sha256).digest()
    # 256 bits reduced modulo at most 9e19: the bias is far below anything measurable.
    low = 10 ** (length - 1)
    return str(low + int.from_bytes(mac, "big") % (9 * low))
