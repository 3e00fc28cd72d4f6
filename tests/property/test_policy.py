"""The entry policy as properties: the built-in policy plugins (hub/plugins/policy.py, the
community's rules, and hub/plugins/fallback.py, the manual check) vote through the hub's
hook, and the engine's ``combine`` folds the votes, exactly as an entry is decided.

- Nothing grants without a verified, unsuspended rider, and, where the community asks
  for it, an order of that rider's in delivery (the one named, when one is named).
- A grant means every documented rule held: platform, hours, hourly limit, presence.
- An upstream problem never grants; a rejected credential is a denial, an unreachable
  platform a manual check.
- Stricter rules never grant what looser rules refused; more evidence (another order)
  never takes a grant away.
- ``combine``: deny beats manual beats allow, whatever the order of the votes.
- Policy edits (hub/core/policy_input.py) keep every number in its limits, change
  nothing on any error, and survive the store's JSON form.
"""

from __future__ import annotations

import dataclasses
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.core.clock import ManualClock
from hub.core.engine import combine
from hub.core.model import (
    Community,
    CommunityPolicy,
    Connection,
    CredentialKind,
    Decision,
    EntryContext,
    Gate,
    Order,
    OrderStatus,
    Problem,
    Reason,
    RiderIdentity,
    RiderStatus,
    Verdict,
)
from hub.core.plugins import Hub
from hub.core.policy_input import FLAGS, LIMITS, InvalidPolicy, edit_policy
from hub.core.rows import policy_from_json, policy_to_json
from hub.plugins import builtin_plugins
from hub.plugins.policy import open_at
from tests.property.strategies import instants

#: Every reason code a built-in policy plugin or ``combine`` may give (the modules'
#: documented tables).
REASON_CODES = {
    "platform_not_allowed",
    "outside_hours",
    "rider_suspended",
    "no_active_order",
    "order_not_found",
    "too_many_entries",
    "presence_required",
    "rider_not_verified",
    "rider_unconfirmed",
    "platform_timeout",
    "platform_circuit_open",
    "platform_error",
    "no_policy",
}

COMMUNITY_REF = "PC-1"
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
platform_names = st.sampled_from(["fakeplatform", "plat", "meituan", "eleme"])


def _mostly(draw: st.DrawFn, happy: object, anything: st.SearchStrategy) -> object:
    """``happy`` (a value that lets the rider in) three times in four, else anything: so
    that many entries are granted, and many are refused by exactly one rule."""
    return happy if draw(st.integers(0, 3)) else draw(anything)


@st.composite
def policies(draw: st.DrawFn) -> CommunityPolicy:
    hours = _mostly(draw, None, st.none() | st.tuples(times, times))
    return CommunityPolicy(
        allowed_platforms=_mostly(draw, frozenset(), st.frozensets(platform_names, max_size=2)),
        opening=hours[0] if hours else None,
        closing=hours[1] if hours else None,
        require_active_order=draw(st.booleans()),
        max_entries_per_hour=_mostly(draw, 6, st.integers(-1, 8)),
        require_presence=draw(st.booleans()),
        lockers_only=draw(st.booleans()),
    )


riders = st.none() | st.builds(
    RiderIdentity, platform_ref=st.sampled_from(["R1", "R2"]), status=st.sampled_from(list(RiderStatus))
)
orders = st.builds(
    Order,
    ref=st.sampled_from(["O1", "O2", "O3"]),
    status=st.sampled_from(list(OrderStatus)),
    rider_ref=st.sampled_from(["", "R1", "R2"]),
    community_ref=st.sampled_from(["", COMMUNITY_REF]),
)
problems = st.builds(
    Problem,
    hook=st.sampled_from(["hub_verify_rider", "hub_active_orders"]),
    connection_id=st.just("plat"),
    code=st.sampled_from(["timeout", "error", "circuit_open", "rejected", "something_new"]),
    message=st.text(max_size=10),
    reason=st.none() | st.just(Reason("token_expired", "令牌已过期", "Your sign-in has expired")),
)


