"""The manual-check fallback: a platform that cannot answer gives a manual check, a
credential it rejected gives a denial in its words."""

from __future__ import annotations

import pytest

from hub.core.model import Decision, Problem, Reason, Verdict
from hub.plugins.fallback import ManualCheckFallback
from tests.factories import make_entry_context


def vote(**context) -> Verdict | None:
    return ManualCheckFallback().hub_evaluate_entry(make_entry_context(**context))


def problem(
    code: str, message: str = "something went wrong", hook: str = "hub_verify_rider", reason: Reason | None = None
) -> Problem:
    return Problem(hook, "acme-1", code, message, reason)


def test_a_verified_rider_without_problems_gets_no_vote():
    assert vote() is None


@pytest.mark.parametrize(
    ("code", "reason_code"),
    [
        ("timeout", "platform_timeout"),
        ("error", "platform_error"),
        ("circuit_open", "platform_circuit_open"),
        ("something_new", "platform_error"),
    ],
)
def test_a_platform_that_could_not_be_asked_gives_a_manual_check(code, reason_code):
    verdict = vote(rider=None, problems=(problem(code),))

    assert verdict.decision is Decision.MANUAL_CHECK
    assert verdict.reason.code == reason_code
    assert "人工核验" in verdict.reason.zh
    assert "a guard will check you" in verdict.reason.en


def test_orders_that_could_not_be_fetched_give_a_manual_check_for_a_verified_rider():
    verdict = vote(orders=(), problems=(problem("timeout", hook="hub_active_orders"),))
    assert (verdict.decision, verdict.reason.code) == (Decision.MANUAL_CHECK, "platform_timeout")


def test_an_unknown_rider_without_a_rejection_gives_a_manual_check():
    verdict = vote(rider=None)
    assert (verdict.decision, verdict.reason.code) == (Decision.MANUAL_CHECK, "rider_unconfirmed")


def test_a_rejected_credential_is_denied_in_the_platforms_words():
    verdict = vote(
        rider=None,
        problems=(
            problem(
                "rejected", "unknown token", reason=Reason("x", "骑手不存在", "The platform does not know this rider")
            ),
        ),
    )

    assert verdict == Verdict.deny("rider_not_verified", "骑手不存在", "The platform does not know this rider")


def test_a_rejection_in_one_language_keeps_the_hubs_words_for_the_other():
    verdict = vote(rider=None, problems=(problem("rejected", reason=Reason("x", "", "Token expired")),))

    assert verdict.reason.en == "Token expired"
    assert verdict.reason.zh == "骑手身份未通过平台验证"


def test_a_rejection_outweighs_other_problems():
    problems = (problem("timeout", hook="hub_active_orders"), problem("rejected", "invalid token"))
    assert vote(rider=None, problems=problems).decision is Decision.DENIED
