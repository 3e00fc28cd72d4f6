"""The protocol's JSON values, read into typed records.

Only shapes are checked here (types, required fields, RFC 3339 times). Every reader
raises ``ValueError`` naming the field; the client turns it into a ``ProtocolError``.
States are kept as sent, so a controller of a later protocol version that adds a state
is still understood.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Compartment sizes, smallest first; a request for one may be served by a larger one.
SIZES = ("S", "M", "L")

#: Temperature zones: 常温 ambient, 加热保温 warm (hot holding), 冷藏 chilled.
ZONES = ("ambient", "warm", "chilled")

#: Compartment states.
COMPARTMENT_STATES = ("free", "reserved", "occupied", "out_of_service")

#: Allocation states; the last three are final.
ALLOCATION_STATES = ("reserved", "occupied", "picked_up", "released", "expired")


@dataclass(frozen=True)
class Compartment:
    """One compartment (格口) of a bank."""

    no: str
    size: str
    zone: str
    state: str
    temperature_c: float | None = None
    out_of_service_reason: str = ""
    last_cleaned_at: datetime | None = None


@dataclass(frozen=True)
class Allocation:
    """A compartment reserved for one order.

    ``dropoff_code`` (for the rider) and ``pickup_code`` (for the resident) are only
    sent in the reply that creates or repeats an allocation; elsewhere they are ``""``.
    """

    id: str
    bank_id: str
    order_ref: str
    compartment_no: str
    size: str
    zone: str
    state: str
    created_at: datetime
    dropoff_deadline: datetime
    dropoff_code: str = field(default="", repr=False)
    pickup_code: str = field(default="", repr=False)
    dropped_at: datetime | None = None
    pickup_deadline: datetime | None = None
    finished_at: datetime | None = None
    overdue_reported_at: datetime | None = None


@dataclass(frozen=True)
class OverduePickups:
    """The reply of ``GET /v1/banks/{bank_id}/overdue``: food dropped off and not
    picked up within the bank's ``pickup_minutes``."""

    pickup_minutes: int
    allocations: tuple[Allocation, ...]


def require_object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a JSON object")
    return value


def require_str(data: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
    """``data[key]`` as a string: non-empty when required, ``""`` when optional and absent."""
    value = data.get(key)
    if optional and value is None:
        return ""
    if not isinstance(value, str) or not (value or optional):
        raise ValueError(f"{key} must be a {'' if optional else 'non-empty '}string")
    return value


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
        # A time without an offset means something different at the hub and the bank.
        raise ValueError(f"{key} must carry a UTC offset")
    return parsed.astimezone(UTC)


def read_time(data: Mapping[str, Any], key: str) -> datetime | None:
    """An optional RFC 3339 time; ``None`` when absent or null."""
    return None if data.get(key) is None else require_time(data, key)


def format_time(value: datetime) -> str:
    """An aware ``datetime`` as the protocol writes times: RFC 3339 in UTC with ``Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_compartments(data: Any) -> list[Compartment]:
    """The reply of ``GET /v1/banks/{bank_id}/compartments``."""
    items = require_object(data, "reply").get("compartments")
    if not isinstance(items, list):
        raise ValueError("compartments must be a JSON array")
    compartments = []
    for item in items:
        c = require_object(item, "compartment")
        temperature = c.get("temperature_c")
        if temperature is not None and (not isinstance(temperature, int | float) or isinstance(temperature, bool)):
            raise ValueError("temperature_c must be a number")
        compartments.append(
            Compartment(
                no=require_str(c, "no"),
                size=require_str(c, "size"),
                zone=require_str(c, "zone"),
                state=require_str(c, "state"),
                temperature_c=None if temperature is None else float(temperature),
                out_of_service_reason=require_str(c, "out_of_service_reason", optional=True),
                last_cleaned_at=read_time(c, "last_cleaned_at"),
            )
        )
    return compartments


def read_allocation(data: Any) -> Allocation:
    """One allocation object."""
    a = require_object(data, "allocation")
    return Allocation(
        id=require_str(a, "id"),
        bank_id=require_str(a, "bank_id"),
        order_ref=require_str(a, "order_ref"),
        compartment_no=require_str(a, "compartment_no"),
        size=require_str(a, "size"),
        zone=require_str(a, "zone"),
        state=require_str(a, "state"),
        created_at=require_time(a, "created_at"),
        dropoff_deadline=require_time(a, "dropoff_deadline"),
        dropoff_code=require_str(a, "dropoff_code", optional=True),
        pickup_code=require_str(a, "pickup_code", optional=True),
        dropped_at=read_time(a, "dropped_at"),
        pickup_deadline=read_time(a, "pickup_deadline"),
        finished_at=read_time(a, "finished_at"),
        overdue_reported_at=read_time(a, "overdue_reported_at"),
    )


def read_allocation_reply(data: Any) -> Allocation:
    """The reply of an allocation, release or overdue report: ``{"allocation": {...}}``."""
    return read_allocation(require_object(data, "reply").get("allocation"))


def read_overdue(data: Any) -> OverduePickups:
    """The reply of ``GET /v1/banks/{bank_id}/overdue``."""
    body = require_object(data, "reply")
    minutes = body.get("pickup_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
        raise ValueError("pickup_minutes must be a positive integer")
    items = body.get("allocations")
    if not isinstance(items, list):
        raise ValueError("allocations must be a JSON array")
    return OverduePickups(minutes, tuple(read_allocation(a) for a in items))
