"""Console users: roles and argon2id password hashes."""

from __future__ import annotations

import enum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.core.errors import HubError

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class Role(enum.StrEnum):
    OPERATOR = "operator"  # everything
    MANAGER = "manager"  # their own communities
    GUARD = "guard"  # the manual-check queue of their gates


class InvalidPassword(HubError):
    code = "invalid_password"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
