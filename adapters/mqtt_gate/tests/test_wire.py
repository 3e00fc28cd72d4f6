"""The contract's JSON and topics, as written and as read, against literal payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from last100_mqtt_gate.wire import (
    Ack,
    Command,
    DoorEvent,
    GrantSpec,
    ack_topic,
    command_topic,
    encode,
    event_topic,
    format_time,
    parse_time,
    prefix_problem,
    split_topic,
    topic_level_problem,
)

SENT = datetime(2026, 1, 5, 4, 0, 0, 250000, tzinfo=UTC)


def test_topics_are_prefix_gate_and_kind() -> None:
    assert command_topic("acme/site-7", "north") == "acme/site-7/north/cmd"
    assert ack_topic("acme/site-7", "north") == "acme/site-7/north/ack"
    assert event_topic("acme/site-7", "+") == "acme/site-7/+/event"


def test_split_topic_finds_the_gate_and_kind_under_the_prefix_only() -> None:
    assert split_topic("acme/site-7", "acme/site-7/north/ack") == ("north", "ack")
    assert split_topic("acme/site-7", "acme/site-7/north/event") == ("north", "event")
    assert split_topic("acme/site-7", "acme/site-8/north/ack") is None
    assert split_topic("acme/site-7", "acme/site-7/north/door/ack") is None
    assert split_topic("acme/site-7", "acme/site-7/north/status") is None


@pytest.mark.parametrize("value", ["", "a/b", "a+", "#", "a\x00"])
def test_a_gate_id_must_be_one_topic_level_without_wildcards(value: str) -> None:
    assert topic_level_problem(value) is not None


@pytest.mark.parametrize("value", ["", "/acme", "acme/", "acme//x", "acme/+", "acme/#", "$SYS/x"])
def test_a_prefix_must_be_plain_levels(value: str) -> None:
    assert prefix_problem(value) is not None


def test_a_prefix_may_have_several_levels() -> None:
    assert prefix_problem("acme/site-7") is None


def test_times_are_written_in_utc_whole_seconds_with_z() -> None:
    shanghai = timezone(timedelta(hours=8))

    assert format_time(datetime(2026, 1, 5, 12, 0, 0, 999999, tzinfo=shanghai)) == "2026-01-05T04:00:00Z"
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 5, 12, 0))


def test_times_are_read_with_an_offset_only() -> None:
    assert parse_time("2026-01-05T12:00:00+08:00", "at") == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert parse_time("2026-01-05T04:00:00Z", "at") == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="at must carry a timezone"):
        parse_time("2026-01-05T04:00:00", "at")
    with pytest.raises(ValueError, match="at is not"):
        parse_time("yesterday", "at")


def test_a_grant_command_is_written_as_the_contract_shows() -> None:
    command = Command(
        id="5f0c7f7e-2b1c-4d1e-9a4f-1b2c3d4e5f60",
        cmd="grant",
        door="1",
        sent_at=SENT,
        expires_at=SENT + timedelta(seconds=30),
        grant=GrantSpec("G-1001", "8493312E36DF9FBFAD8CCC65C4EBD428", SENT, datetime(2026, 1, 5, 4, 30, tzinfo=UTC)),
    )

    assert encode(command.to_wire()) == (
        b'{"id":"5f0c7f7e-2b1c-4d1e-9a4f-1b2c3d4e5f60","cmd":"grant","door":"1",'
        b'"grant":{"id":"G-1001","credential":"8493312E36DF9FBFAD8CCC65C4EBD428",'
        b'"valid_from":"2026-01-05T04:00:00Z","valid_until":"2026-01-05T04:30:00Z"},'
        b'"sent_at":"2026-01-05T04:00:00Z","expires_at":"2026-01-05T04:00:30Z"}'
    )


def test_an_open_command_carries_its_reason_and_no_grant() -> None:
    command = Command("c-2", "open", "2", SENT, SENT + timedelta(seconds=30), reason="rider's phone died")

    assert command.to_wire() == {
        "id": "c-2",
        "cmd": "open",
        "door": "2",
        "reason": "rider's phone died",
        "sent_at": "2026-01-05T04:00:00Z",
        "expires_at": "2026-01-05T04:00:30Z",
    }


def test_a_command_reads_back_as_written() -> None:
    written = Command(
        "c-1",
        "grant",
        "1",
        SENT.replace(microsecond=0),
        SENT.replace(microsecond=0) + timedelta(seconds=30),
        GrantSpec("G-1", "ABC", SENT.replace(microsecond=0), SENT.replace(microsecond=0) + timedelta(minutes=5)),
    )

    assert Command.from_wire(encode(written.to_wire())) == written


def test_a_revoke_command_needs_the_grant_but_no_window() -> None:
    payload = {
        "id": "c-3",
        "cmd": "revoke",
        "door": "1",
        "grant": {"id": "G-1", "credential": "ABC"},
        "sent_at": "2026-01-05T04:00:00Z",
        "expires_at": "2026-01-05T04:00:30Z",
    }

    command = Command.from_wire(json.dumps(payload))

    assert command.grant == GrantSpec("G-1", "ABC")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"cmd": "explode"}, "cmd must be one of"),
        ({"id": ""}, "id must be"),
        ({"door": 1}, "door must be"),
        ({"grant": None}, "needs a grant"),
        ({"grant": {"id": "G-1", "credential": "ABC", "valid_from": "2026-01-05T04:00:00Z"}}, "valid_until"),
        (
            {"grant": {"id": "G-1", "credential": "A", "valid_from": "2026-01-05T05:00:00Z",
                       "valid_until": "2026-01-05T04:00:00Z"}},
            "after",
        ),
        ({"sent_at": "2026-01-05 04:00"}, "sent_at must carry a timezone"),
    ],
    ids=["cmd", "id", "door", "grant", "window", "backwards", "naive time"],
)  # fmt: skip
def test_a_command_that_breaks_the_contract_is_refused_with_the_field_named(change, complaint) -> None:
    payload = {
        "id": "c-1",
        "cmd": "grant",
        "door": "1",
        "grant": {"id": "G-1", "credential": "ABC", "valid_from": "2026-01-05T04:00:00Z",
                  "valid_until": "2026-01-05T04:05:00Z"},
        "sent_at": "2026-01-05T04:00:00Z",
        "expires_at": "2026-01-05T04:00:30Z",
    } | change  # fmt: skip

    with pytest.raises(ValueError, match=complaint):
        Command.from_wire(json.dumps(payload))


def test_acks_read_ok_and_refusals() -> None:
    assert Ack.from_wire(b'{"id":"c-1","ok":true}') == Ack("c-1", True)
    assert Ack.from_wire(b'{"id":"c-1","ok":false,"error":"unknown_grant","message":"no such pass"}') == Ack(
        "c-1", False, "unknown_grant", "no such pass"
    )


def test_a_refusal_without_an_error_code_still_reads_as_a_refusal() -> None:
    assert Ack.from_wire(b'{"id":"c-1","ok":false}').error == "refused"


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"id":"c-1"}', b'{"id":"c-1","ok":"yes"}', b'{"ok":true}'])
def test_a_malformed_ack_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        Ack.from_wire(payload)


def test_a_refusal_is_written_with_its_code() -> None:
    assert Ack("c-1", False, "expired").to_wire() == {"id": "c-1", "ok": False, "error": "expired"}
    assert Ack("c-1", True).to_wire() == {"id": "c-1", "ok": True}


def test_door_events_read_their_gate_from_the_topic() -> None:
    event = DoorEvent.from_wire(
        b'{"event_id":"e-1","at":"2026-01-05T04:01:00Z","direction":"out","credential":"ABC","door":"1"}', "north"
    )

    assert event == DoorEvent("e-1", datetime(2026, 1, 5, 4, 1, tzinfo=UTC), "north", "out", "ABC", "1")


def test_a_door_event_without_direction_or_credential_is_an_entry_without_one() -> None:
    event = DoorEvent.from_wire(b'{"event_id":"e-2","at":"2026-01-05T04:01:00Z"}', "north")

    assert (event.direction, event.credential, event.door) == ("in", "", "")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"at":"2026-01-05T04:01:00Z"}',
        b'{"event_id":"e-1"}',
        b'{"event_id":"e-1","at":"2026-01-05T04:01:00Z","direction":"up"}',
    ],
)
def test_a_malformed_door_event_is_refused(payload: bytes) -> None:
    with pytest.raises(ValueError):
        DoorEvent.from_wire(payload, "north")
