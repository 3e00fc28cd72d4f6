"""ISAPI's messages: the JSON and XML the client sends and the device answers.

Everything here is pure (no network, no hub), so each message can be checked against
the recorded payloads in the tests. Names follow the ISAPI access-control API:
``UserInfo``, ``CardInfo``, ``UserInfoDetail``, ``AcsEventCond``, ``RemoteControlDoor``,
``ResponseStatus``, ``DeviceInfo`` and the ``AccessControllerEvent`` of event pushes.

Times: a user's validity window (``Valid.beginTime``/``endTime``) is device-local wall
time without an offset; event searches and event records carry an offset
(``2026-01-05T12:00:00+08:00``), and a few old devices answer in UTC (``…Z``). Every time
read here comes back as an aware UTC ``datetime``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

#: The namespace of ISAPI's XML messages.
XML_NS = "http://www.isapi.org/ver20/XMLSchema"

# -- access control event codes (ISAPI "Access Control Event Types") ------------------

#: ``major`` of access events (card, face, fingerprint, QR authentication).
MAJOR_EVENT = 0x5
#: ``major`` of operations (remote door opening and the like).
MAJOR_OPERATION = 0x3

MINOR_LEGAL_CARD_PASS = 0x01  # valid card authentication completed
MINOR_CARD_AND_PSW_PASS = 0x02  # card and password authentication completed
MINOR_CARD_NO_RIGHT = 0x06  # card has no right to this door
MINOR_CARD_INVALID_PERIOD = 0x07  # card outside its valid period (not yet valid)
MINOR_CARD_OUT_OF_DATE = 0x08  # card expired
MINOR_INVALID_CARD = 0x09  # no such card
MINOR_REMOTE_OPEN_DOOR = 0x400  # remote door opening (under MAJOR_OPERATION)

#: Events in which someone with a card was let through. A QR pass is read as a card
#: number, so it passes with MINOR_LEGAL_CARD_PASS too.
PASS_MINORS = frozenset({MINOR_LEGAL_CARD_PASS, MINOR_CARD_AND_PSW_PASS})

#: ``responseStatusStrg`` of a search page that has more pages after it.
MORE = "MORE"


# -- times ----------------------------------------------------------------------------


def _at_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def local_time(moment: datetime, zone: tzinfo) -> str:
    """A UTC time as the device's wall time without an offset (``Valid`` windows),
    truncated to the second so a window never reaches past its end."""
    return _at_second(moment.astimezone(zone)).strftime("%Y-%m-%dT%H:%M:%S")


def offset_time(moment: datetime, zone: tzinfo) -> str:
    """A UTC time as the device's wall time with its offset (event searches)."""
    return _at_second(moment.astimezone(zone)).isoformat()


def read_time(text: Any, zone: tzinfo) -> datetime:
    """A device time in any of ISAPI's forms, as aware UTC; a time without an offset is
    in ``zone``, the device's timezone.

    :raises ValueError: not a time.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a time: {text!r}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 is before the first year in UTC
        raise ValueError(f"out of range: {text!r}") from None


# -- ResponseStatus -----------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """An ISAPI ``ResponseStatus`` (JSON or XML)."""

    status_code: int
    status_string: str = ""
    sub_status: str = ""
    error_msg: str = ""
    #: The account's lock state after refused credentials, when the device says.
    locked: bool = False
    unlock_in_s: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code in (0, 1)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def local_name(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def xml_fields(element: ET.Element) -> dict[str, str]:
    """The text of an element's direct children, by local name."""
    return {local_name(child.tag): (child.text or "").strip() for child in element}


def parse_xml(content: bytes) -> ET.Element:
    """Parse an XML reply. Python's expat refuses entity expansion bombs, and
    ElementTree never fetches external entities.

    :raises ValueError: not XML.
    """
    try:
        return ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None


def _status_from(fields: Mapping[str, Any]) -> Status | None:
    code = _int(fields.get("statusCode"))
    if code is None:
        return None
    unlock = next((_int(fields.get(k)) for k in ("resLockTime", "unlockTime") if _int(fields.get(k)) is not None), None)
    return Status(
        status_code=code,
        status_string=str(fields.get("statusString") or ""),
        sub_status=str(fields.get("subStatusCode") or ""),
        error_msg=str(fields.get("errorMsg") or ""),
        locked=str(fields.get("lockStatus") or "") == "locked",
        unlock_in_s=unlock,
    )


