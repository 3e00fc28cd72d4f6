"""The errors of the locker client and of request-signature checks.

They speak the protocol's terms only (no hub types), so the client can be used without
the hub; :mod:`last100_locker.plugin` maps them onto :mod:`hub.core.errors`.
"""

from __future__ import annotations


class LockerError(Exception):
    """Base class of every error this package raises on purpose."""


class TransportError(LockerError):
    """The controller could not be reached (DNS, refused connection, TLS, reset)."""


class LockerTimeout(TransportError):
    """The controller did not answer in time."""


class ProtocolError(LockerError):
    """The controller answered something that is not a Locker Bank Protocol reply (not
    JSON, a missing or mistyped field, an unexpected status)."""


class ApiError(LockerError):
    """The controller answered an error status with a problem document (RFC 9457).

    :ivar status: the HTTP status.
    :ivar code: the problem's machine-readable ``code`` (see the README's error table).
    :ivar detail: the problem's human-readable detail.
    """

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"HTTP {status} {code}" + (f": {detail}" if detail else ""))
        self.status = status
        self.code = code
        self.detail = detail


class AuthenticationError(ApiError):
    """The controller refused the request signature (HTTP 401): ``code`` says whether
    the key id is unknown, the signature wrong or the timestamp more than five minutes
    off."""


class NotFoundError(ApiError):
    """The controller does not know the bank or the allocation (HTTP 404)."""


class NoFreeCompartment(ApiError):
    """No compartment of the asked zone and of the asked size or larger is free
    (HTTP 409 ``no_free_compartment``)."""


class ServerError(ApiError):
    """The controller failed (HTTP 5xx) or is shedding load (HTTP 429)."""


class RequestSignatureError(LockerError):
    """A request fails signature verification (raised by
    :func:`last100_locker.signing.verify_request`, which controllers and the simulator use).

    :ivar code: the problem code to answer 401 with: ``signature_missing``,
        ``key_unknown``, ``timestamp_out_of_range`` or ``signature_invalid``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
