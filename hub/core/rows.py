"""Conversions between database rows (:mod:`hub.core.db`) and the model's values.

The model holds tuples, frozensets and ``time`` values; rows hold plain JSON (lists,
sorted lists, ``"HH:MM"`` strings). These functions are the one place that knows both
shapes, so :class:`~hub.core.store.Store` reads and writes model values only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import time
from typing import Any

from sqlalchemy import String, bindparam, insert, select
from sqlalchemy.orm import Session

from hub.core.apikeys import ApiKey
from hub.core.db import (
    ApiKeyRow,
    BuildingRow,
    CommunityRow,
    EntryRow,
    FeedbackRow,
    GateRow,
    HookCallRow,
    LockerAllocationRow,
    OrderRow,
    PassRow,
    ZoneRow,
)
from hub.core.masking import mask_contact
from hub.core.model import (
    AccessGrant,
    Building,
    Community,
    CommunityPolicy,
    Decision,
    Entry,
    Feedback,
    FeedbackCategory,
    FeedbackResponse,
    FeedbackSource,
    FeedbackStatus,
    Gate,
    HookCall,
    LockerAllocation,
    Order,
    Reason,
    Zone,
)


def fill_community(row: CommunityRow, community: Community) -> None:
    """Copy a community's fields and buildings onto its row (new or loaded)."""
    row.name = community.name
    row.address = community.address
    row.timezone = community.timezone
    row.policy = policy_to_json(community.policy)
    row.geofence = [list(point) for point in community.geofence]
    row.platform_refs = dict(community.platform_refs)
    # Update buildings in place (same primary key) rather than delete and re-insert.
    existing = {b.id: b for b in row.buildings}
    buildings = []
    for position, building in enumerate(community.buildings):
        b = existing.get(building.id) or BuildingRow(id=building.id)
        b.position = position
        b.name = building.name
        b.door_no = building.door_no
        b.latitude = building.latitude
        b.longitude = building.longitude
        buildings.append(b)
    row.buildings = buildings


def community_model(row: CommunityRow) -> Community:
    return Community(
        id=row.id,
        name=row.name,
        address=row.address,
        timezone=row.timezone,
        policy=policy_from_json(row.policy),
        buildings=tuple(Building(b.id, b.name, b.door_no, b.latitude, b.longitude) for b in row.buildings),
        geofence=tuple((lat, lon) for lat, lon in row.geofence),
        platform_refs=dict(row.platform_refs),
    )


_POLICY_TIMES = ("opening", "closing")


_POLICY_FIELDS = frozenset(f.name for f in dataclasses.fields(CommunityPolicy))


def policy_to_json(policy: CommunityPolicy) -> dict[str, Any]:
    data = {f: getattr(policy, f) for f in _POLICY_FIELDS}
    data["allowed_platforms"] = sorted(policy.allowed_platforms)
    for name in _POLICY_TIMES:
        value: time | None = data[name]
        data[name] = value.strftime("%H:%M") if value is not None else None
    return data


def policy_from_json(data: Mapping[str, Any]) -> CommunityPolicy:
    # Unknown keys (written by a newer hub) are ignored; missing ones take defaults.
    values = {k: v for k, v in data.items() if k in _POLICY_FIELDS}
    for name in _POLICY_TIMES:
        if values.get(name):
            values[name] = time.fromisoformat(values[name])
    return CommunityPolicy(**values)


def gate_model(row: GateRow) -> Gate:
    return Gate(row.id, row.community_id, row.name, row.code, row.door_no, row.access_connection_id)


def order_model(row: OrderRow) -> Order:
    return Order(
        ref=row.ref,
        status=row.status,
        rider_ref=row.rider_ref,
        community_ref=row.community_ref,
        building=row.building,
        address=row.address,
        eta=row.eta,
        updated_at=row.updated_at,
    )


