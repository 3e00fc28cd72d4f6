"""Model values and small helpers for the storage tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hub.core.db import Base
from hub.core.model import (
    AccessGrant,
    Building,
    Community,
    CommunityPolicy,
    Connection,
    Decision,
    Entry,
    Gate,
    HookCall,
    Order,
    OrderStatus,
    PassKind,
    Reason,
    RiderIdentity,
)
from hub.core.store import Store

#: ManualClock's default start (12:00 in Shanghai).
NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
APP_SECRET = "s3cr3t-app-secret-value"


def make_community(**overrides: Any) -> Community:
    values: dict[str, Any] = {
        "id": "c1",
        "name": "Garden Court 花园小区",
        "address": "1 Garden Road",
        "policy": CommunityPolicy(max_pass_minutes=20),
        "buildings": (Building("b1", "Building 1", "1", 31.2, 121.4), Building("b2", "Building 2", "2")),
    }
    return Community(**{**values, **overrides})


def make_platform(**overrides: Any) -> Connection:
    values: dict[str, Any] = {
        "id": "plat",
        "plugin": "acme",
        "name": "Acme platform",
        "settings": {"base_url": "https://acme.example", "app_secret": APP_SECRET},
    }
    return Connection(**{**values, **overrides})


def make_rider(**overrides: Any) -> RiderIdentity:
    values: dict[str, Any] = {"platform_ref": "R1", "masked_name": "王*", "masked_phone": "138****5678"}
    return RiderIdentity(**{**values, **overrides})


def make_order(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "ref": "O1",
        "status": OrderStatus.DELIVERING,
        "rider_ref": "R1",
        "community_ref": "PC-1",
        "building": "1",
        "address": "1 Garden Road, Building 1",
        "eta": NOW + timedelta(minutes=10),
        "updated_at": NOW - timedelta(minutes=1),
    }
    return Order(**{**values, **overrides})


def make_entry(**overrides: Any) -> Entry:
    entry_id = overrides.pop("id", str(uuid.uuid4()))
    created_at = overrides.get("created_at", NOW)
    values: dict[str, Any] = {
        "id": entry_id,
        "community_id": "c1",
        "gate_id": "g1",
        "connection_id": "plat",
        "decision": Decision.GRANTED,
        "reasons": (Reason("order_active", "订单配送中", "Order is being delivered"),),
        "created_at": created_at,
        "decision_ms": 12.5,
        "rider_ref": "R1",
        "order_refs": ("O1",),
        "access_pass": AccessGrant(
            entry_id, PassKind.QR, "PASS-" + entry_id[:8], created_at, created_at + timedelta(minutes=20), "dev-7"
        ),
        "hook_calls": (
            HookCall("hub_verify_rider", "acme", "plat", created_at, 41.0, "ok"),
            HookCall("hub_grant_access", "gatekit", "gatectl", created_at + timedelta(milliseconds=50), 30.5, "ok"),
        ),
    }
    return Entry(**{**values, **overrides})


def seed(store: Store) -> None:
    """Community ``c1``; connections ``plat`` (secret ``app_secret``) and ``gatectl``;
    gates ``g1`` (code ``north``, with a device) and ``g2`` (code ``east``, a guard)."""
    store.add_community(make_community())
    store.add_connection(make_platform(), secret_names={"app_secret"}, community_ids=["c1"])
    store.add_connection(Connection("gatectl", "gatekit", "North controller"), secret_names=(), community_ids=["c1"])
    store.add_gate(Gate("g1", "c1", "North gate 北门", "north", "1", "gatectl"))
    store.add_gate(Gate("g2", "c1", "East gate 东门", "east", "2", None))


def save(store: Store, entry: Entry, **overrides: Any) -> Entry:
    """``store.save_entry`` with the rider and order the default entry names."""
    values: dict[str, Any] = {
        "rider": make_rider(platform_ref=entry.rider_ref) if entry.rider_ref else None,
        "orders": [make_order()],
        "idempotency_key": None,
        "fingerprint": None,
        "actions": (),
        "outbox": (),
        "actor": "api",
    }
    return store.save_entry(entry, **{**values, **overrides})


def row_counts(store: Store) -> dict[str, int]:
    with store.transaction() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }
