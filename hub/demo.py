"""The demo: a seeded community served with two small in-process example plugins.

``ExamplePlatform`` stands in for a delivery platform (riders with tokens, orders into
the demo community) and ``ExampleGate`` for an access controller that issues QR passes.
They implement the real hooks, so every entry goes through the same engine, wrappers,
policy and storage as production; they hold their state in memory.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import marshmallow
from marshmallow import fields

from hub.core.clock import Clock
from hub.core.errors import CredentialRejected
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Building,
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    Gate,
    GrantRequest,
    Health,
    Order,
    OrderStatus,
    PassKind,
    PluginInfo,
    RiderClaim,
    RiderIdentity,
)
from hub.core.store import Store

VERSION = "0.1.0"

#: The demo community's id, which platform simulators also use as its id at the platform.
COMMUNITY_ID = "sunny-garden"

#: Entry-point group through which adapters offer their simulators to the demo.
SIMULATOR_GROUP = "last100.simulators"


@dataclass(frozen=True)
class DemoRider:
    """A rider every platform simulator knows in the demo."""

    token: str  # what the rider app hands over (a platform token)
    platform_ref: str
    masked_name: str
    masked_phone: str
    suspended: bool = False
    order_ref: str | None = None  # an order being delivered into the demo community now


DEMO_RIDERS = (
    DemoRider("demo-rider-1", "R1001", "王*", "138****5678", order_ref="DEMO-ORDER-1"),
    DemoRider("demo-rider-2", "R1002", "李*", "139****4321"),
    DemoRider("demo-rider-3", "R1003", "张*", "137****0000", suspended=True),
)


@dataclass(frozen=True)
class Simulator:
    """What an adapter's simulator offers the demo.

    An adapter registers a zero-argument factory returning this object in the
    ``last100.simulators`` entry-point group. The demo serves ``app(push_url)`` on a free
    loopback port, then adds a connection for ``plugin`` with ``settings(base_url)``.
    ``push_url`` is where the simulator sends its pushes (the hub's push endpoint for
    that connection). Platform simulators seed :data:`DEMO_RIDERS`, with their orders
    delivered into :data:`COMMUNITY_ID`.
    """

    plugin: str
    name: str
    app: Callable[[str], Any]
    settings: Callable[[str], dict[str, Any]]


PLATFORM_CONNECTION = "demo-platform"
GATE_CONNECTION = "demo-gate"


class ExamplePlatformSettings(marshmallow.Schema):
    base_url = fields.String(load_default="memory://", metadata={"description": "where the platform lives"})
    app_secret = fields.String(load_default="demo", metadata={"secret": True})


class ExamplePlatform:
    """An in-memory delivery platform with three riders.

    Tokens: ``demo-rider-1`` (an order being delivered to building 3),
    ``demo-rider-2`` (no active order), ``demo-rider-3`` (suspended).
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.riders = {
            "demo-rider-1": RiderIdentity("R1001", "王*", "138****5678", cache_seconds=300),
            "demo-rider-2": RiderIdentity("R1002", "李*", "139****4321", cache_seconds=300),
            "demo-rider-3": RiderIdentity("R1003", "张*", "137****0000", status="suspended"),
        }

    def _orders(self, rider_ref: str) -> list[Order]:
        if rider_ref != "R1001":
            return []
        eta = self.clock.now() + timedelta(minutes=8)
        return [Order("DEMO-ORDER-1", OrderStatus.DELIVERING, "R1001", COMMUNITY_ID, "3", eta=eta)]

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="example-platform",
            kinds={"platform"},
            version=VERSION,
            capabilities={"verify_rider", "active_orders"},
            description="In-memory example delivery platform for the demo",
            settings_schema=ExamplePlatformSettings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        return Health(ok=True, message="example platform is in memory")

    @hookimpl
    def hub_verify_rider(self, credential: Credential) -> RiderIdentity:
        rider = self.riders.get(credential.value)
        if rider is None:
            raise CredentialRejected("unknown token", "平台不认识此骑手", "The platform does not know this rider")
        return rider

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community) -> list[Order]:
        ref = rider.platform_ref
        if ref is None:
            known = self.riders.get(rider.credential.value)
            ref = known.platform_ref if known else ""
        return [o for o in self._orders(ref) if o.community_ref == community.platform_ref(connection)]

    @hookimpl
    def hub_get_order(self, order_ref: str) -> Order | None:
        return next((o for o in self._orders("R1001") if o.ref == order_ref), None)


class ExampleGate:
    """An in-memory access controller issuing QR passes, idempotent on the grant id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.grants: dict[str, AccessGrant] = {}
        self.events: list[AccessEvent] = []

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="example-gate",
            kinds={"access"},
            version=VERSION,
            capabilities={"qr_pass", "remote_open"},
            description="In-memory example access controller for the demo",
        )

    @hookimpl
    def hub_check_connection(self) -> Health:
        return Health(ok=True, message="example gate is in memory")

    @hookimpl
    def hub_grant_access(self, gate: Gate, grant: GrantRequest) -> AccessGrant:
        with self._lock:
            issued = self.grants.get(grant.grant_id)
            if issued is None:
                issued = AccessGrant(
                    grant.grant_id, PassKind.QR, secrets.token_hex(8), grant.valid_from, grant.valid_until, gate.door_no
                )
                self.grants[grant.grant_id] = issued
            return issued

    @hookimpl
    def hub_revoke_access(self, grant: AccessGrant) -> bool:
        with self._lock:
            self.grants.pop(grant.grant_id, None)
        return True

    @hookimpl
    def hub_open_door(self, gate: Gate) -> bool:
        return True


def demo_plugins(clock: Clock | None = None) -> list[object]:
    """The example plugins; the demo instance's configuration loads them with
    ``plugins = ["hub.demo:demo_plugins"]``."""
    return [ExamplePlatform(clock or Clock()), ExampleGate()]


def seed(store: Store) -> bool:
    """Create the demo community, its connections and gates once; ``False`` when they
    already exist."""
    if any(c.id == COMMUNITY_ID for c in store.list_communities()):
        return False
    store.add_community(
        Community(
            id=COMMUNITY_ID,
            name="阳光花园 Sunny Garden",
            address="上海市徐汇区示例路 100 号",
            policy=CommunityPolicy(max_pass_minutes=20, exit_grace_minutes=5),
            buildings=tuple(Building(str(n), f"{n} 号楼", door_no=str(n)) for n in range(1, 7)),
        )
    )
    store.add_connection(
        Connection(
            PLATFORM_CONNECTION,
            "example-platform",
            "Example platform",
            settings={"base_url": "memory://", "app_secret": "demo-secret"},
        ),
        secret_names={"app_secret"},
        community_ids=[COMMUNITY_ID],
    )
    store.add_connection(
        Connection(GATE_CONNECTION, "example-gate", "North gate controller"),
        secret_names=(),
        community_ids=[COMMUNITY_ID],
    )
    store.add_gate(Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north", "1", GATE_CONNECTION))
    store.add_gate(Gate("east", COMMUNITY_ID, "East gate 东门", "sunny-east", "2", None))
    return True
