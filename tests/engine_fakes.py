"""In-test plugins for the entry engine — a platform and a gate controller whose answers,
failures and delays each test sets, and which count every upstream call — and a small
world of real storage, built-in plugins and these fakes to run entries in."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hub import hookimpl
from hub.core.clock import ManualClock
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.errors import CredentialRejected, PushRejected, UpstreamError
from hub.core.model import (
    AccessGrant,
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    GrantRequest,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    PassKind,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    Visit,
    VisitorRecord,
)
from hub.core.plugins import Hub
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins


class Calls:
    """Counts calls per hook and keeps (start, end) perf_counter times of each."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def run(self, hook: str, action):
        start = time.perf_counter()
        try:
            return action()
        finally:
            with self._lock:
                self.count[hook] += 1
                self.spans.setdefault(hook, []).append((start, time.perf_counter()))

    @property
    def upstream(self) -> int:
        return sum(self.count.values())


class FakePlatform:
    """Riders by token; orders by rider ref. ``fail`` maps a hook to an exception to
    raise, ``delay`` maps a hook to seconds to sleep (real time)."""

    def __init__(self, name: str = "fakeplatform") -> None:
        self.name = name
        self.calls = Calls()
        self.riders: dict[str, RiderIdentity] = {}
        self.orders: dict[str, list[Order]] = {}
        self.codes: dict[str, RiderIdentity] = {}  # signed entry codes, "verified locally"
        self.fail: dict[str, Exception] = {}
        self.delay: dict[str, float] = {}
        self.before: dict[str, object] = {}  # hook -> callable run first (e.g. a barrier)
        self.notices: list[tuple[str, Notice]] = []
        self.push_parser = None  # a function PushRequest -> list[PushEvent], set by push tests

    def _upstream(self, hook: str, action):
        def call():
            if hook in self.before:
                self.before[hook]()
            if hook in self.delay:
                time.sleep(self.delay[hook])
            if hook in self.fail:
                raise self.fail[hook]
            return action()

        return self.calls.run(hook, call)

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, kinds={"platform"}, version="1.0")

    @hookimpl
    def hub_verify_rider(self, credential: Credential) -> RiderIdentity:
        if credential.kind is CredentialKind.ENTRY_CODE:
            rider = self.codes.get(credential.value)
            if rider is None:
                raise CredentialRejected("bad signature", "通行码无效", "This entry code is not valid")
            return rider

        def verify() -> RiderIdentity:
            rider = self.riders.get(credential.value)
            if rider is None:
                raise CredentialRejected("unknown token", "平台不认识此骑手", "The platform does not know this rider")
            return rider

        return self._upstream("hub_verify_rider", verify)

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        def orders() -> list[Order]:
            ref = rider.platform_ref or getattr(self.riders.get(rider.credential.value), "platform_ref", "")
            return [o for o in self.orders.get(ref, []) if o.community_ref == community.platform_ref(connection)]

        return self._upstream("hub_active_orders", orders)

    @hookimpl
    def hub_get_order(self, order_ref: str) -> Order | None:
        """The order with this ref among every rider's orders; ``None`` when unknown."""

        def find() -> Order | None:
            return next((o for orders in self.orders.values() for o in orders if o.ref == order_ref), None)

        return self._upstream("hub_get_order", find)

    @hookimpl
    def hub_parse_push(self, request: PushRequest) -> list[PushEvent]:
        if self.push_parser is None:
            raise PushRejected("this platform sends no pushes", 400)
        return self.push_parser(request)

    @hookimpl
    def hub_notify_rider(self, rider_ref: str, notice: Notice) -> Receipt:
        self.notices.append((rider_ref, notice))
        return Receipt(accepted=True)