def read_status(content: bytes) -> Status | None:
    """The ``ResponseStatus`` in a reply, JSON or XML; ``None`` when the reply is not
    one (an HTML error page, an empty body, another document)."""
    text = content.strip()
    if text.startswith(b"{"):
        try:
            body = json.loads(text)
        except ValueError:
            return None
        if isinstance(body, dict):
            inner = body.get("ResponseStatus")
            return _status_from(inner if isinstance(inner, dict) else body)
        return None
    if text.startswith(b"<"):
        try:
            root = parse_xml(text)
        except ValueError:
            return None
        if local_name(root.tag) == "ResponseStatus":
            return _status_from(xml_fields(root))
    return None


def status_json(request_url: str, status: Status) -> dict[str, Any]:
    """A JSON ``ResponseStatus`` as devices write it."""
    body: dict[str, Any] = {
        "requestURL": request_url,
        "statusCode": status.status_code,
        "statusString": status.status_string,
        "subStatusCode": status.sub_status,
    }
    if status.error_msg:
        body["errorMsg"] = status.error_msg
    return body


def status_xml(request_url: str, status: Status) -> bytes:
    """An XML ``ResponseStatus`` as devices write it."""
    root = ET.Element("ResponseStatus", {"version": "2.0", "xmlns": XML_NS})
    for tag, text in (
        ("requestURL", request_url),
        ("statusCode", str(status.status_code)),
        ("statusString", status.status_string),
        ("subStatusCode", status.sub_status),
    ):
        ET.SubElement(root, tag).text = text
    if status.error_msg:
        ET.SubElement(root, "errorMsg").text = status.error_msg
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


# -- requests -------------------------------------------------------------------------


def user_info(employee_no: str, name: str, door_no: int, begin: str, end: str) -> dict[str, Any]:
    """The body of ``UserInfo/Record`` and ``UserInfo/Modify``: a visitor allowed
    through one door, all day (plan template 1), inside a validity window of device
    wall times (:func:`local_time`)."""
    return {
        "UserInfo": {
            "employeeNo": employee_no,
            "name": name,
            "userType": "visitor",
            "Valid": {"enable": True, "beginTime": begin, "endTime": end, "timeType": "local"},
            "doorRight": str(door_no),
            "RightPlan": [{"doorNo": door_no, "planTemplateNo": "1"}],
            "localUIRight": False,
        }
    }


def card_info(employee_no: str, card_no: str) -> dict[str, Any]:
    """The body of ``CardInfo/Record``: a normal card for one user."""
    return {"CardInfo": {"employeeNo": employee_no, "cardNo": card_no, "cardType": "normalCard"}}


def card_search(search_id: str, employee_no: str, max_results: int) -> dict[str, Any]:
    """The body of ``CardInfo/Search``: the cards of one user."""
    return {
        "CardInfoSearchCond": {
            "searchID": search_id,
            "searchResultPosition": 0,
            "maxResults": max_results,
            "EmployeeNoList": [{"employeeNo": employee_no}],
        }
    }


def delete_users(employee_nos: Iterable[str]) -> dict[str, Any]:
    """The body of ``UserInfoDetail/Delete``: these users, with their cards and rights."""
    return {
        "UserInfoDetail": {
            "mode": "byEmployeeNo",
            "EmployeeNoList": [{"employeeNo": no} for no in employee_nos],
        }
    }


def remote_control_door(cmd: str = "open") -> bytes:
    """The XML body of ``RemoteControl/door/<doorNo>``."""
    root = ET.Element("RemoteControlDoor", {"version": "2.0", "xmlns": XML_NS})
    ET.SubElement(root, "cmd").text = cmd
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def acs_event_cond(
    search_id: str, position: int, max_results: int, start: str, end: str, major: int = MAJOR_EVENT, minor: int = 0
) -> dict[str, Any]:
    """The body of ``AcsEvent``: one page of the event log between two offset times
    (:func:`offset_time`), oldest first. ``minor`` 0 asks for every minor type."""
    return {
        "AcsEventCond": {
            "searchID": search_id,
            "searchResultPosition": position,
            "maxResults": max_results,
            "major": major,
            "minor": minor,
            "startTime": start,
            "endTime": end,
            "timeReverseOrder": False,
        }
    }


# -- replies --------------------------------------------------------------------------


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is not a list")
    return value


@dataclass(frozen=True)
class DeviceInfo:
    """What ``GET /ISAPI/System/deviceInfo`` says about the device."""

    model: str
    firmware: str
    firmware_date: str = ""
    serial: str = ""
    name: str = ""