def insert_entry(
    session: Session, entry: Entry, rider_id: int | None, idempotency_key: str | None, fingerprint: str | None
) -> None:
    """Insert a decided entry with its pass, locker compartment and hook calls: plain
    INSERTs with cached statements (the entry path's commit; the ORM's unit of work
    cost more than the database did)."""
    session.execute(
        _INSERT_ENTRY,
        {
            "id": entry.id,
            "community_id": entry.community_id,
            "gate_id": entry.gate_id,
            "connection_id": entry.connection_id,
            "rider_id": rider_id,
            "decision": entry.decision.value,
            "reasons": [{"code": r.code, "zh": r.zh, "en": r.en} for r in entry.reasons],
            "order_refs": list(entry.order_refs),
            "created_at": entry.created_at,
            "decision_ms": entry.decision_ms,
            "idempotency_key": idempotency_key,
            "fingerprint": fingerprint,
        },
    )
    grant = entry.access_pass
    if grant is not None:
        session.execute(
            _INSERT_PASS,
            {
                "id": grant.grant_id,
                "entry_id": entry.id,
                "gate_id": entry.gate_id,
                "device_gate_id": entry.gate_id,
                "kind": grant.kind.value,
                "value": grant.value,
                "valid_from": grant.valid_from,
                "valid_until": grant.valid_until,
                "device_ref": grant.device_ref,
            },
        )
    allocation = entry.locker
    if allocation is not None:
        session.execute(
            insert(LockerAllocationRow.__table__),
            {
                "entry_id": entry.id,
                "connection_id": allocation.bank_id,
                "bank_id": allocation.bank_id,
                "allocation_id": allocation.allocation_id,
                "locker_no": allocation.locker_no,
                "pin": allocation.pin,
                "valid_until": allocation.valid_until,
            },
        )
    if entry.hook_calls:
        session.execute(
            insert(HookCallRow.__table__),
            [
                {
                    "entry_id": entry.id,
                    "hook": c.hook,
                    "plugin": c.plugin,
                    "connection_id": c.connection_id,
                    "started_at": c.started_at,
                    "duration_ms": c.duration_ms,
                    "outcome": c.outcome,
                    "detail": c.detail,
                }
                for c in entry.hook_calls
            ],
        )


_INSERT_ENTRY = insert(EntryRow.__table__)
# The gate's access connection issued the pass (NULL for a guard's pass); read inside
# the INSERT rather than with an extra query.
_INSERT_PASS = insert(PassRow.__table__).values(
    connection_id=select(GateRow.access_connection_id)
    .where(GateRow.id == bindparam("device_gate_id", type_=String))
    .scalar_subquery()
)


def entry_model(row: EntryRow) -> Entry:
    grant = row.access_pass
    return Entry(
        id=row.id,
        community_id=row.community_id,
        gate_id=row.gate_id,
        connection_id=row.connection_id,
        decision=Decision(row.decision),
        reasons=tuple(Reason(r["code"], r["zh"], r["en"]) for r in row.reasons),
        created_at=row.created_at,
        decision_ms=row.decision_ms,
        rider_ref=row.rider.platform_ref if row.rider is not None else "",
        order_refs=tuple(row.order_refs),
        access_pass=None
        if grant is None
        else AccessGrant(grant.id, grant.kind, grant.value, grant.valid_from, grant.valid_until, grant.device_ref),
        locker=None
        if row.locker is None
        else LockerAllocation(
            row.locker.allocation_id, row.locker.bank_id, row.locker.locker_no, row.locker.pin, row.locker.valid_until
        ),
        hook_calls=tuple(
            HookCall(c.hook, c.plugin, c.connection_id, c.started_at, c.duration_ms, c.outcome, c.detail)
            for c in row.hook_calls
        ),
        exited_at=row.exited_at,
        pass_revoked_at=grant.revoked_at if grant is not None else None,
        entered_at=row.entered_at,
    )


def zone_model(row: ZoneRow) -> Zone:
    return Zone(row.id, row.kind, row.name, tuple((lat, lon) for lat, lon in row.points), row.notes)


def zone_row(community_id: str, zone: Zone) -> ZoneRow:
    return ZoneRow(
        community_id=community_id,
        id=zone.id,
        kind=zone.kind,
        name=zone.name,
        points=[list(point) for point in zone.points],
        notes=zone.notes,
    )


def api_key_model(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        connection_ids=frozenset(row.connection_ids),
        community_ids=frozenset(row.community_ids),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def feedback_model(row: FeedbackRow) -> Feedback:
    """A report with its answers; the reporter's contact masked (personal data)."""
    return Feedback(
        id=row.id,
        community_id=row.community_id,
        source=FeedbackSource(row.source),
        category=FeedbackCategory(row.category),
        body=row.body,
        status=FeedbackStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        masked_contact=mask_contact(row.contact) if row.contact else "",
        gate_id=row.gate_id,
        connection_id=row.connection_id,
        external_ref=row.external_ref,
        responses=tuple(
            FeedbackResponse(r.id, r.feedback_id, r.author, r.body, r.created_at, r.shared_with_reporter)
            for r in row.responses
        ),
    )
