"""The errors of the ISAPI client and push reader.

They speak ISAPI's terms only (no hub types), so the client can be used without the hub;
:mod:`last100_hikvision.plugin` maps them onto :mod:`hub.core.errors`.
"""

from __future__ import annotations


class HikvisionError(Exception):
    """Base class of every error this package raises on purpose."""


# -- reaching the device ------------------------------------------------------------


class TransportError(HikvisionError):
    """The device could not be reached (DNS, refused connection, reset)."""


class TLSError(TransportError):
    """The device's TLS certificate could not be verified."""


class HikvisionTimeout(TransportError):
    """The device did not answer, or did not finish its answer, in time."""


class ProtocolError(HikvisionError):
    """The device answered something that is not an ISAPI reply (not JSON or XML, a
    missing or mistyped field, an unexpected HTTP status)."""


# -- authentication -------------------------------------------------------------------


class AuthenticationError(HikvisionError):
    """The device refused the user name or password (HTTP 401), or the account is
    locked after too many failed attempts."""


class AuthSchemeError(AuthenticationError):
    """The device does not offer the authentication scheme the connection is set to
    (e.g. ``digest`` against old firmware that offers Basic only).

    :ivar offered: the schemes the device offered, lower case.
    """

    def __init__(self, message: str, offered: frozenset[str]) -> None:
        super().__init__(message)
        self.offered = offered


# -- ISAPI's own error replies --------------------------------------------------------


class DeviceError(HikvisionError):
    """The device refused a request with an ISAPI ``ResponseStatus``.

    :ivar http_status: the HTTP status of the reply.
    :ivar status_code: ISAPI's ``statusCode`` (2 busy, 3 device error, 4 invalid
        operation, 5 invalid format, 6 invalid content, 7 reboot required).
    :ivar sub_status: ISAPI's ``subStatusCode``, e.g. ``badParameters``.
    :ivar error_msg: ISAPI's ``errorMsg`` (often the name of the offending field).
    """

    def __init__(self, http_status: int, status_code: int, sub_status: str, error_msg: str = "") -> None:
        detail = f" ({error_msg})" if error_msg and error_msg != sub_status else ""
        super().__init__(f"HTTP {http_status}, statusCode {status_code}, {sub_status or 'no subStatusCode'}{detail}")
        self.http_status = http_status
        self.status_code = status_code
        self.sub_status = sub_status
        self.error_msg = error_msg


class BadParametersError(DeviceError):
    """A value the device does not accept (``badParameters``, ``badJsonContent``, …)."""


class EmployeeNoExistsError(DeviceError):
    """The user already exists (``employeeNoAlreadyExist`` or, on some firmware,
    ``deviceUserAlreadyExist``)."""


class EmployeeNoNotExistError(DeviceError):
    """The user the request names does not exist (``employeeNoNotExist``)."""


class CardNoExistsError(DeviceError):
    """The card number is already registered (``cardNoAlreadyExist``)."""


class NotSupportedError(DeviceError):
    """The device does not support the request (``notSupport``)."""


class InvalidOperationError(DeviceError):
    """The device refused the operation (``statusCode`` 4, e.g. ``invalidOperation``)."""


class LowPrivilegeError(InvalidOperationError):
    """The account may not do this (``lowPrivilege``): it is not an administrator."""


class DeviceBusyError(DeviceError):
    """The device is busy or failed internally (``statusCode`` 2, 3 or 7)."""


class CardConflictError(HikvisionError):
    """The pass's card number is registered to another user on the device."""


class DeletionFailedError(HikvisionError):
    """The device reported that deleting a user failed, or did not finish in time."""


# -- pushes ---------------------------------------------------------------------------


class PushAuthError(HikvisionError):
    """A push did not carry the connection's push token."""


class PushFormatError(HikvisionError):
    """A push carried the token but is not an ISAPI event message."""
