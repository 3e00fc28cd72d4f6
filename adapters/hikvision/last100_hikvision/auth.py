"""HTTP authentication as Hikvision devices ask for it.

Current firmware answers an unauthenticated request with ``401`` and a Digest challenge
(RFC 2617, ``qop="auth"``, MD5); old firmware offers Basic only. :class:`DeviceAuth`
holds a connection's choice:

- ``digest``: Digest only; a device that offers nothing else fails with
  :class:`~last100_hikvision.errors.AuthSchemeError`;
- ``basic``: Basic only (the password crosses the network base64-encoded: use HTTPS);
- ``auto``: Digest, and Basic when the device offers only Basic. The scheme that worked
  is remembered, and changed back when the device's challenge changes (a firmware
  update).

:func:`digest_response` is the RFC 2617 computation, for whoever checks a Digest answer
(the simulator does).
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Literal

from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from last100_hikvision.errors import AuthenticationError, AuthSchemeError

Mode = Literal["digest", "basic", "auto"]
Scheme = Literal["digest", "basic"]

MODES: tuple[Mode, ...] = ("auto", "digest", "basic")

# A scheme name is a token followed by whitespace and the first auth-param (or the end):
# `Digest qop="auth", realm="…"` or `Basic realm="…"`. Parameters after a comma are
# `name=value` with no whitespace before the `=`, so they are not taken for schemes.
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9!#$%&\'*+.^_`|~-]*)(?=\s+[A-Za-z0-9_-]+\s*=|\s*(?:,|$))")


def auth_schemes(challenge: str) -> frozenset[str]:
    """The schemes a ``WWW-Authenticate`` value offers, lower case. ``requests`` joins
    several such headers with ``", "``, which this reads as well.

    >>> sorted(auth_schemes('Digest qop="auth", realm="IP Camera(C2183)", nonce="4e54", Basic realm="x"'))
    ['basic', 'digest']
    """
    return frozenset(m.group(1).lower() for m in _SCHEME.finditer(challenge))


def digest_response(
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    """The ``response`` of an RFC 2617 Digest answer with ``qop=auth`` and MD5:
    ``MD5(HA1:nonce:nc:cnonce:qop:HA2)`` with ``HA1 = MD5(username:realm:password)`` and
    ``HA2 = MD5(method:uri)``."""

    def md5(text: str) -> str:
        # MD5 is what the scheme (and every Hikvision device) uses, not a choice made here.
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    ha1 = md5(f"{username}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


class DeviceAuth:
    """A connection's credentials and authentication scheme; safe to share between
    threads (``requests``' Digest state is kept per thread).

    :param username: the device account.
    :param password: its password.
    :param mode: ``digest``, ``basic`` or ``auto`` (see the module's description).
    """

    def __init__(self, username: str, password: str, mode: Mode = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"auth must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode: Mode = mode
        self._auths: dict[Scheme, AuthBase] = {
            "digest": HTTPDigestAuth(username, password),
            "basic": HTTPBasicAuth(username, password),
        }
        self._scheme: Scheme = "basic" if mode == "basic" else "digest"
        self._lock = threading.Lock()

    @property
    def scheme(self) -> Scheme:
        """The scheme the next request uses."""
        with self._lock:
            return self._scheme

    def auth(self, scheme: Scheme) -> AuthBase:
        """The ``requests`` authenticator of a scheme."""
        return self._auths[scheme]

    def after_refusal(self, used: Scheme, challenge: str) -> Scheme:
        """Decide what to do after the device answered ``401`` to a request made with
        ``used``: return the scheme to retry with, or raise.

        :param challenge: the reply's ``WWW-Authenticate`` value.
        :raises AuthenticationError: the device offers ``used`` and refused the
            credentials in it.
        :raises AuthSchemeError: the device offers no scheme this mode allows.
        """
        offered = auth_schemes(challenge) & {"digest", "basic"}
        if used in offered or not offered:
            raise AuthenticationError(f"the device refused the user name or password ({used} authentication)")
        other: Scheme = "basic" if used == "digest" else "digest"
        if self.mode != "auto":
            raise AuthSchemeError(
                f"the device offers {other} authentication only, and this connection is set to {self.mode}",
                frozenset(offered),
            )
        with self._lock:
            self._scheme = other
        return other
