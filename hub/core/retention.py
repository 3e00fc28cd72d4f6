"""The retention purge: the ``retention.purge`` job forgets personal data once a
community's retention period (``CommunityPolicy.retention_days``) is over.

What happens to what (``cutoff`` = now − the retention period):

- **Entries** of a community made before its cutoff are *anonymised*, not deleted: the
  figures (decisions, reasons, times, which gate and platform, how long each call took)
  stay for reports. Removed: the link to the rider, the order references, the
  idempotency key and request fingerprint (a hash of the credential), the pass value,
  the locker PIN, and the details of the entry's hook calls whose words come from an
  adapter or platform (outcomes ``error`` and ``rejected``: a platform's reason for
  rejecting a credential describes the rider). The details of ``timeout`` and
  ``circuit_open`` calls are written by the hub and name only the connection: kept.
- **Riders** (masked name and phone, their platform reference) are *deleted* once no
  entry still links to them and they were not seen since their connection's cutoff.
- **Orders** (delivery address, rider reference) and **settled outbox items** (done or
  dead; a visitor record carries the rider's masked name and phone) are *deleted* once
  the hub last heard of them before their connection's cutoff.
- **Feedback**: the reporter's contact is *blanked* after the community's cutoff; the
  report and its answers stay (they are the community's record of the problem).

A connection's cutoff uses the *shortest* retention period of the communities it serves
(riders and orders belong to a platform connection, not to one community; when in doubt
the hub forgets sooner). A connection serving no community uses the shortest period of
all communities, 30 days when there are none.

Housekeeping, hub-wide: push event ids are forgotten after :data:`PUSH_EVENTS_KEPT`
(they only drop repeats of a push), single-use codes :data:`SINGLE_USE_GRACE` after they
expired, console sessions :data:`SESSIONS_KEPT` after they ended (or were last used, for
one never signed out), finished job runs :data:`JOB_RUNS_KEPT` after they ended (a job
that has not run since keeps its last ones).

The audit log is not purged: it is append-only and hash-chained, and its records hold
codes and ids, not riders' personal data.

Every step works in batches of :data:`BATCH` rows, one short transaction each, and only
picks rows that still hold what it removes, so a run that crashed halfway is finished by
the next and nothing is counted twice. The counts are kept in the database with each
batch and audited when the run ends: ``retention.purged`` per community (subject: the
community's id) and ``retention.housekept`` for the hub-wide part; a run that purged
nothing audits nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.core.clock import Clock
from hub.core.model import Community, CommunityPolicy

if TYPE_CHECKING:
    from hub.core.store import Store

#: The actor of the audit records the purge writes.
RETENTION_ACTOR = "job:retention.purge"
#: Rows per transaction.
BATCH = 500
#: How long a push event's id is remembered to drop repeats of the push.
PUSH_EVENTS_KEPT = timedelta(days=7)
#: How long after it expired a single-use code is still remembered (clock skew margin).
SINGLE_USE_GRACE = timedelta(hours=1)
#: How long an ended (or abandoned) console session is kept.
SESSIONS_KEPT = timedelta(days=30)
#: How long the record of a finished job run is kept (on Celery workers a job makes one
#: run per partition and tick: tens of thousands a day on a large hub).
JOB_RUNS_KEPT = timedelta(days=14)
#: The subject of the hub-wide part's tally and audit record.
HUB_WIDE = ""
#: The shortest retention period honoured, whatever a policy says: a live pass is never
#: blanked.
MIN_RETENTION_DAYS = 1


@dataclass(frozen=True)
class PurgeReport:
    """What a run audited, by subject (a community's id, ``""`` for the hub-wide part):
    the counts added up over this run and any crashed run before it."""

    audited: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: Rows changed by this run alone.
    changed: int = 0


def connection_retention(
    connection_id: str, communities: Mapping[str, Community], links: Mapping[str, list[str]]
) -> tuple[int, str]:
    """The retention period (days) of a connection's riders, orders and outbox items,
    and the subject whose audit record counts them: the community with the shortest
    period of those the connection serves; for a connection serving none, the shortest
    of all, counted hub-wide."""
    served = [communities[c] for c in links.get(connection_id, ()) if c in communities]
    if served:
        decider = min(served, key=lambda c: (retention_days(c), c.id))
        return retention_days(decider), decider.id
    if communities:
        return min(retention_days(c) for c in communities.values()), HUB_WIDE
    return CommunityPolicy().retention_days, HUB_WIDE


def purge(
    store: Store,
    clock: Clock,
    *,
    batch_size: int = BATCH,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> PurgeReport:
    """Purge everything past its retention, audit the counts; returns what was done."""
    now = clock.now()
    changed = 0

    def drain(step: Callable[[], int], note: str) -> None:
        nonlocal changed
        while True:
            n = step()
            changed += n
            if progress is not None:
                progress(changed, None, note)
            if n < batch_size:
                return

    communities = {c.id: c for c in store.list_communities()}
    notes: dict[str, dict[str, Any]] = {}
    for community in communities.values():
        cutoff = cutoff_of(community, now)
        notes[community.id] = {"retention_days": retention_days(community), "cutoff": cutoff.isoformat()}
        drain(lambda c=community.id, t=cutoff: store.anonymise_entries(c, t, limit=batch_size), community.id)
        drain(lambda c=community.id, t=cutoff: store.anonymise_feedback(c, t, limit=batch_size), community.id)

    # After every community's entries: a rider still linked from one is kept.
    links = store.connection_community_ids()
    for connection_id in store.list_connection_ids():
        days, subject = connection_retention(connection_id, communities, links)
        cutoff = now - timedelta(days=days)
        for step in (store.delete_riders, store.delete_orders, store.delete_settled_outbox):
            drain(
                lambda s=step, c=connection_id, t=cutoff, k=subject: s(c, t, tally=k, limit=batch_size),
                connection_id,
            )

    drain(lambda: store.delete_push_events(now - PUSH_EVENTS_KEPT, tally=HUB_WIDE, limit=batch_size), "push events")
    drain(
        lambda: store.delete_single_use_codes(now - SINGLE_USE_GRACE, tally=HUB_WIDE, limit=batch_size),
        "single-use codes",
    )
    drain(
        lambda: store.delete_console_sessions(now - SESSIONS_KEPT, tally=HUB_WIDE, limit=batch_size),
        "console sessions",
    )
    drain(lambda: store.delete_job_runs(now - JOB_RUNS_KEPT, tally=HUB_WIDE, limit=batch_size), "job runs")
    audited = store.close_retention_tallies(actor=RETENTION_ACTOR, notes=notes)
    return PurgeReport(audited, changed)


def retention_days(community: Community) -> int:
    """A community's retention period in days (at least :data:`MIN_RETENTION_DAYS`)."""
    return max(MIN_RETENTION_DAYS, community.policy.retention_days)


def cutoff_of(community: Community, now: datetime) -> datetime:
    """The moment before which a community's personal data is past its retention."""
    return now - timedelta(days=retention_days(community))
