"""Encryption at rest for the secret settings of connections (API keys, app secrets).

The secret settings of one connection are stored as one Fernet token of their JSON. The
keys come from the deployment's configuration (``secret_keys`` / ``LAST100_SECRET_KEYS``,
comma-separated): the first key encrypts, every key decrypts. To rotate, put a new key
first, keep the old one second until every connection was re-saved (or
``Store.rotate_secrets()`` ran), then drop the old key.

Neither keys nor secret values ever appear in a ``repr``, a log line or an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.core.errors import HubError

SECRET_KEYS_ENV = "LAST100_SECRET_KEYS"


class SecretsError(HubError):
    """Secrets cannot be encrypted or decrypted with the configured keys."""

    code = "secrets_error"


def generate_key() -> str:
    """A new random Fernet key, as text for ``secret_keys`` / ``LAST100_SECRET_KEYS``."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals and opens the secret settings of connections with a list of Fernet keys.

    An empty key list is allowed, so a hub whose connections have no secrets runs
    without keys; sealing or opening a secret then fails with a clear message.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str):
            # A string is a sequence too: its characters would each be taken for a key.
            raise TypeError(f"{SECRET_KEYS_ENV} must be given as a list of keys, not one string")
        fernets = []
        for position, key in enumerate((k.strip() for k in keys if k.strip()), start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError):
                # Deliberately without the key itself, which may be almost right.
                raise SecretsError(
                    f"{SECRET_KEYS_ENV}: key {position} is not a valid Fernet key "
                    "(expected 32 url-safe base64-encoded bytes; generate one with "
                    "'last100 keys generate')"
                ) from None
        self._fernet = MultiFernet(fernets) if fernets else None
        self._count = len(fernets)

    def __repr__(self) -> str:
        return f"SecretBox({self._count} key{'s' if self._count != 1 else ''})"

    def encrypt(self, values: Mapping[str, Any], *, owner: str) -> str:
        """Seal ``values`` (JSON-serialisable) with the first key.

        :param owner: what the secrets belong to, for error messages (``"connection x"``).
        """
        fernet = self._require(owner)
        plain = json.dumps(dict(values), sort_keys=True, separators=(",", ":")).encode("utf-8")
        return fernet.encrypt(plain).decode("ascii")

    def decrypt(self, token: str, *, owner: str) -> dict[str, Any]:
        """Open a token sealed by :meth:`encrypt` with any configured key."""
        fernet = self._require(owner)
        try:
            plain = fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretsError(
                f"{owner}'s secrets cannot be decrypted with the configured {SECRET_KEYS_ENV} "
                "(was the key that encrypted them removed or changed?)"
            ) from None
        return json.loads(plain)

    def rotate(self, token: str, *, owner: str) -> str:
        """Re-seal a token with the first key (its content is unchanged)."""
        return self.encrypt(self.decrypt(token, owner=owner), owner=owner)

    def _require(self, owner: str) -> MultiFernet:
        if self._fernet is None:
            raise SecretsError(
                f"{owner} has secret settings but no {SECRET_KEYS_ENV} are configured "
                "(generate a key with 'last100 keys generate')"
            )
        return self._fernet