@st.composite
def contexts(draw: st.DrawFn, policy: CommunityPolicy | None = None) -> EntryContext:
    community = Community(
        "c1",
        "Sunny Garden",
        timezone=draw(st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"])),
        policy=policy if policy is not None else draw(policies()),
        platform_refs={"plat": COMMUNITY_REF},
    )
    rider = _mostly(draw, RiderIdentity("R1"), riders)
    happy_order = Order("O1", OrderStatus.DELIVERING, "R1", COMMUNITY_REF)
    return EntryContext(
        community=community,
        gate=Gate("g1", "c1", "North gate", "north-code"),
        connection=Connection("plat", draw(platform_names), "Platform"),
        credential_kind=draw(st.sampled_from(list(CredentialKind))),
        now=draw(instants),
        rider=rider,
        orders=_mostly(draw, (happy_order,), st.lists(orders, max_size=3).map(tuple)),
        order_ref=_mostly(draw, None, st.sampled_from([None, "O1", "O2"])),
        presence_verified=_mostly(draw, True, st.booleans()),
        entries_last_hour=_mostly(draw, 0, st.integers(0, 10)),
        problems=_mostly(draw, (), st.lists(problems, max_size=2).map(tuple)),
    )


@pytest.fixture(scope="module")
def hub() -> Hub:
    hub = Hub()
    for plugin in builtin_plugins(ManualClock()):
        hub.register(plugin)
    return hub


def decide(hub: Hub, context: EntryContext) -> tuple[Decision, tuple[Reason, ...]]:
    """What the engine decides for ``context``: the policy hook's votes, combined."""
    return combine(hub.evaluate_entry(context), context.rider)


def counts_as_evidence(order: Order, context: EntryContext) -> bool:
    """The documented rule: an order in delivery (not finished, not unknown), the
    rider's own or naming no rider, and the one named if one was named."""
    rider = context.rider
    return (
        not order.status.final
        and order.status is not OrderStatus.UNKNOWN
        and rider is not None
        and order.rider_ref in ("", rider.platform_ref)
        and (context.order_ref is None or order.ref == context.order_ref)
    )


def local_time(context: EntryContext) -> time:
    return context.now.astimezone(ZoneInfo(context.community.timezone)).time()


# -- what a grant requires ------------------------------------------------------------------


@given(context=contexts())
def test_a_grant_needs_a_verified_active_rider_and_no_upstream_problem(hub, context):
    decision, _ = decide(hub, context)

    if decision is Decision.GRANTED:
        assert context.rider is not None
        assert context.rider.status is not RiderStatus.SUSPENDED
        assert context.problems == ()


@given(context=contexts())
def test_a_grant_needs_a_matching_order_in_delivery_where_the_community_asks_for_one(hub, context):
    decision, _ = decide(hub, context)

    if decision is Decision.GRANTED and context.community.policy.require_active_order:
        assert any(counts_as_evidence(order, context) for order in context.orders)


@given(context=contexts())
def test_a_grant_means_every_community_rule_held(hub, context):
    decision, _ = decide(hub, context)
    policy = context.community.policy

    if decision is Decision.GRANTED:
        allowed = policy.allowed_platforms
        assert not allowed or context.connection.plugin in allowed or context.connection.id in allowed
        if policy.opening is not None and policy.closing is not None:
            assert open_at(local_time(context), policy.opening, policy.closing)
        assert policy.max_entries_per_hour <= 0 or context.entries_last_hour < policy.max_entries_per_hour
        assert context.presence_verified or not policy.require_presence


@given(context=contexts())
def test_every_refusal_gives_documented_reasons_and_a_grant_none(hub, context):
    decision, reasons = decide(hub, context)

    if decision is Decision.GRANTED:
        assert reasons == ()
    else:
        assert reasons
        assert {r.code for r in reasons} <= REASON_CODES
        assert all(r.zh and r.en for r in reasons)


@given(context=contexts())
def test_a_rejected_credential_is_denied_and_an_unreachable_platform_sent_to_the_guard(hub, context):
    codes = {p.code for p in context.problems}
    decision, _ = decide(hub, context)

    if "rejected" in codes:
        assert decision is Decision.DENIED
    elif codes:
        # The community's own rules may still deny (outside hours, platform not allowed).
        assert decision in (Decision.MANUAL_CHECK, Decision.DENIED)
    elif context.rider is None:
        assert decision is not Decision.GRANTED


# -- monotonicity -------------------------------------------------------------------------------


def _stricter(draw: st.DrawFn, policy: CommunityPolicy) -> CommunityPolicy:
    """``policy`` with one or more of its rules tightened."""
    changes = {}
    rule = draw(st.sampled_from(["order", "presence", "limit", "platforms", "hours"]))
    if rule == "order":
        changes["require_active_order"] = True
    elif rule == "presence":
        changes["require_presence"] = True
    elif rule == "limit":
        current = policy.max_entries_per_hour
        changes["max_entries_per_hour"] = draw(st.integers(1, current if current > 0 else 8))
    elif rule == "platforms":
        narrower = draw(st.frozensets(platform_names, min_size=1, max_size=2))
        changes["allowed_platforms"] = policy.allowed_platforms & narrower if policy.allowed_platforms else narrower
        assume(changes["allowed_platforms"])
    elif policy.opening is None:
        changes["opening"], changes["closing"] = draw(times), draw(times)
    return dataclasses.replace(policy, **changes)


@given(loose=policies(), data=st.data())
def test_a_stricter_policy_never_grants_what_a_looser_one_refused(hub, loose, data):
    strict = _stricter(data.draw, loose)
    context = data.draw(contexts(policy=loose))
    tighter = dataclasses.replace(context, community=dataclasses.replace(context.community, policy=strict))

    if decide(hub, tighter)[0] is Decision.GRANTED:
        assert decide(hub, context)[0] is Decision.GRANTED


@given(context=contexts(), extra=orders)
def test_another_order_never_takes_a_grant_away(hub, context, extra):
    more = dataclasses.replace(context, orders=(*context.orders, extra))

    if decide(hub, context)[0] is Decision.GRANTED:
        assert decide(hub, more)[0] is Decision.GRANTED


@given(context=contexts(), problem=problems)
def test_an_upstream_problem_never_turns_a_refusal_into_a_grant(hub, context, problem):
    worse = dataclasses.replace(context, problems=(*context.problems, problem))

    assert decide(hub, worse)[0] is not Decision.GRANTED


# -- combine -----------------------------------------------------------------------------------

verdicts = st.one_of(
    st.just(Verdict.allow()),
    st.builds(Verdict.deny, st.sampled_from(["d1", "d2"]), st.just("拒"), st.just("no")),
    st.builds(Verdict.manual, st.sampled_from(["m1", "m2"]), st.just("人工"), st.just("guard")),
)


@given(votes=st.lists(verdicts, max_size=6), rider=riders, data=st.data())
def test_deny_beats_manual_beats_allow_in_any_order(votes, rider, data):
    decision, reasons = combine(votes, rider)
    shuffled = data.draw(st.permutations(votes))

    assert combine(shuffled, rider)[0] is decision
    assert set(combine(shuffled, rider)[1]) == set(reasons)
    kinds = {v.decision for v in votes}
    if Decision.DENIED in kinds:
        assert decision is Decision.DENIED
        assert {r.code for r in reasons} == {v.reason.code for v in votes if v.decision is Decision.DENIED}
    elif Decision.MANUAL_CHECK in kinds or not votes or rider is None:
        assert decision is Decision.MANUAL_CHECK
    else:
        assert decision is Decision.GRANTED
        assert reasons == ()


# -- opening hours -------------------------------------------------------------------------------


@given(now=times, opening=times, closing=times)
def test_a_window_and_its_complement_share_no_time_and_miss_none(now, opening, closing):
    if opening == closing:
        assert open_at(now, opening, closing)  # equal times: around the clock
    else:
        assert open_at(now, opening, closing) != open_at(now, closing, opening)


# -- editing a policy ---------------------------------------------------------------------------

numbers = st.integers(-10, 5000)
number_text = numbers.map(str) | st.sampled_from(["", " 7 ", "+3", "1.5", "seven", "٣", "1e2"])
clock_text = times.map(lambda t: f"{t:%H:%M}") | st.sampled_from(["", "6:30", "24:00", "7pm", "07:60", "  "])


@given(
    base=policies(),
    changes=st.fixed_dictionaries(
        {},
        optional={
            **{name: numbers | number_text for name in LIMITS},
            **{name: st.booleans() for name in FLAGS},
            "opening": st.none() | times | clock_text,
            "closing": st.none() | times | clock_text,
            "allowed_platforms": st.lists(st.sampled_from(["meituan", " eleme ", "", "plat"]), max_size=3),
        },
    ),
)
def test_an_edited_policy_keeps_every_number_in_its_limits_or_nothing_changes(base, changes):
    try:
        edited = edit_policy(base, changes)
    except InvalidPolicy as invalid:
        assert invalid.problems
        assert set(invalid.by_field()) <= set(changes) | {"opening", "closing"}
        return
    for name, (low, high) in LIMITS.items():
        if name in changes:
            assert low <= getattr(edited, name) <= high
            assert getattr(edited, name) == int(str(changes[name]).strip())
        else:
            assert getattr(edited, name) == getattr(base, name)
    assert (edited.opening is None) == (edited.closing is None)
    # What the store keeps (hub/core/rows.py) reads back as the same policy.
    assert policy_from_json(policy_to_json(edited)) == edited
