"""API keys: how platform back ends, gate scanners and guard handhelds authenticate.

A key looks like ``l100_<prefix>_<secret>``. The ``prefix`` (12 hex digits) finds the
key's row; the ``secret`` (32 random bytes, URL-safe base64) proves it. Only the SHA-256
of the secret is stored: the secret is random and 256 bits long, so a slow password hash
would add nothing but time to every request, and a stolen database still gives no key.

A key is scoped: ``connection_ids`` are the platform connections it may enter riders
through, ``community_ids`` the communities whose entries and profiles it may read. An
empty scope allows nothing; ``*`` allows everything.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.core.errors import HubError

if TYPE_CHECKING:
    from hub.core.store import Store

#: Every key starts with this, so secret scanners and people can recognise one.
KEY_MARK = "l100"
#: A scope entry that allows every connection (or community).
ALL = "*"
#: ``last_used_at`` is written at most this often per key, not on every request.
TOUCH_EVERY = timedelta(minutes=1)

_KEY = re.compile(rf"^{KEY_MARK}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]{0,99}$")


class ApiKeyError(HubError):
    """An API key cannot be made as asked (a bad name or scope)."""

    code = "invalid_api_key"


@dataclass(frozen=True)
class ApiKey:
    """A stored API key, without its secret."""

    id: int
    name: str
    prefix: str
    connection_ids: frozenset[str]
    community_ids: frozenset[str]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def may_use(self, connection_id: str) -> bool:
        """Whether the key may enter riders through this connection."""
        return ALL in self.connection_ids or connection_id in self.connection_ids

    def may_see(self, community_id: str) -> bool:
        """Whether the key may read this community's profile and entries."""
        return ALL in self.community_ids or community_id in self.community_ids


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: ``key`` is what the client sends, shown once."""

    prefix: str
    secret: str

    @property
    def key(self) -> str:
        return f"{KEY_MARK}_{self.prefix}_{self.secret}"

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)


def generate() -> NewKey:
    return NewKey(secrets.token_hex(6), secrets.token_urlsafe(32))


def parse(presented: str) -> tuple[str, str] | None:
    """The (prefix, secret) of a key as a client sent it; ``None`` when it is not
    shaped like one of ours."""
    match = _KEY.match(presented.strip())
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_name(name: str) -> str:
    """A key's name: 1–100 printable characters, not starting with a space and not a
    number (``apikeys revoke`` takes a name or an id)."""
    if not _NAME.match(name) or name.isdigit():
        raise ApiKeyError(f"{name!r} is not a usable key name: 1-100 printable characters, not only digits")
    return name


def check_scope(values: Collection[str], what: str) -> list[str]:
    cleaned = sorted({v.strip() for v in values})
    if any(not v for v in cleaned):
        raise ApiKeyError(f"an empty {what} id is not a scope; use {ALL!r} for all")
    return cleaned


def create(
    store: Store,
    name: str,
    connection_ids: Collection[str],
    community_ids: Collection[str],
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Make and store a key; returns it with the full key, to be shown once.

    :raises ApiKeyError: a bad name or scope. :raises Conflict: the name is taken.
    :raises NotFound: an unknown connection or community in the scope.
    """
    new = generate()
    stored = store.add_api_key(
        check_name(name),
        new.prefix,
        new.secret_hash,
        check_scope(connection_ids, "connection"),
        check_scope(community_ids, "community"),
        actor=actor,
    )
    return stored, new.key


def authenticate(store: Store, presented: str, now: datetime) -> ApiKey | None:
    """The active key a client presented; ``None`` when it is malformed, unknown,
    wrong or revoked. Marks the key used (at most once per :data:`TOUCH_EVERY`)."""
    parsed = parse(presented)
    if parsed is None:
        return None
    prefix, secret = parsed
    found = store.api_key_by_prefix(prefix)
    if found is None:
        return None
    key, secret_hash = found
    if not hmac.compare_digest(secret_hash, hash_secret(secret)) or key.revoked:
        return None
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        store.touch_api_key(key.id)
    return key
