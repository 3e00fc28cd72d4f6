"""The store's console users, sessions and sign-in records, and the reads behind the
dashboard and the guard queue, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.errors import NotFound
from hub.core.model import Decision, HookCall, Reason
from hub.core.secrets import generate_key
from hub.core.trace import AuditAction
from hub.core.users import Role
from tests.storage.builders import NOW, make_entry, save, seed


@pytest.fixture
def users(seeded):
    seeded.add_user("olga", "hash-o", "operator")
    seeded.add_user("gus", "hash-g", "guard", ["c1"], ["g2"], actor="cli")
    return seeded


def audit_of(store, action: str):
    return [r for r in store.list_audit(limit=200) if r.action == action]


def test_a_user_is_created_with_communities_and_gates_and_audited(users):
    gus = users.get_user("gus")

    assert (gus.role, gus.community_ids, gus.gate_ids, gus.totp) == (Role.GUARD, {"c1"}, {"g2"}, False)
    [created] = [r for r in audit_of(users, "user.created") if r.subject == "gus"]
    assert created.actor == "cli" and created.data == {"role": "guard", "communities": ["c1"], "gates": ["g2"]}
    assert [u["gate_ids"] for u in users.list_users()] == [["g2"], []]


def test_a_guards_gates_must_be_in_their_communities(seeded):
    with pytest.raises(NotFound, match="gate 'g7' not found"):
        seeded.add_user("g", "h", "guard", ["c1"], ["g7"])
    seeded.add_community(seeded.get_community("c1").__class__("c2", "Other"))
    with pytest.raises(ValueError, match="not in the user's communities"):
        seeded.add_user("g", "h", "guard", ["c2"], ["g1"])


def test_a_login_record_holds_the_hash_and_the_decrypted_totp_secret(users):
    assert users.login_record("nobody") is None
    users.set_totp_secret("olga", "JBSWY3DPEHPK3PXP", actor="cli")

    record = users.login_record("olga")

    assert (record.password_hash, record.totp_secret, record.account.totp) == ("hash-o", "JBSWY3DPEHPK3PXP", True)
    assert users.list_users()[1]["totp"] is True
    assert "JBSWY3DPEHPK3PXP" not in repr(users.list_users())
    users.set_totp_secret("olga", None, actor="cli")
    assert users.login_record("olga").totp_secret is None


def test_sessions_start_are_read_touched_and_end_once(users, clock):
    user_id = users.get_user("gus").id
    started = users.start_console_session("s" * 64, user_id, "10.0.0.1", {"second_factor": "totp"})
    clock.advance(60)

    users.touch_console_session("s" * 64)
    stored = users.console_session("s" * 64)

    assert stored.user.username == "gus" and stored.created_at == started.created_at == NOW
    assert stored.last_seen_at == NOW + timedelta(seconds=60) and stored.ended_at is None
    assert users.end_console_session("s" * 64, "signed_out") is True
    assert users.end_console_session("s" * 64, "signed_out") is False
    assert users.console_session("s" * 64).end_reason == "signed_out"
    assert users.console_session("unknown") is None
    [signed_in] = audit_of(users, "console.signed_in")
    assert signed_in.data == {"address": "10.0.0.1", "session": "s" * 12, "second_factor": "totp"}
    assert [r.actor for r in audit_of(users, "console.signed_out")] == ["user:gus"]


def test_a_password_reset_and_disabling_end_every_open_session(users):
    gus = users.get_user("gus").id
    for n in range(3):
        users.start_console_session(f"{n}" * 64, gus, "")
    users.end_console_session("0" * 64, "signed_out")

    assert users.set_password("gus", "new-hash", actor="cli") == 2
    assert users.login_record("gus").password_hash == "new-hash"
    users.start_console_session("9" * 64, gus, "")
    assert users.set_user_disabled("gus", True, actor="cli") == 1
    assert users.set_user_disabled("gus", True, actor="cli") == 0
    assert [r.action for r in users.list_audit(limit=5)][:3] == [
        "user.disabled",
        "console.signed_in",
        "user.password_reset",
    ]
    assert users.get_user("gus").disabled is True
    with pytest.raises(NotFound, match="user 'nobody' not found"):
        users.set_password("nobody", "x", actor="cli")


def test_sign_in_failures_are_counted_by_username_since_the_last_success_and_by_address(users, clock):
    users.record_login_failure("gus", "10.0.0.1", "password")
    clock.advance(60)
    users.record_login_failure("gus", "10.0.0.2", "password")
    users.record_login_failure("someone", "10.0.0.1", "unknown_user")
    since = NOW - timedelta(minutes=15)

    assert users.login_failures(since, username="gus") == [NOW + timedelta(seconds=60), NOW]
    assert len(users.login_failures(since, address="10.0.0.1")) == 2
    assert users.login_failures(NOW + timedelta(seconds=1), username="gus") == [NOW + timedelta(seconds=60)]
    users.start_console_session("a" * 64, users.get_user("gus").id, "10.0.0.2")
    assert users.login_failures(since, username="gus") == []
    assert len(users.login_failures(since, address="10.0.0.2")) == 1
    with pytest.raises(ValueError):
        users.login_failures(since)


def test_the_last_totp_step_is_read_from_recent_sign_ins(users, clock):
    gus = users.get_user("gus").id
    assert users.last_totp_step("gus", NOW) is None
    users.start_console_session("a" * 64, gus, "", {"totp_step": 100})
    users.start_console_session("b" * 64, gus, "")

    assert users.last_totp_step("gus", NOW) == 100
    assert users.last_totp_step("olga", NOW) is None
    assert users.last_totp_step("gus", NOW + timedelta(seconds=1)) is None


def test_entry_facts_and_guard_decisions_for_the_dashboard(seeded):
    save(seeded, make_entry(id="a", created_at=NOW, decision_ms=5))
    save(
        seeded,
        make_entry(id="b", created_at=NOW + timedelta(hours=1), decision=Decision.MANUAL_CHECK, access_pass=None),
    )
    save(seeded, make_entry(id="old", created_at=NOW - timedelta(days=1)))
    seeded.record_guard_decision("b", Decision.DENIED, "user:gus")

    facts = seeded.entry_facts(["c1"], NOW, NOW + timedelta(days=1))

    assert [(f.id, f.decision, f.decision_ms) for f in facts] == [
        ("a", Decision.GRANTED, 5),
        ("b", Decision.DENIED, 12.5),
    ]
    assert facts[1].reasons[0].code == "guard_denied"
    assert seeded.entry_facts(["c9"], NOW, NOW + timedelta(days=1)) == []
    assert seeded.guard_decisions(NOW) == {"b": NOW}


def test_call_summaries_count_failures_per_connection(seeded):
    calls = (
        HookCall("hub_verify_rider", "acme", "plat", NOW, 3000.0, "timeout", "slow"),
        HookCall("hub_verify_rider", "acme", "plat", NOW + timedelta(seconds=1), 40.0, "rejected", "unknown"),
        HookCall("hub_grant_access", "gatekit", "gatectl", NOW, 30.0, "ok"),
    )
    save(seeded, make_entry(id="a", hook_calls=calls))
    save(seeded, make_entry(id="old", created_at=NOW - timedelta(hours=2)))

    found = seeded.call_summaries(["c1"], NOW - timedelta(hours=1))

    assert (found["plat"].calls, found["plat"].failed, found["plat"].last_failure) == (2, 1, "timeout: slow")
    assert found["plat"].healthy is False
    assert (found["gatectl"].calls, found["gatectl"].failed, found["gatectl"].healthy) == (1, 0, True)


def test_pending_checks_are_the_waiting_entries_of_the_gates_newest_first(seeded):
    reason = (Reason("platform_timeout", "超时", "Timed out"),)
    for entry_id, gate, minutes in (("n", "g1", 0), ("e", "g2", 5), ("e-old", "g2", -700)):
        entry = make_entry(
            id=entry_id,
            gate_id=gate,
            created_at=NOW + timedelta(minutes=minutes),
            decision=Decision.MANUAL_CHECK,
            reasons=reason,
            access_pass=None,
        )
        save(seeded, entry)
    save(seeded, make_entry(id="granted"))

    found = seeded.pending_checks(["g1", "g2"], NOW - timedelta(hours=1))

    assert [c.entry_id for c in found] == ["e", "n"]
    assert (found[0].masked_name, found[0].masked_phone, found[0].platform) == ("王*", "138****5678", "Acme platform")
    assert (found[0].gate_name, found[0].order_refs, found[0].reasons) == ("East gate 东门", ("O1",), reason)
    assert [c.entry_id for c in seeded.pending_checks(["g1"], NOW - timedelta(hours=1))] == ["n"]


def test_actions_of_a_guards_door_opening_are_audited_with_the_entry(seeded):
    seeded.record_actions(
        [AuditAction("door.opened", "gatectl", "g1", {"confirmed": True})], actor="user:gus", entry_id="e1"
    )

    [record] = audit_of(seeded, "door.opened")
    assert (record.actor, record.subject) == ("user:gus", "g1")
    assert record.data == {"confirmed": True, "connection": "gatectl", "entry": "e1"}


def test_rotating_keys_re_seals_totp_secrets(make_store):
    old, new = generate_key(), generate_key()
    before = make_store([old])
    before.upgrade()
    seed(before)
    before.add_user("olga", "h", "operator")
    before.set_totp_secret("olga", "JBSWY3DPEHPK3PXP", actor="cli")

    make_store([new, old]).rotate_secrets()

    assert make_store([new]).login_record("olga").totp_secret == "JBSWY3DPEHPK3PXP"
