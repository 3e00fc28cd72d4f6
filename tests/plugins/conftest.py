"""A hub with the built-in plugins and scriptable fake adapters, on a manual clock."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.hookspecs import hookimpl
from hub.core.model import AccessGrant, Health, PluginInfo, Receipt, VisitorRecord
from hub.core.plugins import Hub
from hub.plugins import Resilience, VerificationCache, builtin_plugins, find_builtin
from tests.factories import NOW, make_connection, make_locker_allocation, make_rider

FAILURE_THRESHOLD = 3
RESET_AFTER_S = 30


@dataclass
class Step:
    """What a fake does when a hook is called: say it ``arrived`` and wait for the test's
    ``release`` (to be caught in flight), take some clock time, then raise or answer."""

    returns: Any = None
    raises: BaseException | None = None
    takes_s: float = 0.0
    arrived: threading.Event | None = None
    release: threading.Event | None = None


class FakeAdapter:
    """An adapter implementing every capability hook: it counts its calls and does what
    the test scripted (``script``), or gives a plausible default answer."""

    def __init__(self, name: str, kinds: set[str], clock: ManualClock) -> None:
        self.name, self.kinds, self.clock = name, kinds, clock
        self.calls: Counter[str] = Counter()
        self._steps: dict[str, Step] = {}

    def script(self, hook: str, **step: Any) -> None:
        """From now on, answer ``hook`` as ``Step(**step)`` says; no arguments restores the
        default answer."""
        self._steps[hook] = Step(**step)

    def _answer(self, hook: str, default: Any) -> Any:
        self.calls[hook] += 1
        step = self._steps.get(hook, Step())
        if step.arrived is not None:
            step.arrived.set()
        if step.release is not None:
            step.release.wait(timeout=5)
        self.clock.advance(step.takes_s)
        if step.raises is not None:
            raise step.raises
        return default if step.returns is None else step.returns

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, kinds=self.kinds, version="1.0")

    @hookimpl
    def hub_check_connection(self, connection):
        return self._answer("hub_check_connection", Health(ok=True))

    @hookimpl
    def hub_verify_rider(self, connection, credential, gate):
        return self._answer("hub_verify_rider", make_rider(cache_seconds=60))

    @hookimpl
    def hub_active_orders(self, connection, rider, community):
        return self._answer("hub_active_orders", [])

    @hookimpl
    def hub_get_order(self, connection, order_ref):
        return self._answer("hub_get_order", None)

    @hookimpl
    def hub_parse_push(self, connection, request):
        return self._answer("hub_parse_push", [])

    @hookimpl
    def hub_publish_community(self, connection, profile):
        return self._answer("hub_publish_community", Receipt(accepted=True, ref="pub-7"))

    @hookimpl
    def hub_notify_rider(self, connection, rider_ref, notice):
        return self._answer("hub_notify_rider", Receipt(accepted=True))

    @hookimpl
    def hub_grant_access(self, connection, gate, grant):
        access = AccessGrant(grant.grant_id, "qr", "PASS-VALUE-SECRET", grant.valid_from, grant.valid_until)
        return self._answer("hub_grant_access", access)

    @hookimpl
    def hub_revoke_access(self, connection, gate, grant):
        return self._answer("hub_revoke_access", True)

    @hookimpl
    def hub_open_door(self, connection, gate, reason):
        return self._answer("hub_open_door", True)

    @hookimpl
    def hub_access_events(self, connection, gate, since):
        return self._answer("hub_access_events", [])

    @hookimpl
    def hub_register_visitor(self, connection, visit):
        return self._answer("hub_register_visitor", VisitorRecord(ref="visit-9"))

    @hookimpl
    def hub_allocate_locker(self, connection, bank, order):
        return self._answer("hub_allocate_locker", make_locker_allocation(pin="4321"))

    @hookimpl
    def hub_release_locker(self, connection, allocation):
        return self._answer("hub_release_locker", True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def make_adapter(clock):
    """Makes more fake adapters: ``make_adapter(name, kinds)``."""
    return lambda name, kinds: FakeAdapter(name, kinds, clock)


@pytest.fixture
def builtins(clock):
    return builtin_plugins(clock, failure_threshold=FAILURE_THRESHOLD, reset_after_s=RESET_AFTER_S)


@pytest.fixture
def platform(clock) -> FakeAdapter:
    return FakeAdapter("fakeplat", {"platform"}, clock)


@pytest.fixture
def device(clock) -> FakeAdapter:
    return FakeAdapter("fakedevice", {"access", "locker", "visitor"}, clock)


@pytest.fixture
def cache(builtins) -> VerificationCache:
    return find_builtin(builtins, VerificationCache)


@pytest.fixture
def resilience(builtins) -> Resilience:
    return find_builtin(builtins, Resilience)


@pytest.fixture
def hub(builtins, platform, device) -> Hub:
    hub = Hub()
    for plugin in [*builtins, platform, device]:
        hub.register(plugin)
    return hub


@pytest.fixture
def plat_conn():
    return make_connection(id="plat-1", plugin="fakeplat", name="Fake Platform Shanghai", timeout_s=2.0)


@pytest.fixture
def device_conn():
    return make_connection(id="door-1", plugin="fakedevice", name="North gate controller", timeout_s=2.0)
