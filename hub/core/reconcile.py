"""Order reconciliation: ask the platforms about the orders of live passes that they have
not pushed lately, so a pass whose order was delivered or cancelled ends at the exit
grace even when the push never came.

The orders come from :meth:`~hub.core.store.Store.orders_to_reconcile` (entries with a
live pass whose order is unknown, or not final and not heard of within the connection's
freshness window). They are polled through ``hub_get_order`` connection by connection,
:data:`BATCH_SIZE` refs a batch, at most :data:`WORKERS` calls at once; each call is
bounded by the adapter's own timeout and the circuit breaker. Each batch's answers are
stored in one transaction as polls (:meth:`~hub.core.store.Store.apply_polled_orders`),
through the same path as pushes: a delivered or cancelled order cuts its passes to the
community's exit grace, audited ``pass.shortened``.

An order the platform does not know, or a failed call, is counted, logged and left for
the next run; one failing connection does not stop the others. A run that crashed
halfway is simply run again: what its finished batches stored is not asked again until
the freshness window has passed, and storing an answer twice changes nothing.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from collections.abc import Callable
from dataclasses import dataclass

from hub.core.errors import HubError, describe_error
from hub.core.model import Connection, Order
from hub.core.plugins import Hub
from hub.core.store import Store

log = logging.getLogger(__name__)

#: Order refs asked about per batch; each batch is stored in one transaction.
BATCH_SIZE = 50
#: Calls to platforms at once, in one run.
WORKERS = 4
#: Order refs asked about per run at most (the longest unheard first); the rest wait.
MAX_PER_RUN = 2000
#: Who the audit log says shortened a pass.
ACTOR = "job:orders.reconcile"

_HOOK = "hub_get_order"


@dataclass(frozen=True)
class ReconcileSettings:
    """How much one run of the job does: ``limit`` orders at most (the longest unheard
    first), ``workers`` calls to platforms at once, ``batch_size`` answers stored per
    transaction. A run takes about ``limit / workers`` times a call's latency (plus one
    short write per batch), so e.g. 100,000 orders at 50 ms a call need about 100
    workers to be asked within a minute."""

    limit: int = MAX_PER_RUN
    workers: int = WORKERS
    batch_size: int = BATCH_SIZE

    def __post_init__(self) -> None:
        if self.limit < 1 or self.workers < 1 or self.batch_size < 1:
            raise ValueError("the reconcile limit, workers and batch size must be at least 1")


@dataclass(frozen=True)
class ReconcileReport:
    """What one run did: orders the platforms answered (``polled``), of which ``final``
    were delivered or cancelled, passes cut short, orders the platforms did not know, and
    orders that could not be asked (a failed call, or a connection that cannot be used)."""

    polled: int = 0
    final: int = 0
    shortened: int = 0
    unknown: int = 0
    failed: int = 0

    @property
    def errors(self) -> int:
        return self.unknown + self.failed


def reconcile_orders(
    hub: Hub,
    store: Store,
    *,
    batch_size: int = BATCH_SIZE,
    workers: int = WORKERS,
    limit: int = MAX_PER_RUN,
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
) -> ReconcileReport:
    """Poll the orders that need it (of one platform connection, when given) and store
    the answers; never raises for a platform's failure (a store failure does raise: the
    run is then simply run again)."""
    if batch_size < 1 or workers < 1:
        raise ValueError("batch_size and workers must be at least 1")
    wanted = store.orders_to_reconcile(limit, connection_id=connection_id)
    by_connection: dict[str, list[str]] = {}
    for connection_id, ref in wanted:
        by_connection.setdefault(connection_id, []).append(ref)
    totals = dict(polled=0, final=0, shortened=0, unknown=0, failed=0)
    done = 0
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="last100-reconcile") as pool:
        for connection_id, refs in by_connection.items():
            connection = _usable(hub, store, connection_id)
            if connection is None:
                totals["failed"] += len(refs)
                done += len(refs)
                if progress is not None:
                    progress(done, len(wanted), connection_id)
                continue
            for start in range(0, len(refs), batch_size):
                batch = refs[start : start + batch_size]
                answers = list(pool.map(lambda ref, c=connection: _ask(hub, c, ref), batch))
                orders = [a for a in answers if isinstance(a, Order)]
                totals["shortened"] += store.apply_polled_orders(connection_id, orders, ACTOR)
                totals["polled"] += len(orders)
                totals["final"] += sum(1 for o in orders if o.status.final)
                unknown = [ref for ref, a in zip(batch, answers, strict=True) if a is None]
                failures = [(ref, a) for ref, a in zip(batch, answers, strict=True) if isinstance(a, str)]
                totals["unknown"] += len(unknown)
                totals["failed"] += len(failures)
                if unknown:
                    log.warning("%s does not know %d order(s), e.g. %s", connection_id, len(unknown), unknown[0])
                if failures:
                    ref, error = failures[0]
                    log.warning(
                        "%d order(s) could not be fetched from %s, e.g. %s: %s",
                        len(failures),
                        connection_id,
                        ref,
                        error,
                    )
                done += len(batch)
                if progress is not None:
                    progress(done, len(wanted), connection_id)
    return ReconcileReport(**totals)


def _usable(hub: Hub, store: Store, connection_id: str) -> Connection | None:
    """The connection, when its plugin is loaded and can be asked for an order."""
    try:
        connection = store.get_connection(connection_id)
        if hub.implements(connection.plugin, _HOOK):
            return connection
        log.warning("%s cannot be reconciled: plugin %s does not implement %s", connection_id, connection.plugin, _HOOK)
    except HubError as exc:
        log.warning("%s cannot be reconciled: %s", connection_id, exc)
    return None


def _ask(hub: Hub, connection: Connection, ref: str) -> Order | str | None:
    """The platform's answer about one order: the order, ``None`` when it does not know
    it, or the error (a string) when it could not be asked."""
    try:
        order = hub.get_order(connection, ref)
    except Exception as exc:  # any failure means "ask again next run"
        return describe_error(exc)
    if order is not None and order.ref != ref:
        return f"answered with order {order.ref!r}"
    return order
