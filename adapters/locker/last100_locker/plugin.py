"""The locker plugin: the hub's locker hooks, answered by a locker bank controller that
speaks the Locker Bank Protocol, and a job that reports overdue pickups.

This module only maps: the client does the work and raises the errors of
:mod:`last100_locker.errors`; here they become the hub's model and errors:

=================================================  ==========================================
Locker Bank Protocol                               hub
=================================================  ==========================================
allocation (drop-off code, drop-off deadline)      ``LockerAllocation(pin=<drop-off code>,
                                                   valid_until=<drop-off deadline>)``
``no_free_compartment``                            ``UpstreamError`` ("no free compartment …")
no answer in time                                  ``UpstreamTimeout``
unreachable, 5xx, 429, 401, 404, malformed reply   ``UpstreamError``
release of an allocation the bank does not know    ``True`` (nothing to release)
=================================================  ==========================================

The hub's ``LockerBank.id`` is the hub's own id for the bank (by default the connection
id); the bank's id at the controller is the ``bank_id`` setting.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from hub.core.clients import ClientCache, load_settings
from hub.core.clock import Clock
from hub.core.errors import SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.jobs import JobContext
from hub.core.model import (
    Connection,
    Health,
    JobSpec,
    LockerAllocation,
    LockerBank,
    Order,
    PluginInfo,
)
from last100_locker import PROTOCOL, __version__
from last100_locker.client import LockerClient
from last100_locker.errors import (
    AuthenticationError,
    LockerError,
    LockerTimeout,
    NoFreeCompartment,
    NotFoundError,
    TransportError,
)
from last100_locker.settings import LockerSettings
from last100_locker.wire import Allocation, OverduePickups, format_time

log = logging.getLogger(__name__)

PLUGIN_NAME = "locker"

#: The job reporting overdue pickups, and the actor of the audit records it writes.
OVERDUE_JOB_ID = "locker.overdue_pickups"
OVERDUE_ACTOR = f"job:{OVERDUE_JOB_ID}"
OVERDUE_ACTION = "locker.overdue"

#: Concurrent requests to one controller before connections are opened and dropped.
POOL_SIZE = 8

#: Longest wait for a TCP/TLS connection (capped by the connection's timeout).
CONNECT_TIMEOUT_S = 1.0


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class _Link:
    """Everything the plugin keeps for one connection, built from its settings."""

    values: dict[str, Any]
    client: LockerClient

    @property
    def bank_id(self) -> str:
        return self.values["bank_id"]


def _signature_refused(exc: AuthenticationError, key_id: str) -> str:
    """Which setting a refused signature points to, in words for whoever configures it."""
    if exc.code == "key_unknown":
        return f"the locker does not know key_id {key_id!r}"
    if exc.code == "timestamp_out_of_range":
        return "the locker refused the request time: this machine's clock is more than 5 minutes off"
    return f"the locker refused the hub's signature ({exc.code}): check secret and key_id"


@contextlib.contextmanager
def _upstream(connection: Connection, link: _Link) -> Iterator[None]:
    """Put the client's errors in the hub's terms."""
    try:
        yield
    except LockerTimeout as exc:
        raise UpstreamTimeout(f"{connection.name} did not answer within {connection.timeout_s:g} s") from exc
    except AuthenticationError as exc:
        raise UpstreamError(f"{connection.name}: {_signature_refused(exc, link.values['key_id'])}") from exc
    except NotFoundError as exc:
        if exc.code != "bank_not_found":
            raise UpstreamError(f"{connection.name} failed: {exc}") from exc
        raise UpstreamError(f"{connection.name} has no bank {link.bank_id!r}: check bank_id") from exc
    except LockerError as exc:
        raise UpstreamError(f"{connection.name} failed: {exc}") from exc


class LockerPlugin:
    """Connects the hub to food-locker banks speaking the Locker Bank Protocol.

    The hub creates it with no arguments (a class entry point). One HTTP session per
    connection is created on first use and rebuilt when the connection's settings or
    timeout change; the plugin is safe to call from many threads at once.

    :param clock: the time for request signatures (tests pass a manual clock).
    :param session_factory: makes each connection's ``requests.Session``.
    """

    def __init__(
        self, clock: Clock | None = None, session_factory: Callable[[], requests.Session] = _new_session
    ) -> None:
        self._clock = clock or Clock()
        self._session_factory = session_factory
        self._links: ClientCache[_Link] = ClientCache(self._open)
        # Overdue pickups audited whose mark at the bank failed: the next run retries
        # the mark without auditing them a second time.
        self._audited_unmarked: set[tuple[str, str]] = set()

    # -- per-connection state ---------------------------------------------------------

    def _open(self, connection: Connection) -> _Link:
        values = load_settings(LockerSettings, connection)
        timeout_s = connection.timeout_s
        client = LockerClient(
            values["base_url"],
            values["key_id"],
            values["secret"].encode("utf-8"),
            session=self._session_factory(),
            timeout=(min(CONNECT_TIMEOUT_S, timeout_s), timeout_s),
            deadline_s=timeout_s,
            now=lambda: self._clock.now().timestamp(),
        )
        return _Link(values=values, client=client)

    # -- metadata ---------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=PLUGIN_NAME,
            kinds={"locker"},
            version=__version__,
            capabilities={"allocate_locker", "release_locker", "temperature_zones", "overdue_pickups"},
            description=(
                "Smart food-locker banks speaking the Locker Bank Protocol: HMAC-signed REST, "
                "ambient / warm / chilled compartments, drop-off and pickup codes, overdue pickups."
            ),
            settings_schema=LockerSettings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            link = self._links.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        started = time.monotonic()
        try:
            protocol = link.client.ping()
            compartments = link.client.compartments(link.bank_id) if protocol == PROTOCOL else []
        except AuthenticationError as exc:
            return Health(ok=False, message=_signature_refused(exc, link.values["key_id"]))
        except LockerTimeout:
            return Health(ok=False, message=f"base_url did not answer within {connection.timeout_s:g} s")
        except TransportError as exc:
            return Health(ok=False, message=f"base_url cannot be reached ({exc})")
        except NotFoundError as exc:
            if exc.code == "bank_not_found":
                return Health(ok=False, message=f"bank_id {link.bank_id!r} is not a bank of this controller")
            return Health(ok=False, message="base_url does not serve the Locker Bank Protocol (GET /v1/ping: 404)")
        except LockerError as exc:
            return Health(ok=False, message=f"base_url did not answer as a locker bank controller ({exc})")
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        if protocol != PROTOCOL:
            return Health(ok=False, message=f"the controller speaks {protocol}; this plugin speaks {PROTOCOL}")
        free = sum(c.state == "free" for c in compartments)
        out = sum(c.state == "out_of_service" for c in compartments)
        return Health(
            ok=True,
            message=(
                f"{protocol}: signature accepted; bank {link.bank_id}: {len(compartments)} compartments, "
                f"{free} free, {out} out of service"
            ),
            latency_ms=latency_ms,
        )

    @hookimpl
    def hub_jobs(self) -> list[JobSpec]:
        return [
            JobSpec(
                id=OVERDUE_JOB_ID,
                func=self.report_overdue_pickups,
                trigger="interval",
                trigger_args={"minutes": 10},
                description="Records in the audit log, once each, food left in a locker past the bank's pickup limit.",
            )
        ]

    # -- property side ----------------------------------------------------------------

    @hookimpl
    def hub_allocate_locker(self, connection: Connection, bank: LockerBank, order: Order) -> LockerAllocation:
        link = self._links.get(connection)
        # The hub's Order says nothing of the food's temperature or the parcel's size,
        # so the connection's defaults choose both.
        zone, size = link.values["default_zone"], link.values["default_size"]
        with _upstream(connection, link):
            try:
                allocation = link.client.allocate(
                    link.bank_id, order.ref, size=size, zone=zone, dropoff_minutes=link.values["dropoff_minutes"]
                )
            except NoFreeCompartment as exc:
                raise UpstreamError(
                    f"{connection.name}: no free compartment in the {zone} zone of size {size} or larger"
                ) from exc
        return LockerAllocation(
            allocation_id=allocation.id,
            bank_id=bank.id,
            locker_no=allocation.compartment_no,
            pin=allocation.dropoff_code,
            valid_until=allocation.dropoff_deadline,
        )

    @hookimpl
    def hub_release_locker(self, connection: Connection, allocation: LockerAllocation) -> bool:
        link = self._links.get(connection)
        with _upstream(connection, link):
            # None: the bank does not know it (already gone), which is what was asked.
            link.client.release(link.bank_id, allocation.allocation_id)
        return True

    # -- the overdue-pickup job -------------------------------------------------------

    def report_overdue_pickups(self, context: JobContext) -> int:
        """Find food left past each bank's pickup limit and record every such pickup
        once in the audit log (``locker.overdue``), for every locker connection.

        A pickup is reported once: after recording it the bank is told
        (``overdue-report``), and the bank leaves it out of later runs' new ones. A bank
        that cannot be asked does not keep the others from being checked; the run then
        fails naming it.

        :return: how many overdue pickups the banks hold now (reported in this run or
            earlier).
        """
        connections = [c for c in context.store.list_connections() if c.plugin == PLUGIN_NAME and c.enabled]
        found = 0
        failed: list[str] = []
        for done, connection in enumerate(connections, start=1):
            try:
                found += self._report_bank(context, connection)
            except (LockerError, SettingsError) as exc:
                log.warning("overdue pickups of %s (%s) could not be read: %s", connection.id, connection.name, exc)
                failed.append(connection.id)
            context.progress(done, len(connections), connection.id)
        if failed:
            raise UpstreamError(f"overdue pickups could not be read from {', '.join(failed)}")
        return found

    def _report_bank(self, context: JobContext, connection: Connection) -> int:
        link = self._links.get(connection)
        overdue = link.client.overdue(link.bank_id)
        for allocation in overdue.allocations:
            if allocation.overdue_reported_at is not None:
                continue
            key = (connection.id, allocation.id)
            if key not in self._audited_unmarked:
                context.store.audit(
                    OVERDUE_ACTOR, OVERDUE_ACTION, allocation.id, _overdue_record(connection, allocation, overdue)
                )
                self._audited_unmarked.add(key)
            link.client.mark_overdue_reported(link.bank_id, allocation.id)
            self._audited_unmarked.discard(key)
        return len(overdue.allocations)


def _overdue_record(connection: Connection, allocation: Allocation, overdue: OverduePickups) -> dict[str, Any]:
    """What the audit log keeps of an overdue pickup: where and since when, never a code
    and nothing about the resident."""
    return {
        "connection_id": connection.id,
        "bank_id": allocation.bank_id,
        "order_ref": allocation.order_ref,
        "compartment_no": allocation.compartment_no,
        "zone": allocation.zone,
        "dropped_at": format_time(allocation.dropped_at) if allocation.dropped_at else None,
        "pickup_deadline": format_time(allocation.pickup_deadline) if allocation.pickup_deadline else None,
        "pickup_minutes": overdue.pickup_minutes,
    }
