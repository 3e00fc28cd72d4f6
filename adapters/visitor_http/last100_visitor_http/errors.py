"""The errors of the visitor-system client and signature check.

They speak HTTP and the visitor system's terms only (no hub types), so the client can be
used without the hub; :mod:`last100_visitor_http.plugin` maps them onto
:mod:`hub.core.errors`.
"""

from __future__ import annotations


class VisitorHttpError(Exception):
    """Base class of every error this package raises on purpose."""


class TransportError(VisitorHttpError):
    """The system could not be reached (DNS, refused connection, TLS, reset)."""


class VisitorHttpTimeout(TransportError):
    """The system did not answer, or did not finish its answer, in time."""


class ProtocolError(VisitorHttpError):
    """The system answered something the connection's settings cannot read: a redirect,
    a reply that is not JSON where a path must be read, no record id where
    ``record_id_path`` points, a reply too large."""


class StatusError(VisitorHttpError):
    """The system answered with an HTTP error status (4xx or 5xx).

    :ivar status: the HTTP status.
    :ivar message: the system's own message, as read from the reply (may be empty).
    """

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(f"HTTP {status}" + (f": {message}" if message else ""))
        self.status = status
        self.message = message

    @property
    def signature_refused(self) -> bool:
        """401 or 403: the system did not accept the hub's signature or key id."""
        return self.status in (401, 403)

    @property
    def client_error(self) -> bool:
        """A 4xx other than rate limiting: the request itself is wrong and sending it
        again unchanged will not help."""
        return 400 <= self.status < 500 and self.status != 429


class NotAccepted(VisitorHttpError):
    """The system answered 2xx, but the value at ``success_path`` says it did not take
    the record (e.g. ``{"code": 1001, "msg": "invalid leaveTime"}``).

    :ivar path: the configured ``success_path``.
    :ivar value: the value found there, as text (``""`` when absent).
    :ivar message: the system's own message (may be empty).
    """

    def __init__(self, path: str, value: str, message: str = "") -> None:
        super().__init__(f"{path}={value!r}" + (f": {message}" if message else ""))
        self.path = path
        self.value = value
        self.message = message


class SignatureError(VisitorHttpError):
    """A request fails the signature check (raised by
    :func:`last100_visitor_http.signing.verify`, which visitor systems and the simulator
    use).

    :ivar code: ``signature_missing``, ``timestamp_invalid``, ``timestamp_out_of_range``
        or ``signature_invalid``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
