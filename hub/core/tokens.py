"""Signed gate codes and rotating presence codes.

**Gate codes.** What a gate's printed QR carries: the gate's code plus a signature, so a
code cannot be forged or guessed from another gate's (``sunny-north`` is useless without
its signature). A forged or unknown code gets the same answer as a deleted gate, so the
answers say nothing about which gates exist.

**Presence codes.** A gate with a screen shows a code that changes every 30 seconds
(RFC 6238 TOTP, a secret per gate derived from the deployment's key); a rider who typed
or scanned it was at the gate a moment ago. One step of tolerance either way absorbs a
slow rider and clock drift; each value is accepted once per rider (the engine records
it), so a photo of the screen is useless elsewhere and later.

Both are keyed by ``gate_key`` from the configuration: changing it invalidates every
printed gate code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

import pyotp
from itsdangerous import BadSignature, Signer

from hub.core.errors import NotFound

PRESENCE_STEP_S = 30


class GateCodes:
    """Signs and verifies the codes printed at gates, and the private address of each
    gate's screen (a different signature: knowing the printed code does not give the
    screen, whose page shows the current presence code)."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("a gate key is needed to sign gate codes")
        self._signer = Signer(key, salt="last100.gate-code", sep=".")
        self._screens = Signer(key, salt="last100.gate-screen", sep=".")

    def sign(self, gate_code: str) -> str:
        return self._signer.sign(gate_code).decode()

    def verify(self, signed: str) -> str:
        """The gate code inside a signed code.

        :raises NotFound: forged, truncated or not a gate code at all.
        """
        return _unsign(self._signer, signed)

    def screen_token(self, gate_code: str) -> str:
        return self._screens.sign(gate_code).decode()

    def verify_screen(self, token: str) -> str:
        """The gate code a screen token names.

        :raises NotFound: forged, or a printed gate code rather than a screen token.
        """
        return _unsign(self._screens, token)


def _unsign(signer: Signer, signed: str) -> str:
    try:
        value = signer.unsign(signed).decode()
    except (BadSignature, UnicodeError):  # UnicodeEncodeError: a lone surrogate from JSON
        raise NotFound("no gate has this code") from None
    # The signature's last base64 character carries unused bits, which unsign ignores:
    # only the spelling the hub printed is a gate code, so one gate has one code (and one
    # rider page address, and one idempotency fingerprint).
    if not hmac.compare_digest(signer.sign(value), signed.encode()):
        raise NotFound("no gate has this code")
    return value


class PresenceCodes:
    """The rotating codes shown on gate screens."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("a gate key is needed for presence codes")
        self._key = key.encode()

    def _totp(self, gate_id: str) -> pyotp.TOTP:
        seed = hmac.new(self._key, f"last100.presence:{gate_id}".encode(), hashlib.sha256).digest()
        return pyotp.TOTP(base64.b32encode(seed).decode(), interval=PRESENCE_STEP_S)

    def current(self, gate_id: str, at: datetime) -> str:
        """The code the gate's screen shows at ``at``."""
        return self._totp(gate_id).at(at)

    def step(self, gate_id: str, value: str, at: datetime) -> int | None:
        """The time step ``value`` belongs to, if it is the current code or one step
        either side of it; ``None`` when it is not a valid code now (whatever was typed:
        letters, full-width digits, anything)."""
        typed = value.strip()
        # compare_digest refuses non-ASCII text with a TypeError; no such text is a code.
        if not typed.isascii():
            return None
        totp = self._totp(gate_id)
        now = totp.timecode(at)
        for step in (now, now - 1, now + 1):
            if hmac.compare_digest(totp.generate_otp(step), typed):
                return step
        return None
