"""In-test plugins for the entry engine: a platform and a gate controller whose answers,
failures and delays each test sets, and which count every upstream call."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime

from hub import hookimpl
from hub.core.errors import CredentialRejected
from hub.core.model import (
    AccessGrant,
    Community,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    GrantRequest,
    Notice,
    Order,
    PassKind,
    PluginInfo,
    Receipt,
    RiderClaim,
    RiderIdentity,
    Visit,
    VisitorRecord,
)


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
        self.revoked.append(grant.grant_id)
        return True


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
