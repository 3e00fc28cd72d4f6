"""The default entry policy: one deny per community rule, allow when all pass."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from hub.core.model import CommunityPolicy, Decision, OrderStatus, Problem, RiderStatus, Verdict
from hub.plugins.policy import DefaultPolicy
from tests.factories import make_community, make_entry_context, make_order, make_rider

CJK = re.compile(r"[\u4e00-\u9fff]")


def vote(policy: CommunityPolicy | None = None, timezone: str = "Asia/Shanghai", **context):
    community = make_community(policy=policy or CommunityPolicy(), timezone=timezone)
    return DefaultPolicy().hub_evaluate_entry(make_entry_context(community=community, **context))


def code(verdict: Verdict | None) -> str | None:
    assert verdict is None or verdict.decision is not Decision.MANUAL_CHECK
    return None if verdict is None or verdict.reason is None else verdict.reason.code


def test_a_verified_rider_with_an_active_order_is_allowed():
    assert vote() == Verdict.allow()


# -- platforms -----------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [set(), {"acme"}, {"acme-1"}, {"other", "acme"}])
def test_a_platform_named_by_plugin_or_connection_id_or_an_empty_list_is_allowed(allowed):
    assert vote(CommunityPolicy(allowed_platforms=allowed)) == Verdict.allow()


def test_a_platform_not_in_the_list_is_denied():
    assert code(vote(CommunityPolicy(allowed_platforms={"otherplatform"}))) == "platform_not_allowed"


# -- opening hours -------------------------------------------------------------------------

DAY = CommunityPolicy(opening=time(7, 0), closing=time(22, 0))
NIGHT = CommunityPolicy(opening=time(22, 0), closing=time(6, 0))


def shanghai(hour: int, minute: int = 0) -> datetime:
    """A UTC time that is hour:minute on the wall clock in Shanghai (UTC+8)."""
    return datetime(2026, 1, 5, (hour - 8) % 24, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "hour", "minute", "expected"),
    [
        (DAY, 12, 0, None),
        (DAY, 7, 0, None),
        (DAY, 6, 59, "outside_hours"),
        (DAY, 21, 59, None),
        (DAY, 22, 0, "outside_hours"),
        (NIGHT, 23, 30, None),
        (NIGHT, 3, 0, None),
        (NIGHT, 6, 0, "outside_hours"),
        (NIGHT, 12, 0, "outside_hours"),
        (CommunityPolicy(opening=time(8, 0), closing=time(8, 0)), 3, 0, None),
        (CommunityPolicy(opening=time(7, 0)), 3, 0, None),
    ],
    ids=[
        "day-noon",
        "day-opening",
        "day-before-opening",
        "day-last-minute",
        "day-closing",
        "night-evening",
        "night-small-hours",
        "night-closing",
        "night-noon",
        "equal-times-around-the-clock",
        "no-closing-always-open",
    ],
)
def test_opening_hours_on_the_communitys_wall_clock(policy, hour, minute, expected):
    assert code(vote(policy, now=shanghai(hour, minute))) == expected


def test_opening_hours_follow_the_communitys_timezone():
    now = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 04:00 in London

    assert code(vote(DAY, timezone="Asia/Shanghai", now=now)) is None
    assert code(vote(DAY, timezone="Europe/London", now=now)) == "outside_hours"


def test_the_outside_hours_text_says_the_hours():
    reason = vote(DAY, now=shanghai(23)).reason
    assert "07:00" in reason.zh and "22:00" in reason.zh
    assert "between 07:00 and 22:00" in reason.en


def test_an_overnight_window_says_it_ends_the_next_day():
    reason = vote(NIGHT, now=shanghai(12)).reason
    assert "次日 06:00" in reason.zh
    assert "between 22:00 and 06:00 the next day" in reason.en


# -- the rider -----------------------------------------------------------------------------


def test_without_a_verified_rider_the_policy_abstains():
    assert vote(rider=None, orders=()) is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (CommunityPolicy(allowed_platforms={"otherplatform"}), "platform_not_allowed"),
        (CommunityPolicy(opening=time(7, 0), closing=time(8, 0)), "outside_hours"),
    ],
)
def test_community_wide_rules_deny_even_without_a_verified_rider(policy, expected):
    assert code(vote(policy, rider=None, orders=())) == expected


def test_a_suspended_rider_is_denied():
    assert code(vote(rider=make_rider(status=RiderStatus.SUSPENDED))) == "rider_suspended"


# -- orders --------------------------------------------------------------------------------


def test_a_rider_without_orders_is_denied():
    assert code(vote(orders=())) == "no_active_order"


@pytest.mark.parametrize("status", [OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.UNKNOWN])
def test_finished_or_unknown_orders_do_not_count(status):
    assert code(vote(orders=(make_order(status=status),))) == "no_active_order"


@pytest.mark.parametrize("status", [OrderStatus.ACCEPTED, OrderStatus.PICKED_UP, OrderStatus.ARRIVED])
def test_any_order_not_yet_finished_counts(status):
    assert vote(orders=(make_order(status=status),)) == Verdict.allow()


def test_a_named_order_must_be_among_the_active_orders():
    orders = (make_order(ref="order-1"), make_order(ref="order-2", status=OrderStatus.DELIVERED))

    assert vote(orders=orders, order_ref="order-1") == Verdict.allow()
    assert code(vote(orders=orders, order_ref="order-2")) == "order_not_found"
    assert code(vote(orders=orders, order_ref="order-9")) == "order_not_found"


def test_an_order_of_another_rider_does_not_count():
    orders = (make_order(ref="order-7", rider_ref="someone-else"),)

    assert code(vote(orders=orders)) == "no_active_order"
    assert code(vote(orders=orders, order_ref="order-7")) == "order_not_found"


def test_an_order_that_names_no_rider_counts():
    assert vote(orders=(make_order(rider_ref=""),)) == Verdict.allow()


def test_no_order_is_needed_when_the_community_does_not_require_one():
    assert vote(CommunityPolicy(require_active_order=False), orders=()) == Verdict.allow()


def test_the_order_rule_is_not_applied_when_the_orders_could_not_be_fetched():
    problem = Problem("hub_active_orders", "acme-1", "timeout", "Acme did not answer")
    assert vote(orders=(), problems=(problem,)) == Verdict.allow()


# -- entries, presence, lockers ------------------------------------------------------------


def test_the_hourly_limit_denies_the_entry_that_would_exceed_it():
    policy = CommunityPolicy(max_entries_per_hour=3)

    assert vote(policy, entries_last_hour=2) == Verdict.allow()
    assert code(vote(policy, entries_last_hour=3)) == "too_many_entries"


def test_an_hourly_limit_of_zero_means_no_limit():
    assert vote(CommunityPolicy(max_entries_per_hour=0), entries_last_hour=50) == Verdict.allow()


def test_presence_must_be_proven_where_the_community_requires_it():
    policy = CommunityPolicy(require_presence=True)

    assert code(vote(policy, presence_verified=False)) == "presence_required"
    assert vote(policy, presence_verified=True) == Verdict.allow()


def test_a_lockers_only_community_is_no_reason_to_deny_a_rider_with_an_order():
    # The engine sends such riders to a locker instead of through the gate.
    assert vote(CommunityPolicy(lockers_only=True)) == Verdict.allow()


# -- every reason --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "context"),
    [
        (CommunityPolicy(allowed_platforms={"x"}), {}),
        (DAY, {"now": shanghai(23)}),
        (None, {"rider": make_rider(status=RiderStatus.SUSPENDED)}),
        (None, {"orders": ()}),
        (None, {"order_ref": "order-9"}),
        (None, {"entries_last_hour": 6}),
        (CommunityPolicy(require_presence=True), {}),
    ],
)
def test_every_denial_is_explained_in_chinese_and_english(policy, context):
    verdict = vote(policy, **context)

    assert verdict.decision is Decision.DENIED
    assert CJK.search(verdict.reason.zh)
    assert verdict.reason.en and not CJK.search(verdict.reason.en)


def test_the_first_failing_rule_is_the_reason():
    context = make_entry_context(
        community=make_community(policy=CommunityPolicy(allowed_platforms={"x"}, lockers_only=True)),
        rider=make_rider(status=RiderStatus.SUSPENDED),
        orders=(),
    )
    assert code(DefaultPolicy().hub_evaluate_entry(context)) == "platform_not_allowed"
    assert code(DefaultPolicy().hub_evaluate_entry(replace(context, community=make_community()))) == "rider_suspended"
