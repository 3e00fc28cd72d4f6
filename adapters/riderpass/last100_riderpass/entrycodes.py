"""Offline rider entry codes: short-lived JWTs a platform signs with Ed25519.

The rider app shows the code as a QR; the gate's scanner or the guard's handheld reads it
and the hub verifies it with the platform's public key, with no call to the platform, so
riders get in while the platform (or the network) is down.

A code is a compact JWS (RFC 7515/7519) with header ``{"alg": "EdDSA", "typ": "JWT"}``
and, optionally, ``"kid"``: the RFC 7638 thumbprint of the signing key
(:func:`key_thumbprint`). Its claims:

``sub``           the rider's ref at the platform (required)
``orders``        the order refs the rider is delivering (required, may be empty)
``community``     the hub's community id the code is for (required)
``iat``, ``exp``  issued / expires, unix seconds; ``exp - iat`` at most 300 (required)
``jti``           a unique id, so the hub can refuse a second use (required)
``masked_name``, ``masked_phone``   as in a verification reply (optional)

Only EdDSA is accepted: ``alg: none``, HMAC algorithms (whose "secret" would be the
public key) and every other algorithm are refused whatever the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from last100_riderpass.errors import EntryCodeError

#: The longest a code may be valid, from issue (or from now) to expiry.
MAX_LIFETIME_S = 300

#: Longer text is refused before any parsing: a QR code reader can hand over anything.
MAX_CODE_CHARS = 2048

#: The default tolerance for the clocks of the platform and the gate disagreeing.
DEFAULT_LEEWAY_S = 30

_ALGORITHMS = ["EdDSA"]
_REQUIRED = ("sub", "orders", "community", "iat", "exp", "jti")


@dataclass(frozen=True)
class EntryCode:
    """A verified entry code's claims."""

    rider_ref: str
    order_refs: tuple[str, ...]
    community_id: str
    issued_at: datetime
    expires_at: datetime
    code_id: str
    masked_name: str = ""
    masked_phone: str = ""


def load_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (``-----BEGIN PUBLIC KEY-----``) or from its 32 raw
    bytes in base64 or base64url.

    :raises ValueError: neither, or not an Ed25519 key.
    """
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ValueError("not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither PEM nor base64") from None
    if len(raw) != 32:
        raise ValueError(f"a raw Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_thumbprint(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: the ``kid`` a
    platform may put in a code's header to say which of its keys signed it."""
    jwk = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public_key(key))}, separators=(",", ":"))
    return _b64url(hashlib.sha256(jwk.encode("ascii")).digest())


class EntryCodeVerifier:
    """Verifies entry codes against a platform's public keys, locally.

    :param public_keys: every key the platform may sign with (more than one while it
        rotates keys).
    :param leeway_s: how far the platform's clock may be off, for ``exp`` and ``iat``.
    """

    def __init__(self, public_keys: Iterable[Ed25519PublicKey], leeway_s: int = DEFAULT_LEEWAY_S) -> None:
        self._keys = {key_thumbprint(k): k for k in public_keys}
        self.leeway_s = leeway_s

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def verify(self, code: str, community_id: str, now: datetime) -> EntryCode:
        """Check a code's signature, shape, lifetime and community.

        :param community_id: the hub's id of the community whose gate read the code.
        :param now: the gate's time (aware).
        :raises EntryCodeError: the code cannot be accepted; ``problem`` says why.
        """
        if len(code) > MAX_CODE_CHARS:
            # Not worth parsing: a real code is a few hundred characters.
            raise EntryCodeError("invalid", "the entry code is too long")
        claims = self._claims(code)
        entry = _read_claims(claims)
        instant = now.timestamp()
        issued, expires = entry.issued_at.timestamp(), entry.expires_at.timestamp()
        if expires <= issued:
            raise EntryCodeError("invalid", "the entry code expires before it was issued")
        if expires - issued > MAX_LIFETIME_S or expires > instant + MAX_LIFETIME_S + self.leeway_s:
            raise EntryCodeError("too_long_lived", f"the entry code is valid for more than {MAX_LIFETIME_S} s")
        if instant > expires + self.leeway_s:
            raise EntryCodeError("expired", "the entry code has expired")
        if issued > instant + self.leeway_s:
            raise EntryCodeError("not_yet_valid", "the entry code was issued in the future")
        if entry.community_id != community_id:
            raise EntryCodeError("wrong_community", "the entry code is for another community")
        return entry

    def _claims(self, code: str) -> dict:
        try:
            header = jwt.get_unverified_header(code)
        except jwt.PyJWTError:
            raise EntryCodeError("invalid", "the entry code is not a JWT") from None
        kid = header.get("kid")
        keys: Sequence[Ed25519PublicKey] = (
            [self._keys[kid]] if isinstance(kid, str) and kid in self._keys else list(self._keys.values())
        )
        for key in keys:
            try:
                # Times are checked by ``verify`` against the gate's clock, with the
                # protocol's lifetime rule, which PyJWT does not know.
                return jwt.decode(
                    code,
                    key,
                    algorithms=_ALGORITHMS,
                    options={
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                        "verify_aud": False,
                        "verify_iss": False,
                        "require": list(_REQUIRED),
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise EntryCodeError("invalid", f"the entry code is malformed ({type(exc).__name__})") from None
        raise EntryCodeError("invalid", "the entry code is not signed by a key of this platform")


def _read_claims(claims: dict) -> EntryCode:
    orders = claims["orders"]
    strings = ("sub", "community", "jti")
    if any(not isinstance(claims[name], str) or not claims[name] for name in strings):
        raise EntryCodeError("invalid", "sub, community and jti must be non-empty strings")
    if not isinstance(orders, list) or not all(isinstance(o, str) and o for o in orders):
        raise EntryCodeError("invalid", "orders must be a list of order refs")
    times = (claims["iat"], claims["exp"])
    if any(isinstance(t, bool) or not isinstance(t, int | float) for t in times):
        raise EntryCodeError("invalid", "iat and exp must be unix times")
    try:
        issued_at, expires_at = (datetime.fromtimestamp(t, UTC) for t in times)
    except (ValueError, OverflowError, OSError):  # NaN, infinity, or past the years datetime holds
        raise EntryCodeError("invalid", "iat and exp must be unix times") from None
    masked = [claims.get(name, "") for name in ("masked_name", "masked_phone")]
    if any(not isinstance(m, str) for m in masked):
        raise EntryCodeError("invalid", "masked_name and masked_phone must be strings")
    return EntryCode(
        rider_ref=claims["sub"],
        order_refs=tuple(orders),
        community_id=claims["community"],
        issued_at=issued_at,
        expires_at=expires_at,
        code_id=claims["jti"],
        masked_name=masked[0],
        masked_phone=masked[1],
    )


def issue_entry_code(
    private_key: Ed25519PrivateKey,
    *,
    rider_ref: str,
    order_refs: Sequence[str],
    community_id: str,
    now: datetime,
    ttl_s: int = 120,
    code_id: str | None = None,
    masked_name: str = "",
    masked_phone: str = "",
) -> str:
    """Sign an entry code, as a platform does (the simulator uses this).

    :param ttl_s: seconds until it expires; a hub refuses codes living over 300 s.
    :param code_id: the ``jti``; a random one by default.
    """
    issued = int(now.timestamp())
    claims: dict = {
        "sub": rider_ref,
        "orders": list(order_refs),
        "community": community_id,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": code_id or uuid.uuid4().hex,
    }
    if masked_name:
        claims["masked_name"] = masked_name
    if masked_phone:
        claims["masked_phone"] = masked_phone
    kid = key_thumbprint(private_key.public_key())
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid})
