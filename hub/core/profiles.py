"""A community's public profile: the entry rules, gates, buildings and marked areas that
platforms show riders (the API's ``/communities/<id>/profile``, and what
``hub_publish_community`` sends).

The rules are written out in words a rider reads, in Simplified Chinese and English, from
the community's policy; nothing secret is in a profile (gate codes never are).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.core.model import Community, CommunityPolicy, CommunityProfile, Gate, Zone

#: The kinds of marked area a profile lists, in the order it lists them.
ZONE_KINDS = ("parking", "locker", "rest_station", "no_go", "route")


def rules_text(policy: CommunityPolicy) -> tuple[str, str]:
    """The community's entry rules as (Chinese, English) sentences."""
    zh: list[str] = []
    en: list[str] = []
    if policy.opening is not None and policy.closing is not None and policy.opening != policy.closing:
        hours = f"{policy.opening:%H:%M}-{policy.closing:%H:%M}"
        zh.append(f"骑手可在{hours}进入小区")
        en.append(f"Riders may enter from {policy.opening:%H:%M} to {policy.closing:%H:%M}")
    else:
        zh.append("骑手全天可进入小区")
        en.append("Riders may enter at any time")
    if policy.lockers_only:
        zh.append("骑手不进入小区，请将餐品放入门口的智能取餐柜")
        en.append("Riders do not go in: leave the delivery in the food lockers by the gate")
    if policy.require_active_order:
        zh.append("须有正在配送到本小区的订单")
        en.append("You need an order being delivered into this community")
    if policy.require_presence:
        zh.append("须在门口扫描或输入大门屏幕上的动态码")
        en.append("Scan or type the code shown on the gate's screen")
    zh.append(f"通行证有效期最长{policy.max_pass_minutes}分钟，送达后请在{policy.exit_grace_minutes}分钟内离开")
    en.append(
        f"A pass lasts at most {policy.max_pass_minutes} minutes; "
        f"leave within {policy.exit_grace_minutes} minutes of delivering"
    )
    return "；".join(zh) + "。", ". ".join(en) + "."


def community_profile(
    community: Community, gates: Sequence[Gate], zones: Sequence[Zone], version: int = 1
) -> CommunityProfile:
    """The profile of a community, with its rules in words; zones of kinds a profile
    does not list are left out."""
    zh, en = rules_text(community.policy)
    listed = tuple(z for kind in ZONE_KINDS for z in zones if z.kind == kind)
    return CommunityProfile(community, tuple(gates), listed, rules_zh=zh, rules_en=en, version=version)
