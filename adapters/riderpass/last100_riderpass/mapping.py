"""Between the protocol's records and the hub's model.

Order and rider statuses on the wire are the protocol's own words; a status a newer
platform sends that this version does not know becomes ``unknown`` rather than an error,
so the hub can still show the order (and its policy does not count it as in progress).
"""

from __future__ import annotations

from typing import Any

from hub.core.masking import mask_phones_in
from hub.core.model import CommunityProfile, Notice, Order, OrderStatus, RiderIdentity, RiderStatus
from last100_riderpass.entrycodes import EntryCode
from last100_riderpass.wire import OrderRecord, RiderRecord

#: The protocol's order statuses and the hub's.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "accepted": OrderStatus.ACCEPTED,
    "picked_up": OrderStatus.PICKED_UP,
    "delivering": OrderStatus.DELIVERING,
    "arrived": OrderStatus.ARRIVED,
    "delivered": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
}

#: The protocol's rider statuses and the hub's.
RIDER_STATUSES: dict[str, RiderStatus] = {"active": RiderStatus.ACTIVE, "suspended": RiderStatus.SUSPENDED}


def masked_phone(value: str) -> str:
    """The phone as the protocol requires it, masked (``138****5678``). A platform that
    sends a full number by mistake must not get it stored in the hub, however it wrote
    it (``+86 138 1234 5678``, ``138-1234-5678``, half masked)."""
    return mask_phones_in(value)


def masked_name(value: str) -> str:
    """The name as the protocol requires it, masked (``王*``): the first character only."""
    if "*" in value or len(value) <= 1:
        return value
    return value[0] + "*" * (len(value) - 1)


def to_order(record: OrderRecord) -> Order:
    return Order(
        ref=record.ref,
        status=ORDER_STATUSES.get(record.status, OrderStatus.UNKNOWN),
        rider_ref=record.rider_ref,
        community_ref=record.community_id,
        building=record.building,
        address=record.address,
        eta=record.eta,
        updated_at=record.updated_at,
    )


def to_identity(record: RiderRecord, max_cache_seconds: int) -> RiderIdentity:
    return RiderIdentity(
        platform_ref=record.ref,
        masked_name=masked_name(record.masked_name),
        masked_phone=masked_phone(record.masked_phone),
        status=RIDER_STATUSES.get(record.status, RiderStatus.UNKNOWN),
        cache_seconds=min(record.cache_seconds, max_cache_seconds),
    )


def code_identity(code: EntryCode) -> RiderIdentity:
    """The identity a verified entry code vouches for. It is never cached (the code
    itself is the credential, valid once) and names its orders."""
    return RiderIdentity(
        platform_ref=code.rider_ref,
        masked_name=masked_name(code.masked_name),
        masked_phone=masked_phone(code.masked_phone),
        status=RiderStatus.ACTIVE,
        cache_seconds=0,
        order_refs=code.order_refs,
        single_use_id=code.code_id,
        single_use_until=code.expires_at,
    )


def _points(points: tuple[tuple[float, float], ...]) -> list[list[float]]:
    return [[lat, lon] for lat, lon in points]


def profile_to_wire(profile: CommunityProfile) -> dict[str, Any]:
    """The body of ``PUT /v1/communities/{id}/profile``."""
    community = profile.community
    policy = community.policy
    hours = None
    if policy.opening is not None and policy.closing is not None:
        hours = {"opening": policy.opening.strftime("%H:%M"), "closing": policy.closing.strftime("%H:%M")}
    return {
        "version": profile.version,
        "community": {
            "id": community.id,
            "name": community.name,
            "address": community.address,
            "timezone": community.timezone,
            "geofence": _points(community.geofence),
            "buildings": [
                {"id": b.id, "name": b.name, "door_no": b.door_no, "latitude": b.latitude, "longitude": b.longitude}
                for b in community.buildings
            ],
        },
        "rules": {
            "zh": profile.rules_zh,
            "en": profile.rules_en,
            "hours": hours,
            "lockers_only": policy.lockers_only,
            "require_presence": policy.require_presence,
            "max_pass_minutes": policy.max_pass_minutes,
        },
        "gates": [{"id": g.id, "name": g.name, "code": g.code, "door_no": g.door_no} for g in profile.gates],
        "zones": [
            {"id": z.id, "kind": z.kind, "name": z.name, "points": _points(z.points), "notes": z.notes}
            for z in profile.zones
        ],
    }


def notice_to_wire(notice: Notice) -> dict[str, Any]:
    """The body of ``POST /v1/riders/{ref}/notices``."""
    return {"kind": notice.kind, "text": {"zh": notice.text_zh, "en": notice.text_en}, "data": dict(notice.data)}
