"""A guard's decision on a manual check: granted or denied once, audited, never over
another decision."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from hub.core.db import AuditRow
from hub.core.errors import Conflict, NotFound
from hub.core.model import Decision, Reason
from tests.storage.builders import make_entry, save

WAITING = Reason(
    "platform_timeout", "平台未响应，请门岗人工核验", "The platform did not answer; a guard will check you"
)


def manual_entry(store):
    entry = make_entry(decision=Decision.MANUAL_CHECK, reasons=(WAITING,), access_pass=None)
    save(store, entry)
    return entry


def audit_rows(store, action: str) -> list[AuditRow]:
    with store.transaction() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)))


def test_a_guard_grant_turns_a_manual_check_into_a_grant_and_is_audited(seeded):
    entry = manual_entry(seeded)

    decided = seeded.record_guard_decision(entry.id, Decision.GRANTED, "guard:li")

    assert decided.decision is Decision.GRANTED
    assert decided.reasons == ()
    assert seeded.get_entry(entry.id) == decided
    [record] = audit_rows(seeded, "entry.guard_decided")
    assert (record.actor, record.subject) == ("guard:li", entry.id)
    assert record.data == {
        "decision": "granted",
        "previous": "manual_check",
        "reasons": [],
        "community": "c1",
        "gate": "g1",
    }
    assert seeded.verify_audit_chain() is None


def test_a_guard_denial_carries_the_guards_words_in_both_languages(seeded):
    entry = manual_entry(seeded)

    decided = seeded.record_guard_decision(entry.id, "denied", "guard:li", reason="no helmet")

    assert decided.decision is Decision.DENIED
    [reason] = decided.reasons
    assert reason.code == "guard_denied"
    assert reason.en == "The guard did not let you in: no helmet"
    assert reason.zh == "门岗未予放行：no helmet"
    assert audit_rows(seeded, "entry.guard_decided")[0].data["reasons"] == ["guard_denied"]


def test_a_guard_denial_without_words_still_says_who_refused(seeded):
    entry = manual_entry(seeded)
    decided = seeded.record_guard_decision(entry.id, Decision.DENIED, "guard:li")
    assert decided.reasons == (Reason("guard_denied", "门岗未予放行", "The guard did not let you in"),)


@pytest.mark.parametrize("decision", [Decision.GRANTED, Decision.DENIED])
def test_an_entry_that_is_not_a_manual_check_is_not_changed(seeded, decision):
    entry = make_entry(decision=decision)
    save(seeded, entry)

    with pytest.raises(Conflict, match="not waiting for a manual check"):
        seeded.record_guard_decision(entry.id, Decision.DENIED, "guard:li")

    assert seeded.get_entry(entry.id) == entry
    assert audit_rows(seeded, "entry.guard_decided") == []


def test_a_second_guard_decision_is_a_conflict(seeded):
    entry = manual_entry(seeded)
    seeded.record_guard_decision(entry.id, Decision.GRANTED, "guard:li")

    with pytest.raises(Conflict):
        seeded.record_guard_decision(entry.id, Decision.DENIED, "guard:wang")

    assert seeded.get_entry(entry.id).decision is Decision.GRANTED


def test_two_guards_deciding_at_once_make_one_decision(seeded):
    entry = manual_entry(seeded)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(decision: Decision) -> None:
        barrier.wait()
        try:
            seeded.record_guard_decision(entry.id, decision, f"guard:{decision.value}")
            outcomes.append("decided")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(d,)) for d in (Decision.GRANTED, Decision.DENIED)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict", "decided"]
    assert len(audit_rows(seeded, "entry.guard_decided")) == 1


def test_a_guard_cannot_decide_manual_check(seeded):
    entry = manual_entry(seeded)
    with pytest.raises(ValueError, match="granted or denied"):
        seeded.record_guard_decision(entry.id, Decision.MANUAL_CHECK, "guard:li")


def test_an_unknown_entry_is_not_found(seeded):
    with pytest.raises(NotFound):
        seeded.record_guard_decision("no-such-entry", Decision.GRANTED, "guard:li")
