"""The protocol's JSON values, read into typed records.

Only shapes are checked here (types, required fields, RFC 3339 times); what a value
means to the hub is decided by :mod:`last100_riderpass.mapping`. Every reader raises
``ValueError`` naming the field, which the caller turns into its own error (a
``ProtocolError`` for a reply, a ``PushFormatError`` for a push).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Order statuses defined by the protocol, in the order an order goes through them.
ORDER_STATUSES = ("accepted", "picked_up", "delivering", "arrived", "delivered", "cancelled")

#: Rider statuses defined by the protocol.
RIDER_STATUSES = ("active", "suspended")


@dataclass(frozen=True)
class RiderRecord:
    """A rider as the platform vouches for them (``POST /v1/riders/verify``).

    ``status`` is kept as sent: a status this version does not know is still a value.
    """

    ref: str
    masked_name: str
    masked_phone: str
    status: str
    cache_seconds: int


@dataclass(frozen=True)
class OrderRecord:
    """An order as the protocol describes it. ``community_id`` is the hub's community id."""

    ref: str
    status: str
    rider_ref: str
    community_id: str
    building: str = ""
    address: str = ""
    eta: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Acknowledgement:
    """The platform's answer to a published profile or a rider notice."""

    accepted: bool
    ref: str = ""
    message: str = ""


def require_object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a JSON object")
    return value


def require_str(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
    """``data[key]`` as a string: non-empty when required, ``""`` when optional and absent."""
    value = data.get(key)
    if optional:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def read_int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    # bool is an int in Python but never a count on the wire.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


def read_time(data: Mapping[str, Any], key: str) -> datetime | None:
    """An optional RFC 3339 time (see :func:`require_time`); ``None`` when absent."""
    return None if data.get(key) is None else require_time(data, key)


def require_time(data: Mapping[str, Any], key: str) -> datetime:
    """An RFC 3339 time with a UTC offset, as an aware UTC ``datetime``."""
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{key} must be an RFC 3339 time") from None
    if parsed.tzinfo is None:
        # A time without an offset means something different at the hub and the platform.
        raise ValueError(f"{key} must carry a UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 is before the first year in UTC
        raise ValueError(f"{key} is out of range") from None


def format_time(value: datetime) -> str:
    """An aware ``datetime`` as the protocol writes times: RFC 3339 in UTC with ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_rider(data: Any) -> RiderRecord:
    """The reply of ``POST /v1/riders/verify``."""
    body = require_object(data, "reply")
    rider = require_object(body.get("rider"), "rider")
    return RiderRecord(
        ref=require_str(rider, "ref"),
        masked_name=require_str(rider, "masked_name", optional=True),
        masked_phone=require_str(rider, "masked_phone", optional=True),
        status=require_str(rider, "status"),
        cache_seconds=read_int(body, "cache_seconds", 0),
    )


def read_order(data: Any) -> OrderRecord:
    """One order object (in replies and in ``order.status_changed`` pushes)."""
    order = require_object(data, "order")
    return OrderRecord(
        ref=require_str(order, "ref"),
        status=require_str(order, "status"),
        rider_ref=require_str(order, "rider_ref"),
        community_id=require_str(order, "community_id"),
        building=require_str(order, "building", optional=True),
        address=require_str(order, "address", optional=True),
        eta=read_time(order, "eta"),
        updated_at=read_time(order, "updated_at"),
    )


def read_orders(data: Any) -> list[OrderRecord]:
    """The reply of ``POST /v1/orders/active``."""
    orders = require_object(data, "reply").get("orders")
    if not isinstance(orders, list):
        raise ValueError("orders must be a JSON array")
    return [read_order(o) for o in orders]


def read_acknowledgement(data: Any) -> Acknowledgement:
    """The reply of a profile publication or a rider notice."""
    body = require_object(data, "reply")
    accepted = body.get("accepted")
    if not isinstance(accepted, bool):
        raise ValueError("accepted must be true or false")
    return Acknowledgement(
        accepted=accepted,
        ref=require_str(body, "ref", optional=True),
        message=require_str(body, "message", optional=True),
    )
