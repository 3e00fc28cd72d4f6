"""Door events: when riders really went in and came out.

Access controllers log who passed their doors (``hub_access_events``) and some push each
pass as it happens (``PushEvent.access_event``). Both reach the one store path,
:meth:`~hub.core.store.Store.record_door_events`, which matches each event to an entry by
its pass: the event's credential is the pass's value, at the pass's gate, and the event
happened while the pass could be used (for an exit: up to :data:`EXIT_WINDOW` after it
ended). An entry's ``entered_at`` is its earliest ``in`` event and ``exited_at`` its
earliest ``out`` event not before it went in; an exit also ends the pass in the hub's
eyes, as :meth:`~hub.core.store.Store.record_exit` does (the pass expiry job takes it back
at the device). Events for credentials the hub never issued at that gate (residents'
cards, exit buttons) are counted and ignored. Setting a time that is already set changes
nothing, so events may be read twice.

The job ``doors.events`` reads, for every gate whose access connection's plugin implements
``hub_access_events``, the events since the gate's cursor (sync cursor ``doors:<gate id>``;
the first time, :data:`FIRST_LOOK_BACK` before now). The cursor moves to the latest event
read, in the same transaction that stores the events: a run that crashes halfway reads the
same events again. One gate's failure does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from hub.core.clock import Clock
from hub.core.errors import NotFound, describe_error
from hub.core.model import Connection
from hub.core.plugins import Hub

if TYPE_CHECKING:  # the store imports this module's records
    from hub.core.store import Store

log = logging.getLogger(__name__)

HOOK = "hub_access_events"
#: How far back the first read of a gate's events goes.
FIRST_LOOK_BACK = timedelta(hours=1)
#: Device and hub clocks disagree a little: an event this much before a pass starts, or
#: (going in) after it ends, still counts as the pass's.
CLOCK_SLACK = timedelta(minutes=5)
#: A rider may leave this long after their pass ended (the exit reader lets them out).
EXIT_WINDOW = timedelta(hours=2)
#: The sync cursor of a gate's door events is named this, followed by the gate id.
CURSOR_PREFIX = "doors:"


@dataclass(frozen=True)
class DoorEventsResult:
    """What storing some door events did: of the events ``read``, those that set an
    entry's ``entered`` or ``exited`` time, those that matched a pass but changed nothing
    (``repeated``: the time was set already, or an exit before the entry), and those
    that matched no pass (``unknown``: an unknown credential or door)."""

    read: int = 0
    entered: int = 0
    exited: int = 0
    repeated: int = 0
    unknown: int = 0

    def __add__(self, other: DoorEventsResult) -> DoorEventsResult:
        return DoorEventsResult(
            self.read + other.read,
            self.entered + other.entered,
            self.exited + other.exited,
            self.repeated + other.repeated,
            self.unknown + other.unknown,
        )


@dataclass(frozen=True)
class DoorReport:
    """What a run did: gates read, gates that failed, and the events' outcome."""

    gates: int = 0
    failed: int = 0
    events: DoorEventsResult = DoorEventsResult()


def cursor_name(gate_id: str) -> str:
    return f"{CURSOR_PREFIX}{gate_id}"


def reads_events(hub: Hub, connection: Connection) -> bool:
    """Whether door events can be read through the connection: enabled, its plugin
    loaded and implementing ``hub_access_events``."""
    return connection.enabled and hub.is_loaded(connection.plugin) and hub.implements(connection.plugin, HOOK)


def read_door_events(
    hub: Hub,
    store: Store,
    clock: Clock,
    *,
    actor: str = "job:doors.events",
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
) -> DoorReport:
    """Read and store every readable gate's new door events (of the gates of one access
    connection, when given); never raises for one gate's failure (it is logged, and the
    gate is read from the same cursor next time)."""
    if connection_id is None:
        connections = {c.id: c for c in store.list_connections()}
    else:
        try:
            connections = {connection_id: store.get_connection(connection_id)}
        except NotFound:  # removed since the run was enqueued
            connections = {}
    gates = [
        (gate, connections[gate.access_connection_id])
        for gate in store.list_gates(access_connection_id=connection_id)
        if gate.access_connection_id in connections and reads_events(hub, connections[gate.access_connection_id])
    ]
    total = DoorEventsResult()
    failed = 0
    for done, (gate, connection) in enumerate(gates, start=1):
        since = store.door_cursor(gate.id) or clock.now() - FIRST_LOOK_BACK
        try:
            events = hub.access_events(connection, gate, since)
        except Exception as exc:  # this gate is read again next time; the others go on
            error = describe_error(exc)
            log.warning("door events of gate %s (%s) could not be read: %s", gate.id, connection.id, error)
            failed += 1
        else:
            total += store.record_door_events(connection.id, events, actor, gate_id=gate.id, since=since)
        if progress is not None:
            progress(done, len(gates), gate.id)
    return DoorReport(len(gates), failed, total)
