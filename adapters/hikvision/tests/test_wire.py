"""ISAPI's messages, written and read: device-local times, ResponseStatus in JSON and
XML, DeviceInfo, event search pages, against recorded payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from last100_hikvision import wire

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_validity_time_is_device_wall_time_without_an_offset_cut_to_the_second() -> None:
    moment = datetime(2026, 1, 5, 4, 20, 59, 999999, tzinfo=UTC)

    assert wire.local_time(moment, SHANGHAI) == "2026-01-05T12:20:59"
    assert wire.local_time(moment, ZoneInfo("Europe/Berlin")) == "2026-01-05T05:20:59"


def test_a_validity_window_across_midnight_changes_the_device_date() -> None:
    assert wire.local_time(datetime(2026, 1, 5, 16, 30, tzinfo=UTC), SHANGHAI) == "2026-01-06T00:30:00"


def test_a_search_time_carries_the_device_offset() -> None:
    assert wire.offset_time(datetime(2026, 1, 5, 4, 0, 0, 500000, tzinfo=UTC), SHANGHAI) == "2026-01-05T12:00:00+08:00"


@pytest.mark.parametrize(
    "text", ["2026-01-05T12:00:00+08:00", "2026-01-05T04:00:00Z", "2026-01-05T12:00:00", "2026-01-05T05:00:00+01:00"]
)
def test_device_times_in_every_form_read_as_utc(text) -> None:
    assert wire.read_time(text, SHANGHAI) == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", None, 1767585600])
def test_what_is_not_a_time_is_refused(text) -> None:
    with pytest.raises(ValueError):
        wire.read_time(text, SHANGHAI)


def test_a_json_response_status_is_read(fixture_bytes) -> None:
    status = wire.read_status(fixture_bytes("status_employee_exists.json"))

    assert status == wire.Status(6, "Invalid Content", "employeeNoAlreadyExist", "checkUser")
    assert not status.ok


def test_an_xml_response_status_in_either_namespace_is_read(fixture_bytes) -> None:
    assert wire.read_status(fixture_bytes("status_ok.xml")) == wire.Status(1, "OK", "ok")
    locked = wire.read_status(fixture_bytes("status_locked.xml"))
    assert (locked.sub_status, locked.locked, locked.unlock_in_s) == ("badAuthorization", True, 1800)


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>404 Not Found</body></html>", b'{"AcsEvent": {}}', b"[1]", b"{not json", b"<a"]
)
def test_a_reply_that_is_no_response_status_reads_as_none(body) -> None:
    assert wire.read_status(body) is None


def test_a_written_xml_status_reads_back() -> None:
    status = wire.Status(6, "Invalid Content", "badParameters", "doorNo")

    assert wire.read_status(wire.status_xml("/ISAPI/x", status)) == status
    assert wire.read_status(json.dumps(wire.status_json("/ISAPI/x", status)).encode()) == status


def test_device_info_is_read(fixture_bytes) -> None:
    info = wire.read_device_info(fixture_bytes("device_info.xml"))

    assert (info.model, info.firmware, info.firmware_date) == ("DS-K1T671M", "V3.2.30", "build 220512")
    assert info.name == "North Gate"


def test_a_document_that_is_not_device_info_is_refused(fixture_bytes) -> None:
    with pytest.raises(ValueError, match="expected DeviceInfo"):
        wire.read_device_info(fixture_bytes("status_ok.xml"))


def test_an_event_page_is_read_with_times_in_utc_and_doors_from_readers(fixture_json) -> None:
    first = wire.read_event_page(fixture_json("acs_event_page1.json"), SHANGHAI)
    second = wire.read_event_page(fixture_json("acs_event_page2.json"), SHANGHAI)

    assert (first.status, first.matches, second.status) == ("MORE", 2, "OK")
    granted, refused = first.events
    assert granted == wire.DoorEvent(
        serial_no=101,
        occurred_at=datetime(2026, 1, 5, 4, 0, tzinfo=UTC),
        major=5,
        minor=1,
        card_no="7128676793",
        door_no=1,
        reader_no=1,
        employee_no="0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b",
    )
    assert granted.passed and granted.direction == "in"
    assert not refused.passed
    leaving = second.events[0]
    assert (leaving.door_no, leaving.direction) == (1, "out")  # reader 2: door 1's exit reader
    assert second.events[1].occurred_at == datetime(2026, 1, 5, 4, 5, tzinfo=UTC)  # an old device's UTC time


def test_a_search_with_no_match_has_no_events(fixture_json) -> None:
    page = wire.read_event_page(fixture_json("acs_event_no_match.json"), SHANGHAI)

    assert (page.status, page.events, page.matches) == ("NO MATCH", (), 0)


@pytest.mark.parametrize(
    "reply",
    [
        {},
        {"AcsEvent": []},
        {"AcsEvent": {"InfoList": []}},
        {"AcsEvent": {"responseStatusStrg": "OK", "InfoList": {}}},
        {"AcsEvent": {"responseStatusStrg": "OK", "InfoList": [{"major": 5, "minor": 1, "time": "x", "serialNo": 1}]}},
        {"AcsEvent": {"responseStatusStrg": "OK", "InfoList": [{"major": 5, "time": "2026-01-05T12:00:00+08:00"}]}},
    ],
    ids=["empty", "not an object", "no status", "list not a list", "bad time", "no serial or minor"],
)
def test_a_malformed_event_page_is_refused(reply) -> None:
    with pytest.raises(ValueError):
        wire.read_event_page(reply, SHANGHAI)


def test_a_visitor_user_names_the_door_and_the_window() -> None:
    body = wire.user_info(
        "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b", "rider 0b6e1f2c", 2, "2026-01-05T12:00:00", "2026-01-05T12:20:00"
    )

    assert body == {
        "UserInfo": {
            "employeeNo": "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b",
            "name": "rider 0b6e1f2c",
            "userType": "visitor",
            "Valid": {
                "enable": True,
                "beginTime": "2026-01-05T12:00:00",
                "endTime": "2026-01-05T12:20:00",
                "timeType": "local",
            },
            "doorRight": "2",
            "RightPlan": [{"doorNo": 2, "planTemplateNo": "1"}],
            "localUIRight": False,
        }
    }


def test_the_remote_open_command_is_isapi_xml() -> None:
    root = wire.parse_xml(wire.remote_control_door("open"))

    assert root.tag == f"{{{wire.XML_NS}}}RemoteControlDoor"
    assert wire.xml_fields(root) == {"cmd": "open"}