class FakeGate:
    """An access controller issuing QR passes, idempotent on the grant id."""

    def __init__(self, name: str = "fakegate") -> None:
        self.name = name
        self.calls = Calls()
        self.grants: dict[str, AccessGrant] = {}
        self.revoked: list[str] = []
        self.fail: Exception | None = None
        self.revoke_fail: Exception | None = None

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, kinds={"access"}, version="1.0")

    @hookimpl
    def hub_grant_access(self, gate: Gate, grant: GrantRequest) -> AccessGrant:
        def grant_it() -> AccessGrant:
            if self.fail is not None:
                raise self.fail
            return self.grants.setdefault(
                grant.grant_id,
                AccessGrant(
                    grant.grant_id, PassKind.QR, f"QR-{len(self.grants) + 1}", grant.valid_from, grant.valid_until
                ),
            )

        return self.calls.run("hub_grant_access", grant_it)

    @hookimpl
    def hub_revoke_access(self, grant: AccessGrant) -> bool:
        def revoke() -> bool:
            if self.revoke_fail is not None:
                raise self.revoke_fail
            self.revoked.append(grant.grant_id)
            return True

        return self.calls.run("hub_revoke_access", revoke)


class FakeLockers:
    """A locker bank: compartments numbered from 1, none when ``full``."""

    def __init__(self) -> None:
        self.allocations: dict[str, LockerAllocation] = {}
        self.full = False

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="fakelockers", kinds={"locker"}, version="1.0")

    @hookimpl
    def hub_allocate_locker(self, bank: LockerBank, order: Order) -> LockerAllocation:
        if self.full:
            raise UpstreamError("no free compartment")
        number = str(len(self.allocations) + 1)
        allocation = LockerAllocation(f"A-{order.ref}", "vendor-bank-7", number, pin=f"90{number}")
        return self.allocations.setdefault(order.ref, allocation)


class FakeVisitorSystem:
    def __init__(self) -> None:
        self.visits: list[Visit] = []

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="fakevisitors", kinds={"visitor"}, version="1.0")

    @hookimpl
    def hub_register_visitor(self, visit: Visit) -> VisitorRecord:
        self.visits.append(visit)
        return VisitorRecord(ref=f"V-{len(self.visits)}")


def order(
    ref: str, rider_ref: str, community_ref: str, status: str = "delivering", eta: datetime | None = None
) -> Order:
    return Order(ref, status, rider_ref, community_ref, "3", eta=eta)


NOON_SHANGHAI = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@dataclass
class World:
    clock: ManualClock
    store: Store
    hub: Hub
    engine: EntryEngine
    platform: FakePlatform
    gate_ctl: FakeGate
    community: Community


def build_world(tmp_path, policy: CommunityPolicy | None = None, extra_plugins=(), **hub_options) -> World:
    clock = ManualClock(NOON_SHANGHAI)
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    platform, gate_ctl = FakePlatform(), FakeGate()
    for plugin in [*builtin_plugins(clock, **hub_options), platform, gate_ctl, *extra_plugins]:
        hub.register(plugin)
    community = Community("c1", "Sunny Garden", policy=policy or CommunityPolicy(), platform_refs={"plat": "PC-1"})
    store.add_community(community)
    store.add_connection(Connection("plat", "fakeplatform", "Fake platform", timeout_s=0.5), (), ["c1"])
    store.add_connection(Connection("gatectl", "fakegate", "North controller", timeout_s=0.5), (), ["c1"])
    store.add_gate(Gate("g1", "c1", "North gate", "north-code", "1", "gatectl"))
    store.add_gate(Gate("g2", "c1", "East gate", "east-code", "2", None))
    platform.riders["tok-1"] = RiderIdentity("R1", "王*", "138****5678", cache_seconds=300)
    platform.orders["R1"] = [order("O1", "R1", "PC-1", eta=NOON_SHANGHAI + timedelta(minutes=10))]
    engine = EntryEngine(hub, store, clock, max_workers=8)
    return World(clock, store, hub, engine, platform, gate_ctl, community)


def request(token: str = "tok-1", gate: str = "north-code", **kwargs) -> EntryRequest:
    credential = kwargs.pop("credential", Credential(CredentialKind.TOKEN, token))
    return EntryRequest(gate, "plat", credential, **kwargs)