def read_device_info(content: bytes) -> DeviceInfo:
    """Read a ``DeviceInfo`` document.

    :raises ValueError: not one.
    """
    root = parse_xml(content)
    if local_name(root.tag) != "DeviceInfo":
        raise ValueError(f"expected DeviceInfo, got {local_name(root.tag)}")
    fields = xml_fields(root)
    if not fields.get("model"):
        raise ValueError("DeviceInfo has no model")
    return DeviceInfo(
        model=fields["model"],
        firmware=fields.get("firmwareVersion", ""),
        firmware_date=fields.get("firmwareReleasedDate", ""),
        serial=fields.get("serialNumber", ""),
        name=fields.get("deviceName", ""),
    )


def read_delete_process(reply: Any) -> str:
    """The ``status`` of a ``UserInfoDetailDeleteProcess``: ``processing``, ``success``
    or ``failed``.

    :raises ValueError: not one.
    """
    process = _object(_object(reply, "reply").get("UserInfoDetailDeleteProcess"), "UserInfoDetailDeleteProcess")
    status = process.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError("UserInfoDetailDeleteProcess has no status")
    return status


def read_cards(reply: Any) -> list[tuple[str, str]]:
    """The ``(employeeNo, cardNo)`` pairs of a ``CardInfoSearch`` reply.

    :raises ValueError: not one.
    """
    search = _object(_object(reply, "reply").get("CardInfoSearch"), "CardInfoSearch")
    cards = []
    for item in _list(search.get("CardInfo"), "CardInfo"):
        card = _object(item, "CardInfo item")
        employee, number = card.get("employeeNo"), card.get("cardNo")
        if not isinstance(employee, str) or not isinstance(number, str):
            raise ValueError("a CardInfo item lacks employeeNo or cardNo")
        cards.append((employee, number))
    return cards


@dataclass(frozen=True)
class DoorEvent:
    """One access control event, from the event log or a push."""

    serial_no: int
    occurred_at: datetime
    major: int
    minor: int
    card_no: str = ""
    door_no: int | None = None
    reader_no: int | None = None
    employee_no: str = ""

    @property
    def passed(self) -> bool:
        """Whether someone was let through with a card (or a QR read as one)."""
        return self.major == MAJOR_EVENT and self.minor in PASS_MINORS

    @property
    def direction(self) -> str:
        """``in`` or ``out``. Hikvision numbers a door's readers 2n-1 (entrance) and 2n
        (exit); a reader that is not known counts as an entrance."""
        return "out" if self.reader_no is not None and self.reader_no % 2 == 0 else "in"


def door_event(record: Mapping[str, Any], *, when: Any, major: Any, minor: Any, zone: tzinfo) -> DoorEvent:
    """A :class:`DoorEvent` from the fields of an event record; the time and codes are
    named differently in the log (``time``, ``major``, ``minor``) and in pushes
    (``dateTime``, ``majorEventType``, ``subEventType``).

    :raises ValueError: a required field is missing or mistyped.
    """
    serial, major_code, minor_code = _int(record.get("serialNo")), _int(major), _int(minor)
    if serial is None or major_code is None or minor_code is None:
        raise ValueError("an event lacks serialNo, major or minor")
    reader = _int(record.get("cardReaderNo"))
    door = _int(record.get("doorNo"))
    if door is None and reader:
        door = (reader + 1) // 2  # readers 2n-1 and 2n belong to door n
    card = record.get("cardNo", "")
    employee = record.get("employeeNoString", record.get("employeeNo", ""))
    return DoorEvent(
        serial_no=serial,
        occurred_at=read_time(when, zone),
        major=major_code,
        minor=minor_code,
        card_no=card if isinstance(card, str) else "",
        door_no=door,
        reader_no=reader,
        employee_no=str(employee) if isinstance(employee, str | int) and not isinstance(employee, bool) else "",
    )


@dataclass(frozen=True)
class EventPage:
    """One page of an ``AcsEvent`` search."""

    status: str  # responseStatusStrg: OK, MORE or NO MATCH
    events: tuple[DoorEvent, ...]
    matches: int  # numOfMatches: how many records this page holds


def read_event_page(reply: Any, zone: tzinfo) -> EventPage:
    """Read one ``AcsEvent`` reply page.

    :raises ValueError: not one.
    """
    page = _object(_object(reply, "reply").get("AcsEvent"), "AcsEvent")
    status = page.get("responseStatusStrg")
    if not isinstance(status, str):
        raise ValueError("AcsEvent has no responseStatusStrg")
    records = [_object(r, "InfoList item") for r in _list(page.get("InfoList"), "InfoList")]
    events = tuple(
        door_event(r, when=r.get("time"), major=r.get("major"), minor=r.get("minor"), zone=zone) for r in records
    )
    matches = _int(page.get("numOfMatches"))
    return EventPage(status=status, events=events, matches=len(events) if matches is None else matches)
