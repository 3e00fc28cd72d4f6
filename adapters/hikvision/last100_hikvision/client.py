"""A client for a Hikvision access controller's ISAPI: visitor passes, their removal,
remote door opening and the access event log.

It knows nothing of the hub. Every call:

- authenticates as the device asks (:class:`~last100_hikvision.auth.DeviceAuth`: Digest,
  or Basic for old firmware);
- waits at most ``timeout = (connect, read)`` per network step and ``deadline_s`` for the
  whole exchange, authentication round trip and body included;
- reads at most ``max_reply_bytes``;
- raises a :mod:`last100_hikvision.errors` error for anything but the expected reply,
  ISAPI's ``ResponseStatus`` errors as typed :class:`~last100_hikvision.errors.DeviceError`
  subclasses.

Example::

    client = IsapiClient("https://10.0.0.12", DeviceAuth("admin", password))
    card = client.issue_pass(employee_no, card_no, name="rider 1a2b", door_no=1,
                             valid_from=start, valid_until=end)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import requests
import urllib3

from last100_hikvision import __version__, wire
from last100_hikvision.auth import DeviceAuth, Scheme
from last100_hikvision.errors import (
    AuthenticationError,
    BadParametersError,
    CardConflictError,
    CardNoExistsError,
    DeletionFailedError,
    DeviceBusyError,
    DeviceError,
    EmployeeNoExistsError,
    EmployeeNoNotExistError,
    HikvisionTimeout,
    InvalidOperationError,
    LowPrivilegeError,
    NotSupportedError,
    ProtocolError,
    TLSError,
    TransportError,
)

#: Replies larger than this are refused: an ISAPI reply page is a few tens of kilobytes.
MAX_REPLY_BYTES = 2 << 20

#: Pages of one event search before the client gives up on a device that keeps saying MORE.
MAX_EVENT_PAGES = 1000

#: The timezone of devices whose connection names none (the programme's cities are in China).
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)

_USER_AGENT = f"last100-hikvision/{__version__}"
_CHUNK = 16384

USER_RECORD = "/ISAPI/AccessControl/UserInfo/Record?format=json"
USER_MODIFY = "/ISAPI/AccessControl/UserInfo/Modify?format=json"
USER_DELETE = "/ISAPI/AccessControl/UserInfoDetail/Delete?format=json"
USER_DELETE_PROCESS = "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess?format=json"
CARD_RECORD = "/ISAPI/AccessControl/CardInfo/Record?format=json"
CARD_SEARCH = "/ISAPI/AccessControl/CardInfo/Search?format=json"
ACS_EVENT = "/ISAPI/AccessControl/AcsEvent?format=json"
DEVICE_INFO = "/ISAPI/System/deviceInfo"


def door_path(door_no: int) -> str:
    return f"/ISAPI/AccessControl/RemoteControl/door/{door_no}"


# ISAPI's subStatusCode first, then its statusCode, names the error.
_ERRORS_BY_SUB_STATUS: dict[str, type[DeviceError]] = {
    "badParameters": BadParametersError,
    "badJsonFormat": BadParametersError,
    "badJsonContent": BadParametersError,
    "badXmlFormat": BadParametersError,
    "badXmlContent": BadParametersError,
    "employeeNoAlreadyExist": EmployeeNoExistsError,
    "deviceUserAlreadyExist": EmployeeNoExistsError,
    "employeeNoNotExist": EmployeeNoNotExistError,
    "cardNoAlreadyExist": CardNoExistsError,
    "notSupport": NotSupportedError,
    "invalidOperation": InvalidOperationError,
    "lowPrivilege": LowPrivilegeError,
    "deviceBusy": DeviceBusyError,
}
_ERRORS_BY_STATUS_CODE: dict[int, type[DeviceError]] = {
    2: DeviceBusyError,  # Device Busy
    3: DeviceBusyError,  # Device Error
    4: InvalidOperationError,  # Invalid Operation
    5: BadParametersError,  # Invalid XML/JSON Format
    6: BadParametersError,  # Invalid XML/JSON Content
    7: DeviceBusyError,  # Reboot Required
}


def device_error(http_status: int, status: wire.Status) -> DeviceError:
    """The typed error of a refused request."""
    kind = _ERRORS_BY_SUB_STATUS.get(status.sub_status) or _ERRORS_BY_STATUS_CODE.get(status.status_code, DeviceError)
    return kind(http_status, status.status_code, status.sub_status, status.error_msg)


def _refused(status: wire.Status | None, scheme: Scheme, base: AuthenticationError) -> AuthenticationError:
    """The credentials were refused; add the account's lock state when the device gave it."""
    if status is None or not status.locked:
        return base
    wait = f" for {status.unlock_in_s} s" if status.unlock_in_s else ""
    return AuthenticationError(f"the device locked the account{wait} after refused passwords ({scheme} authentication)")


