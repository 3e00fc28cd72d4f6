"""The default entry policy: the community's own rules, as a policy plugin.

Each check has a stable reason code and words a rider understands, in Simplified Chinese
and English. Every check can only deny, so the vote is the first check that fails, in
this order, or ``allow`` when none does:

=====================  ==================================================================
platform_not_allowed   the connection's plugin name or id is not in ``allowed_platforms``
                       (an empty set allows every platform)
outside_hours          now, in the community's timezone, is outside opening–closing (a
                       window may run over midnight; equal times mean around the clock)
rider_suspended        the platform says the rider is suspended
no_active_order        ``require_active_order`` and none of the rider's own orders is
order_not_found        being delivered (or the order the rider named is not among them)
too_many_entries       the rider entered ``max_entries_per_hour`` times in the last hour
                       (zero or less: no limit)
presence_required      ``require_presence`` and the rider did not scan the gate's code
=====================  ==================================================================

A ``lockers_only`` community is no reason to deny: the rider may deliver, but to a food
locker by the gate instead of going in, which the entry engine arranges.

When there is no verified rider the policy votes on the community-wide rules only (the
first two) and otherwise abstains: :mod:`hub.plugins.fallback` decides between a
denial and a manual check from the reason. Likewise, when the orders could not be fetched
the order check is skipped, so a platform outage gives a manual check, not a denial.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from zoneinfo import ZoneInfo

from hub.core.hookspecs import hookimpl
from hub.core.model import EntryContext, Order, OrderStatus, PluginInfo, PluginKind, RiderStatus, Verdict
from hub.plugins.info import builtin_info

Check = Callable[[EntryContext], Verdict | None]


def platform_allowed(context: EntryContext) -> Verdict | None:
    allowed = context.community.policy.allowed_platforms
    connection = context.connection
    if not allowed or connection.plugin in allowed or connection.id in allowed:
        return None
    return Verdict.deny(
        "platform_not_allowed",
        "本小区暂未对该平台的骑手开放通行",
        "This community does not admit riders of this platform.",
    )


def open_at(now: time, opening: time, closing: time) -> bool:
    """Whether a wall-clock time is inside an opening window; ``closing`` before
    ``opening`` means the window runs over midnight."""
    if opening == closing:
        return True
    if opening < closing:
        return opening <= now < closing
    return now >= opening or now < closing


def within_opening_hours(context: EntryContext) -> Verdict | None:
    policy = context.community.policy
    if policy.opening is None or policy.closing is None:
        return None
    local_now = context.now.astimezone(ZoneInfo(context.community.timezone)).time()
    if open_at(local_now, policy.opening, policy.closing):
        return None
    opening, closing = f"{policy.opening:%H:%M}", f"{policy.closing:%H:%M}"
    overnight = policy.closing < policy.opening
    return Verdict.deny(
        "outside_hours",
        f"骑手进入时间为 {opening}–{'次日 ' if overnight else ''}{closing}，现在不在此时段内",
        f"Riders may enter between {opening} and {closing}{' the next day' if overnight else ''}; "
        "it is outside those hours now.",
    )


def rider_not_suspended(context: EntryContext) -> Verdict | None:
    if context.rider is None or context.rider.status is not RiderStatus.SUSPENDED:
        return None
    return Verdict.deny(
        "rider_suspended",
        "您的骑手账号已被平台停用，暂不能进入",
        "Your rider account is suspended by the platform, so you cannot enter.",
    )


def _counts(order: Order, context: EntryContext) -> bool:
    """Whether an order is evidence for this entry: not finished, known, the rider's own
    (a pushed order may name another rider), and the one the rider named, if any."""
    if order.status.final or order.status is OrderStatus.UNKNOWN:
        return False
    if order.rider_ref and context.rider is not None and order.rider_ref != context.rider.platform_ref:
        return False
    return context.order_ref is None or order.ref == context.order_ref


def has_active_order(context: EntryContext) -> Verdict | None:
    if not context.community.policy.require_active_order:
        return None
    if any(problem.code != "rejected" for problem in context.problems):
        return None  # the orders could not be fetched; the fallback asks for a manual check
    if any(_counts(order, context) for order in context.orders):
        return None
    if context.order_ref is not None:
        return Verdict.deny(
            "order_not_found",
            "未找到您所填的订单，或该订单已送达或取消",
            "The order you named was not found, or it is already delivered or cancelled.",
        )
    return Verdict.deny(
        "no_active_order",
        "未找到您正在配送到本小区的订单",
        "You have no order being delivered into this community right now.",
    )


def under_hourly_limit(context: EntryContext) -> Verdict | None:
    limit = context.community.policy.max_entries_per_hour
    if limit <= 0 or context.entries_last_hour < limit:
        return None
    return Verdict.deny(
        "too_many_entries",
        f"您一小时内已进入 {limit} 次，达到上限，请联系门岗",
        f"You have entered {limit} times in the last hour, the most allowed; please ask the guard.",
    )


def presence_proven(context: EntryContext) -> Verdict | None:
    if not context.community.policy.require_presence or context.presence_verified:
        return None
    return Verdict.deny(
        "presence_required",
        "请扫描大门处的二维码，确认您已到达门口",
        "Scan the gate's code to show you are at the gate.",
    )


#: Rules for everyone at the gate, checked whether or not the rider is known.
COMMUNITY_CHECKS: tuple[Check, ...] = (platform_allowed, within_opening_hours)
#: Rules about this rider, checked only for a verified rider.
RIDER_CHECKS: tuple[Check, ...] = (rider_not_suspended, has_active_order, under_hourly_limit, presence_proven)


class DefaultPolicy:
    """Votes on every entry by the community's ``CommunityPolicy``."""

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "default-policy",
            "Applies the community's rules: platforms, hours, active order, entries per hour, "
            "presence at the gate, lockers only.",
            {"entry_policy"},
            kinds={PluginKind.POLICY, PluginKind.CORE},
        )

    @hookimpl
    def hub_evaluate_entry(self, context: EntryContext) -> Verdict | None:
        for check in COMMUNITY_CHECKS:
            if (verdict := check(context)) is not None:
                return verdict
        if context.rider is None:
            return None
        for check in RIDER_CHECKS:
            if (verdict := check(context)) is not None:
                return verdict
        return Verdict.allow()
