"""The demo: a seeded community whose platforms are the installed adapters' simulators.

Every adapter offers a simulator of its external system (entry-point group
``last100.simulators``). ``last100 demo`` serves each on a loopback port, adds a
connection to it for the seeded community, and serves the hub next to them, so an entry
goes through the real adapter, wire protocol, engine, wrappers, policy and storage.
Until property-side simulators are installed, the gates use ``ExampleGate``, a small
in-process access controller.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from hub.core import apikeys
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Building,
    Community,
    CommunityPolicy,
    Connection,
    Gate,
    GrantRequest,
    Health,
    PassKind,
    PluginInfo,
    PluginKind,
    Zone,
)
from hub.core.plugins import Hub, secret_fields
from hub.core.store import Store
from hub.core.users import hash_password

log = logging.getLogger(__name__)

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


#: The demo community's marked areas, as a property manager would draw them (lat, lon).
DEMO_ZONES = (
    Zone(
        "parking-north", "parking", "骑手停车区 Rider parking", ((31.1901, 121.4372), (31.1902, 121.4375)), "北门内侧"
    ),
    Zone("lockers-north", "locker", "智能取餐柜 Food lockers", ((31.1900, 121.4371),), "北门岗亭旁"),
    Zone("rest-station", "rest_station", "骑手驿站 Rest station", ((31.1899, 121.4370),), "热水、充电、避雨"),
    Zone(
        "no-go-garden",
        "no_go",
        "中心花园禁止骑行 No riding in the garden",
        ((31.1895, 121.4380), (31.1897, 121.4384), (31.1893, 121.4386)),
    ),
    Zone("route-main", "route", "主干道骑行路线 Riding route", ((31.1901, 121.4373), (31.1890, 121.4390))),
)

DEMO_ADMIN = "admin"


def seed_admin(store: Store) -> str | None:
    """Create the demo's operator login once; returns its password (to print once), or
    ``None`` when it already exists."""
    if any(user["username"] == DEMO_ADMIN for user in store.list_users()):
        return None
    password = secrets.token_urlsafe(12)
    store.add_user(DEMO_ADMIN, hash_password(password), "operator", actor="demo")
    return password


DEMO_KEY_PREFIX = "demo-"


def issue_demo_key(store: Store, now: datetime) -> str:
    """A fresh API key for this demo run (the key is shown once, so every run makes
    one), after revoking the keys of earlier runs."""
    for key in store.list_api_keys():
        if key.name.startswith(DEMO_KEY_PREFIX) and not key.revoked:
            store.revoke_api_key(str(key.id), actor="demo")
    _, key = apikeys.create(store, f"{DEMO_KEY_PREFIX}{now:%Y%m%d-%H%M%S}", [apikeys.ALL], [COMMUNITY_ID], actor="demo")
    return key


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


GATE_CONNECTION = "demo-gate"


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


def demo_plugins() -> list[object]:
    """The in-process example plugins; the demo instance's configuration loads them with
    ``plugins = ["hub.demo:demo_plugins"]``."""
    return [ExampleGate()]


@dataclass
class RunningSimulator:
    """A simulator served on loopback for the demo."""

    spec: Simulator
    connection_id: str
    base_url: str
    server: BaseWSGIServer

    def stop(self) -> None:
        self.server.shutdown()


def installed_simulators() -> list[Simulator]:
    """The simulators installed adapters offer, by entry-point name; one that fails to
    load is logged and skipped, like a plugin."""
    found = []
    for ep in sorted(metadata.entry_points(group=SIMULATOR_GROUP), key=lambda e: e.name):
        try:
            found.append(ep.load()())
        except Exception as exc:  # one broken adapter must not stop the demo
            log.error("simulator %s failed to load and was skipped: %s", ep.name, exc)
    return found


def start_simulators(specs: Sequence[Simulator], hub_url: str, first_port: int) -> list[RunningSimulator]:
    """Serve each simulator on consecutive loopback ports from ``first_port``, sending its
    pushes to the hub at ``hub_url``."""
    running = []
    for port, spec in enumerate(specs, start=first_port):
        connection_id = f"demo-{spec.plugin}"
        server = make_server("127.0.0.1", port, spec.app(f"{hub_url}/api/v1/push/{connection_id}"), threaded=True)
        threading.Thread(target=server.serve_forever, name=f"simulator-{spec.plugin}", daemon=True).start()
        running.append(RunningSimulator(spec, connection_id, f"http://127.0.0.1:{port}", server))
    return running


def seed(store: Store, hub: Hub, simulators: Sequence[RunningSimulator]) -> bool:
    """Create the demo community and its gates once (``False`` when they already exist),
    and point one connection per simulator at where it runs now.

    The north gate's device is the first access-control simulator (else the in-process
    ``ExampleGate``); the east gate has no device, so its guard checks passes by eye.
    Locker banks and visitor systems serve the community through their connections.
    """
    created = not any(c.id == COMMUNITY_ID for c in store.list_communities())
    if created:
        store.add_community(
            Community(
                id=COMMUNITY_ID,
                name="阳光花园 Sunny Garden",
                address="上海市徐汇区示例路 100 号",
                policy=CommunityPolicy(max_pass_minutes=20, exit_grace_minutes=5, visitor_record=True),
                buildings=tuple(Building(str(n), f"{n} 号楼", door_no=str(n)) for n in range(1, 7)),
            )
        )
        store.add_connection(Connection(GATE_CONNECTION, "example-gate", "Example gate controller"), (), [COMMUNITY_ID])
    existing = {c.id for c in store.list_connections()}
    for sim in simulators:
        settings = hub.validate_settings(sim.spec.plugin, sim.spec.settings(sim.base_url))
        connection = Connection(sim.connection_id, sim.spec.plugin, sim.spec.name, settings, timeout_s=3.0)
        secrets = secret_fields(hub.plugin(sim.spec.plugin).info)
        if sim.connection_id in existing:
            store.update_connection(connection, secrets)
        else:
            store.add_connection(connection, secrets, [COMMUNITY_ID])
    if created:
        for zone in DEMO_ZONES:
            store.add_zone(COMMUNITY_ID, zone)
        devices = [s.connection_id for s in simulators if PluginKind.ACCESS in hub.plugin(s.spec.plugin).info.kinds]
        north_device = devices[0] if devices else GATE_CONNECTION
        store.add_gate(Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north", "1", north_device))
        store.add_gate(Gate("east", COMMUNITY_ID, "East gate 东门", "sunny-east", "2", None))
    return created