class IsapiClient:
    """Calls one access controller's ISAPI.

    :param base_url: the device, e.g. ``https://10.0.0.12`` (``/ISAPI/...`` is appended).
    :param auth: the account and authentication scheme.
    :param session: a ``requests.Session`` to reuse (connection pooling); one is created
        otherwise. The client may be used from several threads at once.
    :param timeout: ``(connect, read)`` seconds for each network step.
    :param deadline_s: the whole exchange, authentication and body included; defaults to
        the read timeout.
    :param verify_tls: check the device's certificate (``https`` only).
    :param zone: the device's timezone: validity windows are written in its wall time.
    :param max_results: records asked for per event-search page.
    :param now: the current time (aware), for the end of event searches.
    :param sleep: how to wait between polls of a deletion's progress.
    """

    def __init__(
        self,
        base_url: str,
        auth: DeviceAuth,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (1.0, 3.0),
        deadline_s: float | None = None,
        verify_tls: bool = True,
        zone: tzinfo = DEFAULT_ZONE,
        max_results: int = 30,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.session = session or requests.Session()
        self.timeout = timeout
        self.deadline_s = timeout[1] if deadline_s is None else deadline_s
        self.verify_tls = verify_tls
        self.zone = zone
        self.max_results = max_results
        self.max_reply_bytes = max_reply_bytes
        self._now = now
        self._sleep = sleep

    def close(self) -> None:
        self.session.close()

    # -- the device's calls -----------------------------------------------------------

    def device_info(self) -> wire.DeviceInfo:
        """Model, firmware and serial number; a cheap call that checks the credentials."""
        return self._read(wire.read_device_info, self._call("GET", DEVICE_INFO))

    def issue_pass(
        self,
        employee_no: str,
        card_no: str,
        *,
        name: str,
        door_no: int,
        valid_from: datetime,
        valid_until: datetime,
    ) -> str:
        """Write a visitor allowed through one door inside a validity window, holding one
        card. Safe to repeat: an existing user is modified, an existing card of this user
        is kept.

        :return: the card number the user holds (``card_no``).
        :raises CardConflictError: the card number belongs to another user.
        """
        body = wire.user_info(
            employee_no,
            name,
            door_no,
            wire.local_time(valid_from, self.zone),
            wire.local_time(valid_until, self.zone),
        )
        try:
            self._command("POST", USER_RECORD, body)
        except EmployeeNoExistsError:
            # A retried grant: move the existing user to this window and door.
            self._command("PUT", USER_MODIFY, body)
        try:
            self._command("POST", CARD_RECORD, wire.card_info(employee_no, card_no))
            return card_no
        except CardNoExistsError:
            pass
        if card_no in self.cards_of(employee_no):
            return card_no  # this user got the card on an earlier attempt
        raise CardConflictError(f"card {card_no[:2]}… is registered to another user on the device")

    def cards_of(self, employee_no: str) -> list[str]:
        """The card numbers a user holds."""
        body = wire.card_search(uuid.uuid4().hex, employee_no, self.max_results)
        cards = self._read(wire.read_cards, self._json("POST", CARD_SEARCH, body))
        return [number for owner, number in cards if owner == employee_no]

    def delete_user(self, employee_no: str, wait_s: float) -> None:
        """Delete a user with its cards and rights, and wait until the device says the
        deletion succeeded. Deleting a user the device does not know succeeds.

        :param wait_s: longest wait for the device's deletion to finish.
        :raises DeletionFailedError: the device reports the deletion failed.
        :raises HikvisionTimeout: it had not finished after ``wait_s``.
        """
        started = time.monotonic()
        try:
            self._command("PUT", USER_DELETE, wire.delete_users([employee_no]))
        except EmployeeNoNotExistError:
            return
        pause = 0.05
        while True:
            status = self._read(wire.read_delete_process, self._json("GET", USER_DELETE_PROCESS))
            if status == "success":
                return
            if status == "failed":
                raise DeletionFailedError("the device reports that deleting the user failed")
            if time.monotonic() - started + pause > wait_s:
                raise HikvisionTimeout(f"the deletion was still {status} after {wait_s:g} s")
            self._sleep(pause)
            pause = min(pause * 2, 0.5)

    def open_door(self, door_no: int) -> None:
        """Open a door once (``RemoteControlDoor`` ``open``)."""
        self._confirmed(
            f"PUT {door_path(door_no)}",
            self._call(
                "PUT",
                door_path(door_no),
                wire.remote_control_door("open"),
                content_type='application/xml; charset="UTF-8"',
            ),
        )

    def events(self, since: datetime, *, major: int = wire.MAJOR_EVENT) -> list[wire.DoorEvent]:
        """Access events after ``since``, oldest first, read page by page.

        The search runs to a day past now, so events stamped by a device clock that runs
        ahead are not skipped.
        """
        search_id = uuid.uuid4().hex
        start = wire.offset_time(since, self.zone)
        end = wire.offset_time(max(self._now(), since) + timedelta(days=1), self.zone)
        found: list[wire.DoorEvent] = []
        position = 0
        for _ in range(MAX_EVENT_PAGES):
            body = wire.acs_event_cond(search_id, position, self.max_results, start, end, major=major)
            page = self._read(lambda r: wire.read_event_page(r, self.zone), self._json("POST", ACS_EVENT, body))
            found.extend(page.events)
            if page.status != wire.MORE:
                break
            if page.matches <= 0:
                raise ProtocolError("the event search said MORE but returned no records")
            position += page.matches
        else:
            raise ProtocolError(f"the event search went on for more than {MAX_EVENT_PAGES} pages")
        # The device's start time is inclusive and to the second; the hub asks for events after it.
        return sorted((e for e in found if e.occurred_at > since), key=lambda e: (e.occurred_at, e.serial_no))

    # -- one exchange -----------------------------------------------------------------

    @staticmethod
    def _read(reader: Callable[[Any], Any], reply: Any) -> Any:
        try:
            return reader(reply)
        except ValueError as exc:
            raise ProtocolError(f"malformed reply: {exc}") from None

    def _command(self, method: str, path: str, body: Mapping[str, Any]) -> None:
        """A call that changes the device: done only when the device says so."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        reply = self._call(method, path, data, content_type="application/json")
        self._confirmed(f"{method} {path.split('?')[0]}", reply)

    @staticmethod
    def _confirmed(what: str, content: bytes) -> None:
        """A change is done when the reply is a ``ResponseStatus`` saying OK; anything
        else (another document, a proxy's page) must not pass for a pass issued or a
        door opened. Error statuses have already raised."""
        status = wire.read_status(content)
        if status is None or not status.ok:
            raise ProtocolError(f"{what}: the reply is not an ISAPI ResponseStatus saying OK")

    def _json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        content = self._call(method, path, data, content_type="application/json" if data is not None else None)
        try:
            return json.loads(content)
        except ValueError:
            raise ProtocolError(f"{method} {path.split('?')[0]}: reply is not JSON") from None

    def _call(self, method: str, path: str, data: bytes | None = None, content_type: str | None = None) -> bytes:
        """One request, authenticated as the device asks; the body of a successful reply.
        A ``ResponseStatus`` with an error, whatever the HTTP status, raises."""
        what = f"{method} {path.split('?')[0]}"
        headers = {"User-Agent": _USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        started = time.monotonic()
        scheme = self.auth.scheme
        for _ in range(2):
            status_code, content, challenge = self._send(method, path, data, headers, scheme, started, what)
            if status_code != 401:
                return self._outcome(status_code, content, what)
            try:
                scheme = self.auth.after_refusal(scheme, challenge)
            except AuthenticationError as exc:
                raise _refused(wire.read_status(content), scheme, exc) from None
        # Refused in one scheme, then challenged back to the first: give up rather than loop.
        raise AuthenticationError(f"{what}: the device refused both Digest and Basic authentication")

    def _send(
        self,
        method: str,
        path: str,
        data: bytes | None,
        headers: dict[str, str],
        scheme: Scheme,
        started: float,
        what: str,
    ) -> tuple[int, bytes, str]:
        remaining = self.deadline_s - (time.monotonic() - started)
        if remaining <= 0:
            raise HikvisionTimeout(f"{what}: no time left for another attempt within {self.deadline_s:g} s")
        connect, read = self.timeout
        try:
            # No redirects: a redirected request would carry the credentials elsewhere.
            response = self.session.request(
                method,
                self.base_url + path,
                data=data,
                headers=headers,
                auth=self.auth.auth(scheme),
                timeout=(min(connect, remaining), min(read, remaining)),
                verify=self.verify_tls,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError:
            raise TLSError(f"{what}: the device's TLS certificate could not be verified") from None
        except requests.Timeout as exc:
            raise HikvisionTimeout(f"{what}: no answer in time ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        with response:
            content = self._body(response, started, what)
        return response.status_code, content, response.headers.get("WWW-Authenticate", "")

    def _body(self, response: requests.Response, started: float, what: str) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_reply_bytes:
            raise ProtocolError(f"{what}: reply of {declared} bytes is too large")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                # read1 returns what has arrived instead of waiting for a full chunk, so
                # the deadline is checked while a slow body trickles in.
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise ProtocolError(f"{what}: reply is larger than {self.max_reply_bytes} bytes")
                chunks.append(chunk)
                if time.monotonic() - started > self.deadline_s:
                    raise HikvisionTimeout(f"{what}: reply not complete within {self.deadline_s:g} s")
        # Reading the raw stream raises urllib3's errors, not requests' wrappers of them.
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise HikvisionTimeout(f"{what}: reply stalled for longer than the read timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{what}: reply broken off ({type(exc).__name__})") from None
        return b"".join(chunks)

    @staticmethod
    def _outcome(status_code: int, content: bytes, what: str) -> bytes:
        status = wire.read_status(content)
        if status is not None and status.sub_status == "badAuthorization":
            raise AuthenticationError(f"{what}: the device refused the account (badAuthorization)")
        if 200 <= status_code < 300:
            # Some firmware answers HTTP 200 with an error status in the body.
            if status is not None and not status.ok:
                raise device_error(status_code, status)
            return content
        if status is not None and not status.ok:
            raise device_error(status_code, status)
        raise ProtocolError(f"{what}: HTTP {status_code} without an ISAPI ResponseStatus")
