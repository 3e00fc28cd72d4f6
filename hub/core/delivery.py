"""Delivering the outbox: rider notices and visitor records, off the rider's path.

Each due item is leased, handed to its connection's plugin through the hub facade, and
settled: done, retried later with exponential back-off and jitter, or — after
``max_attempts`` — dead, which is audited so a guard or operator sees it. What a plugin
did to the outside world is audited like any other hook call.

Each item is delivered under the request id of the request that enqueued it (see
:mod:`hub.core.logs`): the delivery's log lines, the plugin's included, carry the id of
the entry that caused them.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.core.clock import Clock
from hub.core.errors import NotFound, describe_error
from hub.core.logs import request_id_scope
from hub.core.model import Notice, Visit
from hub.core.outbox import LeasedItem
from hub.core.plugins import Hub
from hub.core.store import Store
from hub.core.trace import tracing

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 30.0
LONGEST_RETRY_S = 3600.0
#: How long a deliverer holds an item; a crashed one's items are due again after it.
LEASE_S = 300.0


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.dead


def retry_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from 30 s up to an hour, with
    "equal jitter" (half fixed, half random) so items that failed together do not all
    come back at the same moment."""
    ceiling = min(LONGEST_RETRY_S, FIRST_RETRY_S * 2 ** (attempt - 1))
    return ceiling / 2 + rng() * ceiling / 2


def deliver_due(
    hub: Hub,
    store: Store,
    clock: Clock,
    *,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
) -> DeliveryReport:
    """Deliver up to ``limit`` due outbox items (of one connection, when given); never
    raises for a failed item."""
    items = store.lease_outbox(limit, LEASE_S, connection_id=connection_id)
    delivered = retried = dead = 0
    for done, item in enumerate(items, start=1):
        with request_id_scope(item.request_id):
            error = _deliver(hub, store, item)
            if error is None:
                store.settle_outbox(item.id)
                log.debug("outbox item %s (%s) delivered through %s", item.id, item.kind, item.connection_id)
                delivered += 1
            elif item.attempts + 1 >= max_attempts or error.permanent:
                store.settle_outbox(item.id, error=error.message)
                log.error(
                    "outbox item %s (%s) is dead after %d attempts: %s", item.id, item.kind, item.attempts + 1, error
                )
                dead += 1
            else:
                store.settle_outbox(item.id, error=error.message, retry_at=_later(clock.now(), item.attempts + 1))
                log.warning(
                    "outbox item %s (%s) failed (attempt %d), retried later: %s",
                    item.id,
                    item.kind,
                    item.attempts + 1,
                    error,
                )
                retried += 1
        if progress is not None:
            progress(done, len(items), item.kind)
    return DeliveryReport(delivered, retried, dead)


def _later(now: datetime, attempt: int) -> datetime:
    return now + timedelta(seconds=retry_delay(attempt))


@dataclass(frozen=True)
class _Failure:
    message: str
    permanent: bool = False

    def __str__(self) -> str:
        return self.message


def _deliver(hub: Hub, store: Store, item: LeasedItem) -> _Failure | None:
    send = _SENDERS.get(item.kind)
    if send is None:
        return _Failure(f"no delivery for outbox items of kind {item.kind!r}", permanent=True)
    try:
        connection = store.get_connection(item.connection_id)
    except NotFound as exc:
        return _Failure(str(exc), permanent=True)
    with tracing() as trace:
        try:
            send(hub, connection, item.payload)
        except Exception as exc:  # any failure is retried, then dead-lettered
            failure = _Failure(describe_error(exc))
        else:
            failure = None
    for action in trace.actions:
        store.audit(f"outbox:{item.id}", action.action, action.subject, {**action.data, "connection": connection.id})
    return failure


def _notify_rider(hub: Hub, connection: Any, payload: dict[str, Any]) -> None:
    hub.notify_rider(connection, payload["rider_ref"], Notice(**payload["notice"]))


def _register_visitor(hub: Hub, connection: Any, payload: dict[str, Any]) -> None:
    times = {k: datetime.fromisoformat(payload[k]) for k in ("started_at", "ends_at")}
    hub.register_visitor(connection, Visit(**{**payload, **times}))


_SENDERS: dict[str, Callable[[Hub, Any, dict[str, Any]], None]] = {
    "notify_rider": _notify_rider,
    "register_visitor": _register_visitor,
}
