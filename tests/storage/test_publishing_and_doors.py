"""Storage of community publishing (profile versions, publications) and door events
(entry and exit times, the gates' cursors), on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.core.db import AuditRow, PassRow
from hub.core.errors import NotFound
from hub.core.model import AccessEvent, Connection, Gate, PushEvent
from hub.core.store import Store
from hub.core.trace import AuditAction
from tests.storage.builders import NOW, make_entry, save

DIGEST_A, DIGEST_B = "a" * 64, "b" * 64


def audit_rows(store: Store, *actions: str) -> list[AuditRow]:
    with store.transaction() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.action.in_(actions)).order_by(AuditRow.id)))


# -- community publishing ---------------------------------------------------------------


def test_a_profile_version_starts_at_one_and_grows_only_when_the_digest_changes(seeded, clock):
    first = seeded.record_profile_digest("c1", DIGEST_A)
    clock.advance(minutes=5)
    same = seeded.record_profile_digest("c1", DIGEST_A)
    clock.advance(minutes=5)
    changed = seeded.record_profile_digest("c1", DIGEST_B)

    assert (first.version, first.digest, first.changed_at) == (1, DIGEST_A, NOW)
    assert same == first
    assert (changed.version, changed.digest, changed.changed_at) == (2, DIGEST_B, NOW + timedelta(minutes=10))
    assert seeded.profile_versions() == {"c1": changed}
    assert seeded.profile_versions(["elsewhere"]) == {}


def test_a_digest_back_to_an_earlier_one_is_still_a_new_version(seeded):
    for digest in (DIGEST_A, DIGEST_B, DIGEST_A):
        latest = seeded.record_profile_digest("c1", digest)

    assert latest.version == 3


def test_a_profile_of_an_unknown_community_is_not_recorded(seeded):
    with pytest.raises(NotFound):
        seeded.record_profile_digest("nowhere", DIGEST_A)


def test_a_publication_keeps_what_the_platform_accepted_when_a_later_attempt_fails(seeded, clock):
    published = seeded.record_publication("c1", "plat", version=1, digest=DIGEST_A, error=None, actor="job:x")
    clock.advance(hours=1)
    failed = seeded.record_publication("c1", "plat", version=2, digest=DIGEST_B, error="timed out", actor="job:x")

    assert (published.published_version, published.published_at, published.error) == (1, NOW, None)
    later = NOW + timedelta(hours=1)
    assert (failed.published_version, failed.published_digest, failed.published_at) == (1, DIGEST_A, NOW)
    assert (failed.attempted_at, failed.error) == (later, "timed out")
    assert seeded.community_publications() == [failed]

    clock.advance(minutes=5)
    retried = seeded.record_publication("c1", "plat", version=2, digest=DIGEST_B, error=None, actor="job:x")

    assert (retried.published_version, retried.published_digest, retried.error) == (2, DIGEST_B, None)
    assert retried.published_at == retried.attempted_at == later + timedelta(minutes=5)


def test_a_publication_is_recorded_with_its_audit_records(seeded):
    action = AuditAction("community.published", "plat", "c1", {"version": 1, "accepted": True, "ref": "r-1"})

    seeded.record_publication(
        "c1", "plat", version=1, digest=DIGEST_A, error=None, reason="new", actions=[action], actor="job:publish"
    )

    (row,) = audit_rows(seeded, "community.published")
    assert (row.actor, row.subject) == ("job:publish", "c1")
    assert row.data == {"version": 1, "accepted": True, "ref": "r-1", "connection": "plat", "reason": "new"}


def test_publications_are_listed_by_community(seeded):
    seeded.add_connection(Connection("plat2", "acme", "Second platform"), (), ["c1"])
    seeded.record_publication("c1", "plat2", version=1, digest=DIGEST_A, error="refused", actor="job:x")
    seeded.record_publication("c1", "plat", version=1, digest=DIGEST_A, error=None, actor="job:x")

    assert [p.connection_id for p in seeded.community_publications(["c1"])] == ["plat", "plat2"]
    assert seeded.community_publications(["other"]) == []


def test_a_publication_to_an_unknown_connection_is_refused(seeded):
    with pytest.raises(NotFound):
        seeded.record_publication("c1", "nope", version=1, digest=DIGEST_A, error=None, actor="job:x")


# -- door events ------------------------------------------------------------------------


def door(entry, direction: str = "in", minutes: float = 1, **overrides) -> AccessEvent:
    values = {
        "event_id": f"ev-{direction}-{minutes}",
        "occurred_at": NOW + timedelta(minutes=minutes),
        "direction": direction,
        "credential_value": entry.access_pass.value,
        "door_no": "1",
        "gate_id": "g1",
    }
    return AccessEvent(**{**values, **overrides})


def test_door_events_set_the_entry_and_exit_times_and_an_exit_ends_the_pass(seeded):
    entry = save(seeded, make_entry())

    result = seeded.record_door_events("gatectl", [door(entry, "out", 9), door(entry, "in", 1)], "job:doors")

    stored = seeded.get_entry(entry.id)
    assert (result.read, result.entered, result.exited, result.repeated, result.unknown) == (2, 1, 1, 0, 0)
    assert stored.entered_at == NOW + timedelta(minutes=1)
    assert stored.exited_at == NOW + timedelta(minutes=9)
    assert stored.access_pass.valid_until == NOW + timedelta(minutes=9)
    entered, exited = audit_rows(seeded, "entry.entered", "entry.exited")
    assert (entered.action, entered.subject, entered.actor) == ("entry.entered", entry.id, "job:doors")
    assert entered.data == {
        "community": "c1",
        "gate": "g1",
        "connection": "gatectl",
        "event": "ev-in-1",
        "at": (NOW + timedelta(minutes=1)).isoformat(),
        "source": "door",
    }
    assert exited.data["pass_ended"] is True


def test_door_events_read_again_change_nothing(seeded):
    entry = save(seeded, make_entry())
    events = [door(entry, "in", 1), door(entry, "out", 9)]
    seeded.record_door_events("gatectl", events, "job:doors")

    again = seeded.record_door_events("gatectl", events, "job:doors")

    assert (again.entered, again.exited, again.repeated) == (0, 0, 2)
    assert seeded.get_entry(entry.id).entered_at == NOW + timedelta(minutes=1)
    assert len(audit_rows(seeded, "entry.entered", "entry.exited")) == 2


def test_the_earliest_entry_wins_and_an_exit_counts_only_after_the_entry(seeded):
    entry = save(seeded, make_entry())

    early_exit = seeded.record_door_events("gatectl", [door(entry, "out", 2)], "job:doors")
    seeded.record_door_events("gatectl", [door(entry, "in", 4)], "job:doors")
    seeded.record_door_events("gatectl", [door(entry, "in", 3), door(entry, "in", 6)], "job:doors")

    stored = seeded.get_entry(entry.id)
    assert (early_exit.exited, early_exit.repeated) == (0, 1)
    assert (stored.entered_at, stored.exited_at) == (NOW + timedelta(minutes=3), None)


def test_an_exit_the_rider_reported_is_not_moved_later_by_the_door(seeded, clock):
    entry = save(seeded, make_entry())
    clock.advance(minutes=5)
    seeded.record_exit(entry.id, "api")

    result = seeded.record_door_events("gatectl", [door(entry, "in", 1), door(entry, "out", 7)], "job:doors")

    assert (result.entered, result.exited, result.repeated) == (1, 0, 1)
    assert seeded.get_entry(entry.id).exited_at == NOW + timedelta(minutes=5)


def test_events_of_unknown_credentials_doors_or_times_are_counted_and_ignored(seeded):
    entry = save(seeded, make_entry())
    events = [
        door(entry, credential_value="resident-card-77"),
        door(entry, credential_value=""),  # an exit button
        door(entry, gate_id="g2"),  # the pass is not for that gate
        door(entry, minutes=-30),  # long before the pass began
        door(entry, minutes=40),  # going in long after it ended
        door(entry, direction="sideways"),
    ]

    result = seeded.record_door_events("gatectl", events, "job:doors")

    assert (result.read, result.unknown, result.entered) == (6, 6, 0)
    assert seeded.get_entry(entry.id).entered_at is None
    assert audit_rows(seeded, "entry.entered") == []


def test_a_late_exit_after_the_pass_ended_still_counts(seeded):
    entry = save(seeded, make_entry())  # the pass ends at NOW + 20 minutes

    result = seeded.record_door_events("gatectl", [door(entry, "in", 1), door(entry, "out", 50)], "job:doors")

    assert (result.entered, result.exited) == (1, 1)
    assert seeded.get_entry(entry.id).access_pass.valid_until == NOW + timedelta(minutes=20)


def test_a_reused_credential_belongs_to_the_newest_pass(seeded):
    older = save(seeded, make_entry(id="older-entry"))
    newer_start = NOW + timedelta(minutes=30)
    newer = make_entry(id="newer-entry", created_at=newer_start)
    newer = save(seeded, newer, idempotency_key="k2")
    with seeded.transaction() as s:
        s.get(PassRow, newer.id).value = older.access_pass.value

    seeded.record_door_events("gatectl", [door(older, "in", 31)], "job:doors")

    assert seeded.get_entry(newer.id).entered_at == NOW + timedelta(minutes=31)
    assert seeded.get_entry(older.id).entered_at is None


def test_reading_a_gate_moves_its_cursor_forward_only_and_never_past_now(seeded, clock):
    entry = save(seeded, make_entry())
    start = NOW - timedelta(hours=1)
    assert seeded.door_cursor("g1") is None

    seeded.record_door_events("gatectl", [], "job:doors", gate_id="g1", since=start)
    assert seeded.door_cursor("g1") == start

    clock.advance(minutes=10)
    seeded.record_door_events("gatectl", [door(entry, "in", 2)], "job:doors", gate_id="g1", since=start)
    assert seeded.door_cursor("g1") == NOW + timedelta(minutes=2)

    seeded.record_door_events("gatectl", [], "job:doors", gate_id="g1", since=start)
    assert seeded.door_cursor("g1") == NOW + timedelta(minutes=2)

    ahead = door(entry, "out", 60)  # a device clock running ahead of the hub's
    seeded.record_door_events("gatectl", [ahead], "job:doors", gate_id="g1", since=NOW)
    assert seeded.door_cursor("g1") == NOW + timedelta(minutes=10)
    assert seeded.door_cursor("g2") is None


def test_a_polled_event_belongs_to_the_gate_it_was_read_at(seeded):
    entry = save(seeded, make_entry())

    result = seeded.record_door_events(
        "gatectl", [door(entry, gate_id="", door_no="")], "job:doors", gate_id="g1", since=NOW
    )

    assert result.entered == 1


def test_a_pushed_door_event_sets_the_time_through_the_same_path(seeded):
    entry = save(seeded, make_entry())
    pushed = door(entry, "in", 1, gate_id="", event_id="serial-41")  # a device names its door, not the gate
    event = PushEvent(event_id="serial-41", occurred_at=pushed.occurred_at, access_event=pushed)

    applied = seeded.apply_push("gatectl", [event], "push:gatectl")
    repeated = seeded.apply_push("gatectl", [event], "push:gatectl")

    assert applied == [event] and repeated == []
    assert seeded.get_entry(entry.id).entered_at == NOW + timedelta(minutes=1)
    (record,) = audit_rows(seeded, "entry.entered")
    assert (record.actor, record.data["event"]) == ("push:gatectl", "serial-41")
    assert [r.action for r in audit_rows(seeded, "push.applied", "entry.entered")] == ["push.applied", "entry.entered"]


def test_a_pushed_event_at_a_door_of_another_connection_or_an_ambiguous_door_matches_nothing(seeded):
    entry = save(seeded, make_entry())
    seeded.add_gate(Gate("g3", "c1", "West gate", "west", "3", "gatectl"))
    elsewhere = door(entry, gate_id="g2")  # g2 has no device of this connection
    unknown_door = door(entry, gate_id="", door_no="9")

    result = seeded.record_door_events("gatectl", [elsewhere, unknown_door], "push:gatectl")
    anywhere = seeded.record_door_events("gatectl", [door(entry, gate_id="", door_no="")], "push:gatectl")

    assert result.unknown == 2
    assert anywhere.unknown == 1  # two gates use this controller: no door number, no gate
