"""The rules of a community's entry policy that the command line and the console share
(:mod:`hub.core.policy_input`)."""

from __future__ import annotations

from datetime import time

import pytest

from hub.core.model import CommunityPolicy
from hub.core.policy_input import InvalidPolicy, Problem, edit_policy, parse_clock, policy_changes

BASE = CommunityPolicy(opening=time(6, 0), closing=time(23, 0))


def test_changes_given_as_text_are_parsed_and_the_rest_is_kept():
    edited = edit_policy(
        BASE, {"max_pass_minutes": " 12 ", "lockers_only": True, "allowed_platforms": ["plat", " ", "acme"]}
    )

    assert edited == CommunityPolicy(
        opening=time(6, 0),
        closing=time(23, 0),
        max_pass_minutes=12,
        lockers_only=True,
        allowed_platforms={"plat", "acme"},
    )


def test_both_times_empty_means_always_open():
    assert edit_policy(BASE, {"opening": "", "closing": ""}).opening is None
    assert edit_policy(BASE, {"opening": "7:05", "closing": "01:30"}).closing == time(1, 30)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"max_pass_minutes": "0"}, "max_pass_minutes", Problem.OUT_OF_RANGE),
        ({"exit_grace_minutes": 61}, "exit_grace_minutes", Problem.OUT_OF_RANGE),
        ({"retention_days": "ten"}, "retention_days", Problem.NOT_A_NUMBER),
        ({"max_entries_per_hour": "2.5"}, "max_entries_per_hour", Problem.NOT_A_NUMBER),
        ({"opening": "25:00", "closing": "06:00"}, "opening", Problem.NOT_A_TIME),
        ({"opening": "06:00", "closing": ""}, "closing", Problem.BOTH_OR_NEITHER),
        ({"opening": "06:00"}, "closing", Problem.BOTH_OR_NEITHER),
        ({"closing": "06:00"}, "opening", Problem.BOTH_OR_NEITHER),
    ],
)
def test_a_wrong_field_is_named(changes, field, problem):
    with pytest.raises(InvalidPolicy) as raised:
        edit_policy(BASE, changes)

    assert [(p.field, p.problem) for p in raised.value.problems] == [(field, problem)]


def test_every_wrong_field_is_named_at_once():
    with pytest.raises(InvalidPolicy) as raised:
        edit_policy(BASE, {"max_pass_minutes": "999", "retention_days": "x", "opening": "noon", "closing": "6pm"})

    assert set(raised.value.by_field()) == {"max_pass_minutes", "retention_days", "opening", "closing"}
    assert "max_pass_minutes must be from 1 to 240, not 999" in str(raised.value)


def test_a_field_that_is_not_a_policys_is_a_programming_error():
    with pytest.raises(ValueError, match="not policy fields: colour"):
        edit_policy(BASE, {"colour": "blue"})


def test_clock_times_are_hours_and_minutes_only():
    assert parse_clock("06:30") == time(6, 30)
    for wrong in ("24:00", "6", "06:30:00", "06:60", "6.30"):
        with pytest.raises(ValueError, match="not a time like 06:30"):
            parse_clock(wrong)


def test_changes_name_only_the_fields_that_differ():
    after = edit_policy(BASE, {"opening": "", "closing": "", "max_pass_minutes": 30, "allowed_platforms": ["b", "a"]})

    assert policy_changes(BASE, after) == {
        "allowed_platforms": {"before": [], "after": ["a", "b"]},
        "closing": {"before": "23:00", "after": None},
        "opening": {"before": "06:00", "after": None},
    }
