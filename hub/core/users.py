"""Console users: roles, argon2id password hashes, TOTP second factors and sessions."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.core.errors import HubError

MIN_PASSWORD_LENGTH = 12
#: Shown in authenticator apps next to the username.
TOTP_ISSUER = "Last100 Hub"
#: Codes of the time step before and after the current one are accepted too (clock drift).
TOTP_DRIFT_STEPS = 1

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when a username is unknown, so that answer takes as long as a wrong
# password and does not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class Role(enum.StrEnum):
    OPERATOR = "operator"  # everything
    MANAGER = "manager"  # their own communities
    GUARD = "guard"  # the manual-check queue of their gates


class InvalidPassword(HubError):
    code = "invalid_password"


@dataclass(frozen=True)
class UserAccount:
    """A console user as the store keeps it, without its password hash or TOTP secret.

    ``community_ids`` are the communities a manager or guard works for (an operator's
    are unused: operators see everything); ``gate_ids`` narrows a guard to some gates of
    those communities (empty: all of them).
    """

    id: int
    username: str
    role: Role
    disabled: bool
    totp: bool
    created_at: datetime
    community_ids: frozenset[str] = frozenset()
    gate_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LoginRecord:
    """What signing in needs to check: the account, its password hash and its TOTP
    secret (``None`` when no second factor is set)."""

    account: UserAccount
    password_hash: str
    totp_secret: str | None


@dataclass(frozen=True)
class ConsoleSession:
    """A console session as stored (see :class:`hub.core.db.ConsoleSessionRow`)."""

    id: str
    user: UserAccount
    address: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``password_hash=None`` (an unknown user) takes as
    long as a real check and answers ``False``."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """A random base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code ``code`` is, within the allowed drift of ``at``; ``None``
    when it is none of them. Callers refuse a step at or before the last one used, so a
    code cannot be replayed."""
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - TOTP_DRIFT_STEPS, now_step + TOTP_DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
