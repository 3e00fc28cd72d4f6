"""The errors of the RiderPass client, push verifier and entry-code verifier.

They speak the protocol's terms only (no hub types), so the client can be used without
the hub; :mod:`last100_riderpass.plugin` maps them onto :mod:`hub.core.errors`.
"""

from __future__ import annotations

from typing import Literal


class RiderPassError(Exception):
    """Base class of every error this package raises on purpose."""


# -- calling the platform -----------------------------------------------------------


class TransportError(RiderPassError):
    """The platform could not be reached (DNS, refused connection, TLS, reset)."""


class RiderPassTimeout(TransportError):
    """The platform did not answer, or did not finish its answer, in time."""


class ProtocolError(RiderPassError):
    """The platform answered something that is not a RiderPass reply (not JSON, a
    missing or mistyped field, an unexpected status)."""


class ApiError(RiderPassError):
    """The platform answered with a problem document (RFC 9457) for an error status.

    :ivar status: the HTTP status.
    :ivar code: the problem's machine-readable ``code`` (see the protocol's error table).
    :ivar detail: the problem's human-readable detail; platforms must not put secrets or
        personal data in it, but it is still kept out of the hub's messages.
    """

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code
        self.detail = detail


class AuthenticationError(ApiError):
    """The platform refused the hub's request signature (HTTP 401): wrong key id or
    secret, or the hub's clock is more than five minutes off."""


class CredentialError(ApiError):
    """The platform rejected the rider's credential (HTTP 422): ``code`` is
    ``credential_invalid`` or ``credential_expired``."""

    @property
    def expired(self) -> bool:
        return self.code == "credential_expired"


class NotFoundError(ApiError):
    """The platform does not know the order or rider asked about (HTTP 404)."""


class ConflictError(ApiError):
    """The platform holds newer state than the hub sent (HTTP 409), e.g. a community
    profile of a higher version."""


class ServerError(ApiError):
    """The platform failed (HTTP 5xx) or is shedding load (HTTP 429)."""


# -- pushes -------------------------------------------------------------------------


class PushVerificationError(RiderPassError):
    """A push is not authentic or not fresh: a header is missing, no signature matches
    any push secret, or its timestamp is more than five minutes off."""


class PushFormatError(RiderPassError):
    """A push is authentic but its body is not a RiderPass event."""


# -- entry codes --------------------------------------------------------------------

EntryCodeProblem = Literal["invalid", "expired", "not_yet_valid", "too_long_lived", "wrong_community"]


class EntryCodeError(RiderPassError):
    """A rider's entry code cannot be accepted.

    :ivar problem: ``invalid`` (not a code signed by a configured key, or malformed),
        ``expired``, ``not_yet_valid`` (issued in the future), ``too_long_lived``
        (valid for more than the protocol's five minutes) or ``wrong_community``.
    """

    def __init__(self, problem: EntryCodeProblem, message: str) -> None:
        super().__init__(message)
        self.problem: EntryCodeProblem = problem


# -- the platform's side of request signing --------------------------------------------


class RequestSignatureError(RiderPassError):
    """A request claiming to come from a hub fails signature verification (raised by
    :func:`last100_riderpass.signing.verify_request`, which platforms and the simulator use).

    :ivar code: the problem code to answer with: ``signature_missing``, ``key_unknown``,
        ``timestamp_out_of_range`` or ``signature_invalid``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
