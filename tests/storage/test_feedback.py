"""The store's feedback: reports, answers, statuses, a platform's idempotent re-sends,
the masked contact, scoping and paging, the database's own checks, and the migration
that replaced the first ``feedback`` table; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub.core import migrations
from hub.core.errors import Conflict, NotFound
from hub.core.model import Community, FeedbackCategory, FeedbackSource, FeedbackStatus
from tests.storage.builders import NOW, row_counts

PHONE = "13812345678"


@pytest.fixture
def fed(seeded):
    """The seeded store with a second community, ``c2``."""
    seeded.add_community(Community("c2", "River Bank"))
    return seeded


def report(store, community_id: str = "c1", **changes):
    values = {"source": "resident", "category": "parking", "body": "E-bikes block the fire lane", "actor": "user:anna"}
    return store.add_feedback(community_id, **{**values, **changes})


def platform_report(store, **changes):
    values = {
        "source": "platform",
        "category": "access",
        "body": "The north gate scanner is down",
        "contact": "李四 " + PHONE,
        "connection_id": "plat",
        "external_ref": "FB-1",
        "actor": "api:platform-a",
    }
    return report(store, **{**values, **changes})


def audit_of(store, action: str):
    return [r for r in store.list_audit(limit=500) if r.action == action]


# -- adding and reading ------------------------------------------------------------------


def test_a_report_is_stored_open_with_its_contact_masked_and_audited(fed, clock):
    stored, created = report(fed, contact=PHONE, gate_id="g1")

    assert created is True
    got = fed.get_feedback(stored.id)
    assert got == stored
    assert (got.community_id, got.gate_id, got.source, got.category) == (
        "c1",
        "g1",
        FeedbackSource.RESIDENT,
        FeedbackCategory.PARKING,
    )
    assert got.status is FeedbackStatus.OPEN
    assert got.body == "E-bikes block the fire lane"
    assert got.masked_contact == "138****5678"
    assert PHONE not in repr(got)
    assert got.created_at == got.updated_at == NOW
    assert got.responses == ()
    [record] = audit_of(fed, "feedback.created")
    assert (record.actor, record.subject) == ("user:anna", str(stored.id))
    assert record.data == {
        "community": "c1",
        "source": "resident",
        "category": "parking",
        "gate": "g1",
        "connection": None,
        "external_ref": None,
    }
    assert PHONE not in str(record.data)


def test_the_full_contact_is_read_only_through_its_own_method(fed):
    stored, _ = report(fed, contact="王小明")
    bare, _ = report(fed)

    assert fed.get_feedback(stored.id).masked_contact == "王**"
    assert fed.feedback_contact(stored.id) == "王小明"
    assert fed.feedback_contact(bare.id) == ""
    assert fed.get_feedback(bare.id).masked_contact == ""
    assert fed.feedback_contact(stored.id, community_ids=["c1"]) == "王小明"
    with pytest.raises(NotFound):
        fed.feedback_contact(stored.id, community_ids=["c2"])
    with pytest.raises(NotFound):
        fed.feedback_contact(999)


def test_a_report_names_a_known_community_and_a_gate_of_that_community(fed):
    before = row_counts(fed)

    with pytest.raises(NotFound, match="community 'nowhere'"):
        report(fed, "nowhere")
    with pytest.raises(NotFound, match="gate 'g1' not found in community 'c2'"):
        report(fed, "c2", gate_id="g1")
    with pytest.raises(NotFound, match="connection 'ghost'"):
        platform_report(fed, connection_id="ghost")

    assert row_counts(fed) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": "neighbour"}, "neighbour"),
        ({"category": "noise"}, "noise"),
        ({"body": "   "}, "needs a body"),
        ({"external_ref": "X-1"}, "give its connection_id"),
    ],
)
def test_invalid_reports_are_refused_before_anything_is_written(fed, changes, message):
    before = row_counts(fed)

    with pytest.raises(ValueError, match=message):
        report(fed, **changes)

    assert row_counts(fed) == before


def test_the_database_refuses_values_outside_the_enumerations(fed):
    stored, _ = report(fed)
    for column, value in (("source", "neighbour"), ("category", "noise"), ("status", "snoozed")):
        with pytest.raises(IntegrityError), fed.transaction() as session:
            session.execute(text(f"UPDATE feedback SET {column} = :v WHERE id = :id"), {"v": value, "id": stored.id})
    with pytest.raises(IntegrityError), fed.transaction() as session:
        session.execute(text("UPDATE feedback SET external_ref = 'X' WHERE id = :id"), {"id": stored.id})

    assert fed.get_feedback(stored.id) == stored


# -- a platform's reports ----------------------------------------------------------------


def test_a_platforms_report_sent_again_is_the_same_report_and_nothing_is_written(fed, clock):
    first, created = platform_report(fed)
    clock.advance(minutes=5)
    before = row_counts(fed)

    again, created_again = platform_report(fed)

    assert (created, created_again) == (True, False)
    assert again == first
    assert row_counts(fed) == before
    assert fed.feedback_by_ref("plat", "FB-1") == first


@pytest.mark.parametrize(
    "changes",
    [{"body": "Another text"}, {"category": "safety"}, {"contact": ""}, {"gate_id": "g2"}],
)
def test_a_platforms_id_reused_for_other_content_is_a_conflict(fed, changes):
    platform_report(fed)
    before = row_counts(fed)

    with pytest.raises(Conflict, match="'FB-1' of connection 'plat' was sent with other content"):
        platform_report(fed, **changes)

    assert row_counts(fed) == before


def test_external_refs_are_unique_per_connection_only(fed):
    fed.add_connection(fed.get_connection("plat").__class__("plat2", "acme", "Other"), (), ["c1"])

    a, _ = platform_report(fed)
    b, created = platform_report(fed, connection_id="plat2")

    assert created is True and a.id != b.id
    with pytest.raises(NotFound):
        fed.feedback_by_ref("plat", "FB-2")


def test_the_database_refuses_a_second_row_with_a_connections_ref(fed):
    platform_report(fed)

    with pytest.raises(IntegrityError), fed.transaction() as session:
        session.execute(
            text(
                "INSERT INTO feedback (community_id, source, category, body, contact, connection_id, external_ref,"
                " status, created_at, updated_at) VALUES ('c1', 'platform', 'other', 'x', '', 'plat', 'FB-1',"
                " 'open', :now, :now)"
            ),
            {"now": NOW.replace(tzinfo=None) if fed.url.startswith("sqlite") else NOW},
        )


# -- answers and statuses ----------------------------------------------------------------


def test_answers_are_kept_in_order_with_their_author_and_audited_without_their_text(fed, clock):
    stored, _ = report(fed)
    clock.advance(minutes=1)
    fed.respond_to_feedback(stored.id, "We have asked the guards to check.", actor="user:anna")
    clock.advance(minutes=1)

    answered = fed.respond_to_feedback(stored.id, "Fixed, thank you.", shared_with_reporter=True, actor="user:olga")

    assert [(r.author, r.body, r.shared_with_reporter) for r in answered.responses] == [
        ("user:anna", "We have asked the guards to check.", False),
        ("user:olga", "Fixed, thank you.", True),
    ]
    assert answered.updated_at == NOW + timedelta(minutes=2)
    assert answered.responses[1].created_at == NOW + timedelta(minutes=2)
    assert fed.get_feedback(stored.id) == answered
    records = audit_of(fed, "feedback.responded")
    assert [(r.actor, r.subject, r.data["shared_with_reporter"]) for r in records] == [
        ("user:olga", str(stored.id), True),
        ("user:anna", str(stored.id), False),
    ]
    assert "Fixed" not in str(records[0].data)


def test_an_empty_answer_is_refused(fed):
    stored, _ = report(fed)

    with pytest.raises(ValueError, match="needs a body"):
        fed.respond_to_feedback(stored.id, "  ", actor="user:anna")

    assert fed.get_feedback(stored.id).responses == ()


def test_a_status_change_is_audited_with_from_and_to_and_setting_the_same_changes_nothing(fed, clock):
    stored, _ = report(fed)
    clock.advance(minutes=3)

    changed, did = fed.set_feedback_status(stored.id, "in_progress", actor="user:anna")
    same, did_again = fed.set_feedback_status(stored.id, FeedbackStatus.IN_PROGRESS, actor="user:anna")

    assert (did, did_again) == (True, False)
    assert changed.status is FeedbackStatus.IN_PROGRESS and changed.updated_at == NOW + timedelta(minutes=3)
    assert same == changed
    [record] = audit_of(fed, "feedback.status_changed")
    assert record.data == {"community": "c1", "from": "open", "to": "in_progress"}
    with pytest.raises(ValueError):
        fed.set_feedback_status(stored.id, "snoozed", actor="user:anna")


def test_changes_to_another_communitys_report_are_not_found_and_change_nothing(fed):
    stored, _ = report(fed, "c2")
    before = row_counts(fed)

    with pytest.raises(NotFound):
        fed.get_feedback(stored.id, community_ids=["c1"])
    with pytest.raises(NotFound):
        fed.respond_to_feedback(stored.id, "Hello", actor="user:anna", community_ids=["c1"])
    with pytest.raises(NotFound):
        fed.set_feedback_status(stored.id, "closed", actor="user:anna", community_ids=["c1"])

    assert row_counts(fed) == before
    assert fed.get_feedback(stored.id, community_ids=["c2"]) == stored


def test_answers_go_with_their_report(fed):
    stored, _ = report(fed)
    fed.respond_to_feedback(stored.id, "Noted.", actor="user:anna")

    with fed.transaction() as session:
        session.execute(text("DELETE FROM feedback WHERE id = :id"), {"id": stored.id})
        left = session.execute(text("SELECT count(*) FROM feedback_responses")).scalar_one()

    assert left == 0


# -- lists and counts --------------------------------------------------------------------


def test_lists_are_newest_first_filtered_and_paged_by_keyset(fed, clock):
    made = []
    for i in range(5):
        made.append(report(fed, "c1" if i % 2 == 0 else "c2", source="guard" if i == 4 else "resident")[0])
        clock.advance(minutes=0 if i == 1 else 1)  # two share a time
    fed.set_feedback_status(made[2].id, "resolved", actor="user:olga")

    assert [f.id for f in fed.list_feedback()] == [f.id for f in reversed(made)]
    assert [f.id for f in fed.list_feedback(community_ids=["c2"])] == [made[3].id, made[1].id]
    assert [f.id for f in fed.list_feedback(status="resolved")] == [made[2].id]
    assert [f.id for f in fed.list_feedback(source="guard")] == [made[4].id]
    assert fed.list_feedback(community_ids=[]) == []

    first = fed.list_feedback(limit=2)
    second = fed.list_feedback(limit=2, before=(first[-1].created_at, first[-1].id))
    third = fed.list_feedback(limit=2, before=(second[-1].created_at, second[-1].id))
    assert [f.id for f in first + second + third] == [f.id for f in reversed(made)]
    with pytest.raises(ValueError):
        fed.list_feedback(limit=0)


def test_counts_cover_every_status_within_the_filters(fed):
    a, _ = report(fed)
    report(fed)
    report(fed, "c2", source="guard")
    fed.set_feedback_status(a.id, "closed", actor="user:olga")

    assert fed.feedback_counts() == {
        FeedbackStatus.OPEN: 2,
        FeedbackStatus.IN_PROGRESS: 0,
        FeedbackStatus.RESOLVED: 0,
        FeedbackStatus.CLOSED: 1,
    }
    assert fed.feedback_counts(community_ids=["c1"])[FeedbackStatus.OPEN] == 1
    assert fed.feedback_counts(source="guard")[FeedbackStatus.OPEN] == 1
    assert sum(fed.feedback_counts(community_ids=[]).values()) == 0


def test_reports_from_one_address_are_counted_since_a_time(fed, clock):
    report(fed, source="rider", address="10.0.0.1")
    clock.advance(minutes=30)
    report(fed, source="rider", address="10.0.0.1")
    report(fed, source="rider", address="10.0.0.2")
    report(fed)

    assert fed.feedback_sent_from("10.0.0.1", NOW) == 2
    assert fed.feedback_sent_from("10.0.0.1", NOW + timedelta(minutes=10)) == 1
    assert fed.feedback_sent_from("10.0.0.3", NOW) == 0


# -- the migration -----------------------------------------------------------------------


def test_the_first_feedback_tables_rows_become_open_reports(make_store, keys):
    store = make_store(keys)
    migrations.upgrade(store._engine, "0005")
    stamp = NOW.replace(tzinfo=None) if store.url.startswith("sqlite") else NOW
    with store.transaction() as session:
        # As the schema of 0005 has it (the models may have moved on since).
        session.execute(
            text(
                "INSERT INTO communities (id, name, address, timezone, policy, geofence, platform_refs, created_at)"
                " VALUES ('c1', 'Sunny', '', 'Asia/Shanghai', '{}', '[]', '{}', :at)"
            ),
            {"at": stamp},
        )
        session.execute(
            text(
                "INSERT INTO feedback (id, community_id, rating, text, created_at) VALUES"
                " (7, 'c1', 4, 'Friendly guard', :at), (8, 'c1', NULL, 'Gate slow', :at)"
            ),
            {"at": stamp},
        )

    store.upgrade()

    kept = {f.id: f for f in store.list_feedback()}
    assert set(kept) == {7, 8}
    assert (kept[7].body, kept[8].body) == ("(4) Friendly guard", "Gate slow")
    assert {(f.source, f.category, f.status) for f in kept.values()} == {
        (FeedbackSource.RIDER, FeedbackCategory.OTHER, FeedbackStatus.OPEN)
    }
    assert kept[7].created_at == kept[7].updated_at == NOW
    # New reports continue after the kept ids.
    new, _ = report(store)
    assert new.id == 9
