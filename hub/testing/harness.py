"""Harnesses: what an adapter tells the conformance suites about itself and its simulator.

A harness is a small class, one per adapter, subclassing the harness of its kind
(:class:`PlatformHarness`, :class:`AccessHarness`, :class:`LockerHarness`,
:class:`VisitorHarness`). The suite creates one per test, calls :meth:`Harness.start`
with an :class:`Env` (start the simulator on loopback there), asks it for settings,
credentials, pushes and what the simulator now holds, and calls :meth:`Harness.stop`
after the test.

A method the suite needs and the harness does not implement raises
``NotImplementedError``; the check that needs it then **fails**, naming the method. A check
that cannot apply to the adapter's protocol is declared in :attr:`Harness.not_applicable`
with the reason, and is skipped with it; a check of a capability the plugin does not
declare is skipped with a reason naming its capabilities. Nothing is silently passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hub.core.model import (
    AccessGrant,
    Community,
    Credential,
    CredentialKind,
    Gate,
    LockerBank,
    Order,
    OrderStatus,
    PushRequest,
    Visit,
)
from hub.testing.servers import FAULTS, Misbehaving, closed_port, serve_wsgi

#: The id of the connection every suite check uses (``community.platform_refs`` keys).
CONNECTION_ID = "conformance"

#: The community id the suites use by default (the demo's, which simulators seed).
COMMUNITY_ID = "sunny-garden"


class Env:
    """What a harness gets to start its simulator: loopback servers (stopped after the
    test), the test's temporary folder, the pytest request (for the adapter's own
    fixtures, e.g. a broker that skips when absent) and misbehaving upstreams."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        #: Every misbehaving server made for the test, in order.
        self.servers: list[Misbehaving] = []
        self._cleanups: list[Callable[[], None]] = []

    def serve(self, app: Any) -> str:
        """Serve a WSGI app on a free loopback port until the test ends; its base URL."""
        served = serve_wsgi(app)
        self.defer(served.stop)
        return served.url

    def fixture(self, name: str) -> Any:
        """The value of a pytest fixture (the adapter's conftest ones included)."""
        return self.request.getfixturevalue(name)

    def defer(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the test (last deferred, first run)."""
        self._cleanups.append(callback)

    def misbehaving(self, behaviour: str) -> str:
        """The base URL of a :class:`~hub.testing.servers.Misbehaving` server."""
        server = Misbehaving(behaviour)
        self.servers.append(server)
        self.defer(server.close)
        return server.url

    def fault_url(self, fault: str) -> str:
        """The base URL of an upstream with one of :data:`hub.testing.servers.FAULTS`
        (``refused``: an address where nothing listens)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        return self.closed_url() if fault == "refused" else self.misbehaving(FAULTS[fault])

    def silent_url(self) -> str:
        """A server that accepts connections and never answers."""
        return self.misbehaving("silent")

    def trickle_url(self) -> str:
        """A server that answers at once and sends the body over 30 seconds."""
        return self.misbehaving("trickle")

    def malformed_url(self, variant: str) -> str:
        """A server that answers ``200 OK`` with a body no protocol accepts."""
        return self.misbehaving(f"malformed:{variant}")

    def closed_url(self) -> str:
        """A loopback address where nothing listens."""
        return f"http://127.0.0.1:{closed_port()}"

    def close(self) -> None:
        while self._cleanups:
            callback = self._cleanups.pop()
            try:
                callback()
            except Exception:  # one failed cleanup must not keep the others from running
                continue


class Harness:
    """What every suite asks of an adapter. Subclass the harness of the plugin's kind.

    Required: :attr:`plugin`, :meth:`start`, :meth:`settings`, :meth:`refused_settings`,
    and :meth:`settings_for` for the checks against misbehaving upstreams (an adapter
    that cannot be pointed at another address declares those checks not applicable).
    """

    #: The plugin class (or a zero-argument factory): the suite creates a fresh one per test.
    plugin: ClassVar[Callable[[], object]]

    #: Settings the schema must refuse, each with a value: ``{"base_url": "ftp://x"}``.
    #: Each is checked alone (added to valid settings); required settings left out are
    #: checked without being listed here.
    invalid_settings: ClassVar[Mapping[str, Any]] = {}

    #: Checks that cannot apply to this adapter's protocol, by name (the test's name
    #: without ``test_``), with the reason shown when the check is skipped.
    not_applicable: ClassVar[Mapping[str, str]] = {}

    #: Cases of the fault-injection check (``upstream_fault``) that cannot happen to this
    #: adapter's protocol, with the reason shown when they are skipped: by fault
    #: (``"http_5xx"``: every call), by call (``"access_events"``: every fault) or by
    #: ``"call/fault"`` (``"access_events/silent"``); the most particular key wins
    #: (call/fault, then call, then fault).
    faults_not_applicable: ClassVar[Mapping[str, str]] = {}

    #: The connection's ``timeout_s`` in ordinary checks, and in the timeout checks; a
    #: call must give up within ``slow_timeout_s + timeout_grace_s`` seconds.
    timeout_s: ClassVar[float] = 2.0
    slow_timeout_s: ClassVar[float] = 0.5
    timeout_grace_s: ClassVar[float] = 1.5

    #: The connection's ``timeout_s`` in the fault-injection checks: each call must end
    #: within ``fault_timeout_s + timeout_grace_s`` seconds.
    fault_timeout_s: ClassVar[float] = 0.2

    def make_plugin(self) -> object:
        """A fresh plugin instance, as the hub creates it (no arguments)."""
        return type(self).plugin()

    def start(self, env: Env) -> None:
        """Start the simulator (``env.serve(app)``) with what the checks need in it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop what :meth:`start` started that ``env`` does not stop by itself."""

    def settings(self) -> dict[str, Any]:
        """Raw settings of a connection to the running simulator."""
        raise NotImplementedError

    def refused_settings(self) -> dict[str, Any]:
        """Raw settings that reach the simulator but that it refuses (a wrong secret)."""
        raise NotImplementedError

    def settings_for(self, base_url: str) -> dict[str, Any]:
        """Raw settings of a connection to another server at ``base_url``
        (``http://127.0.0.1:<port>``; an adapter that does not speak HTTP takes the host
        and port from it), for the suite's misbehaving upstreams."""
        raise NotImplementedError

    def unreachable_settings(self, env: Env) -> dict[str, Any]:
        """Raw settings of a connection to an address where nothing listens."""
        return self.settings_for(env.closed_url())

    def silent_settings(self, env: Env) -> dict[str, Any]:
        """Raw settings of a connection to an upstream that never answers anything."""
        return self.settings_for(env.silent_url())

    def slow_settings(self, env: Env) -> dict[str, Any]:
        """Raw settings under which the kind's main call gets no answer (by default the
        silent upstream; an adapter whose connection stays up while the device keeps
        quiet, e.g. over a broker, makes the device quiet instead)."""
        return self.silent_settings(env)

    def trickle_settings(self, env: Env) -> dict[str, Any]:
        """Raw settings under which the main call's reply starts at once and its body
        trickles in for longer than the timeout."""
        return self.settings_for(env.trickle_url())

    def malformed_settings(self, env: Env, variant: str) -> dict[str, Any]:
        """Raw settings under which the main call gets a malformed reply (``variant``
        names one of :data:`hub.testing.servers.MALFORMED_REPLIES`)."""
        return self.settings_for(env.malformed_url(variant))

    def fault_settings(self, env: Env, fault: str, call: str) -> dict[str, Any]:
        """Raw settings under which the upstream call ``call`` (a name of the suite's
        ``upstream_calls``: ``verify_rider``, ``revoke_access``, ...) meets ``fault`` (one
        of :data:`hub.testing.servers.FAULTS`). By default :meth:`unreachable_settings`
        for ``refused``, :meth:`slow_settings` for ``silent``, :meth:`trickle_settings`
        for ``slow_body``, :meth:`malformed_settings` for ``malformed_json`` and
        ``wrong_content_type``, and :meth:`settings_for` the suite's misbehaving server
        for the others; override it for a call whose upstream misbehaves otherwise."""
        if fault == "refused":
            return self.unreachable_settings(env)
        if fault == "silent":
            return self.slow_settings(env)
        if fault == "slow_body":
            return self.trickle_settings(env)
        if fault == "malformed_json":
            return self.malformed_settings(env, "truncated_json")
        if fault == "wrong_content_type":
            return self.malformed_settings(env, "html")
        return self.settings_for(env.fault_url(fault))


# ---------------------------------------------------------------------------
# Per kind
# ---------------------------------------------------------------------------


class PlatformHarness(Harness):
    """A delivery platform's harness.

    :meth:`start` seeds the simulator so that the rider of :meth:`credential`
    (``rider_ref``) has an order ``order_here`` being delivered into :attr:`community`
    and an order ``order_elsewhere`` into :attr:`other_community`, and the rider of
    :meth:`suspended_credential` is suspended.
    """

    community: ClassVar[Community] = Community(COMMUNITY_ID, "阳光花园 Sunny Garden")
    other_community: ClassVar[Community] = Community("maple-court", "枫叶苑 Maple Court")
    gate: ClassVar[Gate] = Gate("north", COMMUNITY_ID, "North gate", "sunny-north", door_no="1")
    rider_ref: ClassVar[str] = "R1001"
    order_here: ClassVar[str] = "DEMO-ORDER-1"
    order_elsewhere: ClassVar[str] = "OTHER-ORDER-1"

    #: How far a push's time may be from its arrival; the stale check exceeds it by a minute.
    push_tolerance: ClassVar[timedelta] = timedelta(minutes=5)

    def credential(self) -> Credential:
        """A credential of the rider ``rider_ref``, which the platform vouches for."""
        return Credential(CredentialKind.TOKEN, "demo-rider-1")

    def unknown_credential(self) -> Credential:
        """A credential the platform does not know."""
        return Credential(CredentialKind.TOKEN, "no-such-rider-conformance")

    def suspended_credential(self) -> Credential:
        """A credential of a rider the platform has suspended."""
        return Credential(CredentialKind.TOKEN, "demo-rider-3")

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        """A push of a state change the connection accepts, as it arrives at the hub.

        ``number`` tells events apart: the same number is the same event (a redelivery),
        another number another event. ``forged``: signed with a key that is not the
        connection's. The push says it was sent at ``sent_at``.
        """
        raise NotImplementedError


class AccessHarness(Harness):
    """An access controller's harness."""

    gate: ClassVar[Gate] = Gate(
        "north", COMMUNITY_ID, "North gate", "sunny-north", door_no="1", access_connection_id=CONNECTION_ID
    )

    #: Events per page of the device's event log under :meth:`settings`; the paging check
    #: makes more than two pages of them. ``None``: the device has no pages.
    events_page_size: ClassVar[int | None] = None

    #: How long door events may take to reach the plugin after :meth:`make_events`
    #: returns (a broker delivers them asynchronously); the paging check waits that long.
    events_delay_s: ClassVar[float] = 0.0

    #: How far a push's time may be from its arrival (for a device that signs its pushes).
    push_tolerance: ClassVar[timedelta] = timedelta(minutes=5)

    def held_credentials(self, grant: AccessGrant) -> list[str]:
        """The credential values the device holds, live, for this grant's id."""
        raise NotImplementedError

    def admits(self, grant: AccessGrant) -> bool:
        """Whether the door of :attr:`gate` opens for the pass now (a swipe at the
        simulated device)."""
        raise NotImplementedError

    def remote_opens(self) -> list[str]:
        """The door numbers the device opened remotely, oldest first."""
        raise NotImplementedError

    def make_events(self, grant: AccessGrant, times: list[datetime]) -> None:
        """The pass goes through the door of :attr:`gate` at each of ``times`` (whole
        seconds, inside the pass's window); the device logs an event for each."""
        raise NotImplementedError

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        """A door-event push the connection accepts; as :meth:`PlatformHarness.push`."""
        raise NotImplementedError


class LockerHarness(Harness):
    """A locker bank's harness."""

    bank: ClassVar[LockerBank] = LockerBank(CONNECTION_ID, COMMUNITY_ID, "North gate lockers", CONNECTION_ID)

    def order(self, ref: str) -> Order:
        """An order that may be given a compartment."""
        return Order(ref, OrderStatus.ARRIVED, rider_ref="R1001", community_ref=COMMUNITY_ID, building="3")

    def held_allocations(self, order_ref: str) -> list[str]:
        """The ids of the live allocations (reserved or occupied) the bank holds for an order."""
        raise NotImplementedError


class VisitorHarness(Harness):
    """A visitor-management system's harness."""

    def visit(self, entry_id: str) -> Visit:
        """A visit the system takes."""
        started = datetime.now(UTC).replace(microsecond=0)
        return Visit(
            entry_id=entry_id,
            community_id=COMMUNITY_ID,
            gate_id="north",
            rider_ref="R1001",
            masked_name="王*",
            masked_phone="138****5678",
            platform="riderpass",
            started_at=started,
            ends_at=started + timedelta(minutes=25),
        )

    def records_for(self, entry_id: str) -> int:
        """How many visitor records the system holds for an entry."""
        raise NotImplementedError
