"""The store's connection health and retention methods, on SQLite and PostgreSQL:
the latest health check with its changes audited once, and batches that anonymise or
delete only what still holds personal data, with their counts tallied until audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.errors import NotFound
from hub.core.health import ConnectionHealth
from hub.core.model import CommunityPolicy, Connection, Gate, Health, HookCall, LockerAllocation
from hub.core.outbox import OutboxItem
from tests.storage.builders import NOW, make_community, make_entry, save

ACTOR = "job:test"


def actions(store, prefix: str) -> list:
    return [r for r in reversed(store.list_audit(limit=500)) if r.action.startswith(prefix)]


# -- connection health -------------------------------------------------------------------


def test_the_latest_check_is_kept_with_its_circuit_and_time(seeded, clock):
    assert seeded.record_connection_health("plat", Health(True, "fine", 12.5), "closed", actor=ACTOR) is None
    clock.advance(60)

    seeded.record_connection_health("plat", Health(True, "still fine", 8.0), "half_open", actor=ACTOR)

    assert seeded.connection_health() == {
        "plat": ConnectionHealth("plat", True, "still fine", 8.0, "half_open", NOW + timedelta(seconds=60))
    }
    assert actions(seeded, "connection.") == []


def test_only_changes_are_audited(seeded, clock):
    def check(ok: bool, message: str = "") -> str | None:
        clock.advance(60)
        return seeded.record_connection_health(
            "plat", Health(ok, message, None if not ok else 5.0), "open", actor=ACTOR
        )

    changes = [check(True), check(False, "app_secret was refused"), check(False, "still refused"), check(True)]
    changes.append(check(True))

    assert changes == [None, "connection.unhealthy", None, "connection.recovered", None]
    records = actions(seeded, "connection.")
    assert [(r.action, r.subject, r.actor) for r in records] == [
        ("connection.unhealthy", "plat", ACTOR),
        ("connection.recovered", "plat", ACTOR),
    ]
    assert records[0].data == {"message": "app_secret was refused", "latency_ms": None, "circuit": "open"}
    assert seeded.verify_audit_chain() is None


def test_a_first_check_that_fails_is_audited(seeded):
    assert seeded.record_connection_health("gatectl", Health(False, "no route"), "closed", actor=ACTOR) == (
        "connection.unhealthy"
    )
    assert seeded.connection_health()["gatectl"].ok is False


def test_an_unknown_connection_is_not_found(seeded):
    with pytest.raises(NotFound):
        seeded.record_connection_health("nope", Health(True), "closed", actor=ACTOR)


# -- retention: a world with old and recent data ---------------------------------------------

OLD = NOW  # the clock starts here; the tests then move it 40 days on
RECENT_DAYS = 40


@pytest.fixture
def aged(seeded, clock):
    """Community ``c1`` (30 days' retention) and ``c2`` (90 days), both served by ``plat``.
    Made 40 days ago: entry ``old`` of rider R1 at c1 (pass, locker, hook calls, orders,
    an idempotency key) and ``old2`` of rider R2 at c2; entry ``new`` of R3 at c1 now."""
    store = seeded
    store.add_community(make_community(id="c2", name="River Bank", policy=CommunityPolicy(retention_days=90)))
    store.link_connection("c2", "plat")
    store.add_gate(Gate("g9", "c2", "South gate", "south", "1", None))
    calls = (
        HookCall("hub_verify_rider", "acme", "plat", OLD, 40.0, "rejected", "rider 138****5678 is suspended"),
        HookCall("hub_active_orders", "acme", "plat", OLD, 3000.0, "timeout", "Acme platform did not answer in time"),
        HookCall("hub_grant_access", "gatekit", "gatectl", OLD, 30.0, "error", "UpstreamError"),
    )
    locker = LockerAllocation("A-1", "gatectl", "14", pin="9041", valid_until=OLD + timedelta(minutes=30))
    save(store, make_entry(id="old", hook_calls=calls, locker=locker), idempotency_key="k-old", fingerprint="f" * 64)
    save(store, make_entry(id="old2", community_id="c2", gate_id="g9", rider_ref="R2", access_pass=None), orders=[])
    clock.advance(days=RECENT_DAYS)
    save(store, make_entry(id="new", rider_ref="R3", created_at=clock.now()), orders=[])
    return store


def cutoff(clock, days: int = 30):
    return clock.now() - timedelta(days=days)


def test_entries_past_the_cutoff_are_anonymised_and_the_figures_kept(aged, clock):
    before = aged.get_entry("old")

    assert aged.anonymise_entries("c1", cutoff(clock)) == 1

    entry = aged.get_entry("old")
    assert (entry.rider_ref, entry.order_refs, entry.access_pass.value, entry.locker.pin) == ("", (), "", "")
    assert [(c.outcome, c.detail) for c in entry.hook_calls] == [
        ("rejected", ""),
        ("timeout", "Acme platform did not answer in time"),
        ("error", ""),
    ]
    assert (entry.decision, entry.reasons, entry.created_at, entry.gate_id) == (
        before.decision,
        before.reasons,
        before.created_at,
        before.gate_id,
    )
    assert [c.duration_ms for c in entry.hook_calls] == [c.duration_ms for c in before.hook_calls]
    assert aged.find_idempotent("k-old") is None
    assert aged.get_entry("new").rider_ref == "R3"
    assert aged.get_entry("old2").rider_ref == "R2"  # c2 keeps 90 days
    assert aged.retention_tallies() == {"c1": {"entries_anonymised": 1}}


def test_an_anonymised_entry_is_not_counted_again(aged, clock):
    aged.anonymise_entries("c1", cutoff(clock))

    assert aged.anonymise_entries("c1", cutoff(clock)) == 0
    assert aged.retention_tallies() == {"c1": {"entries_anonymised": 1}}


def test_entries_are_anonymised_in_batches_oldest_first(seeded, clock):
    for n in range(5):
        save(seeded, make_entry(id=f"e{n}", created_at=NOW + timedelta(minutes=n)), orders=[])
    clock.advance(days=31)

    batches = [seeded.anonymise_entries("c1", cutoff(clock), limit=2) for _ in range(4)]

    assert batches == [2, 2, 1, 0]
    assert all(seeded.get_entry(f"e{n}").rider_ref == "" for n in range(5))
    assert seeded.retention_tallies() == {"c1": {"entries_anonymised": 5}}


def test_an_entry_exactly_at_the_cutoff_is_kept(seeded, clock):
    save(seeded, make_entry(id="edge"), orders=[])
    clock.advance(days=30)

    assert seeded.anonymise_entries("c1", cutoff(clock)) == 0
    clock.advance(seconds=1)
    assert seeded.anonymise_entries("c1", cutoff(clock)) == 1


def test_feedback_contacts_past_the_cutoff_are_blanked(aged, clock):
    kept, _ = aged.add_feedback(
        "c1", source="resident", category="parking", body="bikes", contact="138 0000 1111", actor="t"
    )
    clock.advance(days=1)
    aged.add_feedback("c1", source="resident", category="route", body="sign", contact="", actor="t")
    recent, _ = aged.add_feedback("c1", source="rider", category="access", body="gate", contact="王五", actor="t")

    assert aged.anonymise_feedback("c1", clock.now() - timedelta(hours=1)) == 1
    assert aged.anonymise_feedback("c1", clock.now() - timedelta(hours=1)) == 0

    assert aged.feedback_contact(kept.id) == "" and aged.get_feedback(kept.id).body == "bikes"
    assert aged.feedback_contact(recent.id) == "王五"
    assert aged.retention_tallies()["c1"] == {"feedback_anonymised": 1}


def test_riders_nobody_links_to_are_deleted(aged, clock):
    aged.anonymise_entries("c1", cutoff(clock))

    deleted = aged.delete_riders("plat", cutoff(clock), tally="c1")

    # R1's entry was anonymised; R2 is still linked from c2's entry; R3 was seen now.
    assert deleted == 1
    assert aged.entry_rider("old2").platform_ref == "R2"
    assert aged.entry_rider("new").platform_ref == "R3"
    assert aged.delete_riders("plat", cutoff(clock), tally="c1") == 0
    assert aged.retention_tallies()["c1"] == {"entries_anonymised": 1, "riders_deleted": 1}


def test_old_orders_and_settled_outbox_items_are_deleted(aged, clock):
    item = OutboxItem("notify_rider", "plat", {"rider_ref": "R9"}, "k-recent")
    save(aged, make_entry(id="with-outbox", created_at=clock.now()), orders=[], outbox=[item])

    assert aged.delete_orders("plat", cutoff(clock), tally="c1") == 1  # O1, reported 40 days ago
    assert aged.get_orders("plat", ["O1"]) == []
    assert aged.delete_settled_outbox("plat", clock.now() + timedelta(days=1), tally="c1") == 0  # pending
    (leased,) = aged.lease_outbox(5, 60)
    aged.settle_outbox(leased.id)
    assert aged.delete_settled_outbox("plat", clock.now(), tally="c1") == 0  # made now: not before
    clock.advance(seconds=1)
    assert aged.delete_settled_outbox("plat", clock.now(), tally="c1") == 1
    assert aged.outbox_counts() == {}


def test_housekeeping_forgets_old_push_events_codes_and_sessions(seeded, clock):
    seeded.record_push_event("plat", "ev-old")
    seeded.claim_single_use("plat", "jti-old", NOW + timedelta(minutes=5))
    user_id = seeded.add_user("anna", "hash", "operator")
    seeded.start_console_session("s-ended", user_id, "10.0.0.1")
    seeded.end_console_session("s-ended", "signed_out")
    seeded.start_console_session("s-abandoned", user_id, "10.0.0.2")
    clock.advance(days=8)
    seeded.record_push_event("plat", "ev-new")
    seeded.claim_single_use("plat", "jti-new", clock.now() + timedelta(minutes=5))
    seeded.start_console_session("s-live", user_id, "10.0.0.3")
    week_ago = clock.now() - timedelta(days=7)

    assert seeded.delete_push_events(week_ago) == 1
    assert seeded.delete_single_use_codes(clock.now()) == 1
    assert seeded.delete_console_sessions(week_ago) == 2

    assert not seeded.record_push_event("plat", "ev-new") and seeded.record_push_event("plat", "ev-old")
    assert not seeded.claim_single_use("plat", "jti-new", clock.now())
    assert seeded.console_session("s-live") is not None and seeded.console_session("s-ended") is None
    assert seeded.retention_tallies() == {
        "": {"console_sessions_deleted": 2, "push_events_deleted": 1, "single_use_codes_deleted": 1}
    }


def test_closing_the_tallies_audits_each_community_and_the_hub_once(aged, clock):
    aged.anonymise_entries("c1", cutoff(clock))
    aged.delete_riders("plat", cutoff(clock), tally="c1")
    aged.record_push_event("plat", "ev")
    clock.advance(days=8)
    aged.delete_push_events(clock.now() - timedelta(days=7))

    audited = aged.close_retention_tallies(actor=ACTOR, notes={"c1": {"retention_days": 30}})

    assert audited == {"c1": {"entries_anonymised": 1, "riders_deleted": 1}, "": {"push_events_deleted": 1}}
    records = actions(aged, "retention.")
    assert [(r.action, r.subject, r.actor, r.data) for r in records] == [
        ("retention.housekept", "", ACTOR, {"push_events_deleted": 1}),
        (
            "retention.purged",
            "c1",
            ACTOR,
            {"community": "c1", "retention_days": 30, "entries_anonymised": 1, "riders_deleted": 1},
        ),
    ]
    assert aged.retention_tallies() == {}
    assert aged.close_retention_tallies(actor=ACTOR) == {}
    assert len(actions(aged, "retention.")) == 2
    assert aged.verify_audit_chain() is None


def test_connection_ids_are_listed_without_reading_secrets(seeded):
    seeded.add_connection(Connection("off", "acme", "Switched off", enabled=False), ())

    assert seeded.list_connection_ids() == ["gatectl", "off", "plat"]


def test_nothing_purged_when_nothing_is_old(seeded):
    seed_entry = save(seeded, make_entry(id="fresh"))

    assert seeded.anonymise_entries("c1", NOW - timedelta(days=30)) == 0
    assert seeded.delete_riders("plat", NOW - timedelta(days=30), tally="c1") == 0
    assert seeded.delete_orders("plat", NOW - timedelta(days=30), tally="c1") == 0
    assert seeded.close_retention_tallies(actor=ACTOR) == {}
    assert actions(seeded, "retention.") == []
    assert seeded.get_entry(seed_entry.id).rider_ref == "R1"
