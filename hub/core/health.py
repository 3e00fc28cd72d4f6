"""Connection health: the ``connections.health`` job checks every connection and keeps
the latest result.

Every enabled connection whose plugin implements ``hub_check_connection`` is checked,
a few at a time (:data:`CONCURRENT_CHECKS`). A check is bounded by its connection's
``timeout_s``: one that has not answered by then is recorded as failing and left
behind (a call cannot be interrupted; its thread ends on its own), and one that answered
healthy but later than the limit counts as failing too, like any call the Resilience
plugin times. A check that raises is a failing health whose message is the error in
the hub's words (:func:`~hub.core.errors.describe_error`, never a raw message that may
quote a secret).

Each result is stored (``connection_health``: ok, message, latency, the circuit state the
checking process saw, when) with :meth:`Store.record_connection_health`, which audits
only changes — ``connection.unhealthy`` when a connection that was healthy (or never
checked) fails, ``connection.recovered`` when a failing one answers again — so a dead
system does not add an audit record every minute.

The circuit comes from ``circuit_of`` (the caller hands in the Resilience plugin's view
in this process; the core does not import the built-in plugins). A healthy check closes
the connection's circuits in the checking process: the Resilience plugin does that in
its ``hub_check_connection`` wrapper, so the state recorded is read after the check.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from hub.core.clock import Clock
from hub.core.errors import NotFound, describe_error
from hub.core.model import Connection, Health

if TYPE_CHECKING:  # the store imports this module's ConnectionHealth
    from hub.core.plugins import Hub
    from hub.core.store import Store

log = logging.getLogger(__name__)

#: The actor of the audit records this job writes.
HEALTH_ACTOR = "job:connections.health"
#: How many connections are checked at the same time.
CONCURRENT_CHECKS = 4
#: The longest message kept from a check.
MAX_MESSAGE = 300

HOOK = "hub_check_connection"


@dataclass(frozen=True)
class ConnectionHealth:
    """A connection's latest stored health check. ``circuit`` is the connection's worst
    circuit (``closed``, ``half_open``, ``open``) as the process that checked it saw it
    just after the check; ``latency_ms`` is ``None`` when the check did not answer."""

    connection_id: str
    ok: bool
    message: str
    latency_ms: float | None
    circuit: str
    checked_at: datetime


@dataclass(frozen=True)
class HealthReport:
    """What one run did: connections checked, how many failed, and the audited
    changes (connection id: ``connection.unhealthy`` or ``connection.recovered``)."""

    checked: int = 0
    failing: int = 0
    changes: tuple[tuple[str, str], ...] = ()


def checkable(hub: Hub, connections: Iterable[Connection]) -> list[Connection]:
    """The enabled connections whose plugin is loaded and implements the health check."""
    return [c for c in connections if c.enabled and hub.is_loaded(c.plugin) and hub.implements(c.plugin, HOOK)]


def check_connections(
    hub: Hub,
    store: Store,
    clock: Clock,
    *,
    circuit_of: Callable[[str], str] = lambda connection_id: "closed",
    concurrency: int = CONCURRENT_CHECKS,
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
) -> HealthReport:
    """Check every checkable connection (only this one, when given), record each
    result, audit the changes."""
    if connection_id is None:
        connections = checkable(hub, store.list_connections())
    else:
        try:
            connections = checkable(hub, [store.get_connection(connection_id)])
        except NotFound:  # removed since the run was enqueued
            connections = []
    failing = 0
    changes: list[tuple[str, str]] = []
    for done, (connection, health) in enumerate(_checked(hub, clock, connections, concurrency), start=1):
        circuit = circuit_of(connection.id)
        try:
            change = store.record_connection_health(connection.id, health, circuit, actor=HEALTH_ACTOR)
        except NotFound:  # removed while it was being checked
            continue
        failing += not health.ok
        if change is not None:
            changes.append((connection.id, change))
            log.log(
                logging.WARNING if not health.ok else logging.INFO,
                "connection %s (%s): %s %s",
                connection.id,
                connection.name,
                change,
                health.message,
            )
        if progress is not None:
            progress(done, len(connections), connection.id)
    return HealthReport(len(connections), failing, tuple(changes))


def check_one(hub: Hub, clock: Clock, connection: Connection) -> Health:
    """Ask a connection's plugin whether it works; never raises. Latency is the
    plugin's own figure when it gave one, else measured on ``clock``."""
    start = clock.monotonic()
    try:
        health = hub.check_connection(connection)
    except Exception as exc:  # a failing check is a result, not an error of the job
        health = Health(ok=False, message=describe_error(exc))
    elapsed = clock.monotonic() - start
    if health is None:
        health = Health(ok=False, message=f"{connection.plugin} gave no answer to the health check")
    latency_ms = health.latency_ms if health.latency_ms is not None else elapsed * 1000
    message = (health.message or "")[:MAX_MESSAGE]
    if health.ok and elapsed > connection.timeout_s:
        late = f"{connection.name} answered after {elapsed:.1f} s, later than its {connection.timeout_s:g} s limit"
        return Health(ok=False, message=late, latency_ms=latency_ms)
    return Health(ok=health.ok, message=message, latency_ms=latency_ms)


def _checked(
    hub: Hub, clock: Clock, connections: list[Connection], concurrency: int
) -> Iterable[tuple[Connection, Health]]:
    """Run the checks, at most ``concurrency`` at a time, and yield each result (in the
    calling thread) as it comes. A check still running ``timeout_s`` (real seconds)
    after it started is given up: it yields a failing health and frees its place."""
    waiting = deque(connections)
    answers: queue.Queue[tuple[str, Health]] = queue.Queue()
    running: dict[str, tuple[Connection, float]] = {}  # id: (connection, deadline)
    while waiting or running:
        while waiting and len(running) < max(1, concurrency):
            connection = waiting.popleft()
            running[connection.id] = (connection, time.monotonic() + connection.timeout_s)
            threading.Thread(
                target=lambda c=connection: answers.put((c.id, check_one(hub, clock, c))),
                name=f"health-{connection.id}",
                daemon=True,
            ).start()
        wait = max(0.0, min(deadline for _c, deadline in running.values()) - time.monotonic())
        try:
            connection_id, health = answers.get(timeout=wait)
        except queue.Empty:
            now = time.monotonic()
            for connection_id, (connection, deadline) in list(running.items()):
                if deadline <= now:
                    del running[connection_id]
                    yield connection, _no_answer(connection)
            continue
        found = running.pop(connection_id, None)
        if found is not None:  # else: an answer that came after it was given up
            yield found[0], health


def _no_answer(connection: Connection) -> Health:
    log.warning("health check of %s (%s) did not answer in time", connection.id, connection.name)
    return Health(ok=False, message=f"{connection.name} did not answer in {connection.timeout_s:g} s")
