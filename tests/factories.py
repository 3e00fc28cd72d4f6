"""Model objects with sensible defaults, for tests.

Every ``make_*`` takes keyword overrides for any field of the dataclass it builds, so a
test names only what it cares about::

    gate = make_gate(door_no="2")
    connection = make_connection(plugin="acme", settings={"app_key": "k"})
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Entry,
    EntryContext,
    Gate,
    GrantRequest,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    OrderStatus,
    PassKind,
    PushRequest,
    RiderClaim,
    RiderIdentity,
    Visit,
)

#: A fixed "now" (12:00 in Shanghai) so tests do not depend on the wall clock.
NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


def make_connection(**overrides: Any) -> Connection:
    plugin = overrides.pop("plugin", "acme")
    values = {"id": f"{plugin}-1", "plugin": plugin, "name": f"{plugin} account"}
    return Connection(**{**values, **overrides})


def make_community(**overrides: Any) -> Community:
    values = {"id": "c1", "name": "Garden Court", "address": "1 Garden Road"}
    return Community(**{**values, **overrides})


def make_gate(**overrides: Any) -> Gate:
    values = {"id": "g1", "community_id": "c1", "name": "North gate", "code": "N1"}
    return Gate(**{**values, **overrides})


def make_credential(**overrides: Any) -> Credential:
    values = {"kind": CredentialKind.TOKEN, "value": "token-123"}
    return Credential(**{**values, **overrides})


def make_rider(**overrides: Any) -> RiderIdentity:
    values = {"platform_ref": "rider-1", "masked_name": "王*", "masked_phone": "138****5678"}
    return RiderIdentity(**{**values, **overrides})


def make_rider_claim(**overrides: Any) -> RiderClaim:
    values = {"credential": make_credential(), "platform_ref": "rider-1"}
    return RiderClaim(**{**values, **overrides})


def make_order(**overrides: Any) -> Order:
    values = {
        "ref": "order-1",
        "status": OrderStatus.DELIVERING,
        "rider_ref": "rider-1",
        "community_ref": "c1",
        "building": "3",
        "updated_at": NOW,
    }
    return Order(**{**values, **overrides})


def make_push_request(**overrides: Any) -> PushRequest:
    values = {
        "method": "POST",
        "url": "https://hub.example.org/api/v1/push/acme-1",
        "headers": {"Content-Type": "application/json"},
        "body": b"{}",
        "received_at": NOW,
    }
    return PushRequest(**{**values, **overrides})


def make_profile(**overrides: Any) -> CommunityProfile:
    values = {"community": make_community(), "gates": (make_gate(),), "rules_en": "Walk"}
    return CommunityProfile(**{**values, **overrides})


def make_notice(**overrides: Any) -> Notice:
    values = {"kind": "gate_open", "text_zh": "2号门已开", "text_en": "Gate 2 is open"}
    return Notice(**{**values, **overrides})


def make_grant_request(**overrides: Any) -> GrantRequest:
    values = {
        "grant_id": "grant-1",
        "rider_ref": "rider-1",
        "valid_from": NOW,
        "valid_until": NOW + timedelta(minutes=30),
    }
    return GrantRequest(**{**values, **overrides})


def make_access_grant(**overrides: Any) -> AccessGrant:
    values = {
        "grant_id": "grant-1",
        "kind": PassKind.QR,
        "value": "QR-1",
        "valid_from": NOW,
        "valid_until": NOW + timedelta(minutes=30),
    }
    return AccessGrant(**{**values, **overrides})


def make_access_event(**overrides: Any) -> AccessEvent:
    values = {"event_id": "ev-1", "occurred_at": NOW, "direction": "in", "door_no": "1"}
    return AccessEvent(**{**values, **overrides})


def make_visit(**overrides: Any) -> Visit:
    values = {
        "entry_id": "entry-1",
        "community_id": "c1",
        "gate_id": "g1",
        "rider_ref": "rider-1",
        "masked_name": "王*",
        "masked_phone": "138****5678",
        "platform": "acme",
        "started_at": NOW,
        "ends_at": NOW + timedelta(minutes=30),
    }
    return Visit(**{**values, **overrides})


def make_locker_bank(**overrides: Any) -> LockerBank:
    values = {"id": "bank-1", "community_id": "c1", "name": "Lobby lockers", "connection_id": "boxes-1"}
    return LockerBank(**{**values, **overrides})


def make_locker_allocation(**overrides: Any) -> LockerAllocation:
    values = {"allocation_id": "alloc-1", "bank_id": "bank-1", "locker_no": "14", "pin": "0000"}
    return LockerAllocation(**{**values, **overrides})


def make_entry_context(**overrides: Any) -> EntryContext:
    values = {
        "community": make_community(),
        "gate": make_gate(),
        "connection": make_connection(),
        "credential_kind": CredentialKind.TOKEN,
        "now": NOW,
        "rider": make_rider(),
        "orders": (make_order(),),
    }
    return EntryContext(**{**values, **overrides})


def make_entry(**overrides: Any) -> Entry:
    values = {
        "id": "entry-1",
        "community_id": "c1",
        "gate_id": "g1",
        "connection_id": "acme-1",
        "decision": Decision.GRANTED,
        "reasons": (),
        "created_at": NOW,
        "decision_ms": 12.0,
        "rider_ref": "rider-1",
        "order_refs": ("order-1",),
    }
    return Entry(**{**values, **overrides})
