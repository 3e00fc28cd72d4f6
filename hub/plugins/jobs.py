"""The hub's own scheduled jobs, contributed through ``hub_jobs`` like any plugin's.

Each job but the retention purge is partitioned by connection (``JobSpec.partitions``):
on Celery workers each connection's part of a run is a task of its own (see
:mod:`hub.core.tasks`), so one slow platform or device holds up only its own part. In
one process a job always runs whole. The partitions list the connections that may
have work now, from cheap queries; a part with nothing to do does nothing.
"""

from __future__ import annotations

from hub.core.delivery import deliver_due
from hub.core.doors import read_door_events, reads_events
from hub.core.expiry import expire_passes
from hub.core.health import check_connections, checkable
from hub.core.hookspecs import hookimpl
from hub.core.jobs import NO_CONNECTION, JobContext
from hub.core.model import JobOutcome, JobSpec, PluginInfo
from hub.core.publishing import publish_communities, publishes
from hub.core.reconcile import ReconcileSettings, reconcile_orders
from hub.core.retention import purge
from hub.plugins.info import builtin_info
from hub.plugins.resilience import Resilience


def deliver_outbox(context: JobContext) -> JobOutcome:
    """Deliver due rider notices and visitor records: how many were attempted, and how
    many failed (retried later or given up)."""
    report = deliver_due(
        context.hub, context.store, context.clock, progress=context.progress, connection_id=context.partition
    )
    return JobOutcome(report.attempted, report.retried + report.dead)


def outbox_partitions(context: JobContext) -> list[str]:
    """The connections with outbox items due."""
    return context.store.outbox_connections()


def reconcile(context: JobContext, settings: ReconcileSettings | None = None) -> JobOutcome:
    """Poll the orders of live passes that were not pushed lately and cut the passes of
    delivered or cancelled ones to the exit grace: the orders asked about, and those
    the platforms did not know or could not answer. ``settings``: how much a run does."""
    settings = settings or ReconcileSettings()
    report = reconcile_orders(
        context.hub,
        context.store,
        batch_size=settings.batch_size,
        workers=settings.workers,
        limit=settings.limit,
        progress=context.progress,
        connection_id=context.partition,
    )
    return JobOutcome(report.polled + report.errors, report.errors)


def reconcile_partitions(context: JobContext) -> list[str]:
    """The platform connections of entries with a live pass."""
    return context.store.reconcile_connections()


def expire(context: JobContext) -> JobOutcome:
    """Take expired passes back at their devices, retrying failures with back-off: the
    passes attempted, and those whose device did not confirm."""
    partition = context.partition
    report = expire_passes(
        context.hub,
        context.store,
        progress=context.progress,
        connection_id=None if partition == NO_CONNECTION else partition,
        without_device=partition == NO_CONNECTION,
    )
    return JobOutcome(report.attempted, report.failed)


def expiry_partitions(context: JobContext) -> list[str]:
    """The device connections of passes past their end (``NO_CONNECTION`` for a
    guard's passes, which have no device)."""
    return [NO_CONNECTION if c is None else c for c in context.store.revoke_connections()]


def publish_profiles(context: JobContext) -> JobOutcome:
    """Publish community profiles that changed, are a day old or failed before: the
    publications attempted, and those that failed."""
    report = publish_communities(
        context.hub, context.store, context.clock, progress=context.progress, connection_id=context.partition
    )
    return JobOutcome(report.attempted, report.failed)


def publish_partitions(context: JobContext) -> list[str]:
    """The connections that can take a community profile."""
    return [c.id for c in context.store.list_connections() if publishes(context.hub, c)]


def door_events(context: JobContext) -> int:
    """Read new door events at every gate; returns how many events were read."""
    report = read_door_events(
        context.hub, context.store, context.clock, progress=context.progress, connection_id=context.partition
    )
    return report.events.read


def door_partitions(context: JobContext) -> list[str]:
    """The access connections of gates whose events can be read."""
    readable = {c.id for c in context.store.list_connections() if reads_events(context.hub, c)}
    return sorted({g.access_connection_id for g in context.store.list_gates()} & readable)


def connection_health(context: JobContext) -> int:
    """Check every enabled connection and record its health and circuit; returns how
    many were checked."""
    # Without the Resilience built-in (disabled) there are no circuits: calls are never refused.
    breakers = [p for p in context.hub.pm.get_plugins() if isinstance(p, Resilience)]
    circuit_of = breakers[0].state if breakers else lambda _connection_id: "closed"
    return check_connections(
        context.hub,
        context.store,
        context.clock,
        circuit_of=circuit_of,
        progress=context.progress,
        connection_id=context.partition,
    ).checked


def health_partitions(context: JobContext) -> list[str]:
    """The connections that can be checked."""
    return [c.id for c in checkable(context.hub, context.store.list_connections())]


def retention_purge(context: JobContext) -> int:
    """Anonymise or delete personal data past each community's retention period and
    audit the counts; returns how many rows were changed."""
    return purge(context.store, context.clock, progress=context.progress).changed


class BuiltinJobs:
    """The hub's own jobs. ``reconcile`` sizes ``orders.reconcile``: the defaults (2,000
    orders a run, 4 calls at once) suit a hub with a few thousand live passes; one with
    100,000 needs a bigger cap and more calls at once to catch up within a minute."""

    def __init__(self, reconcile: ReconcileSettings | None = None) -> None:
        self.reconcile = reconcile or ReconcileSettings()

    def _reconcile(self, context: JobContext) -> JobOutcome:
        return reconcile(context, self.reconcile)

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info("builtin-jobs", "The hub's own scheduled jobs.", {"jobs"})

    @hookimpl
    def hub_jobs(self) -> list[JobSpec]:
        return [
            JobSpec(
                "outbox.deliver",
                deliver_outbox,
                "interval",
                {"seconds": 15},
                "Deliver rider notices and visitor records from the outbox, with retries",
                outbox_partitions,
            ),
            JobSpec(
                "orders.reconcile",
                self._reconcile,
                "interval",
                {"seconds": 60},
                "Poll platforms for orders of live passes not pushed lately; delivered or cancelled ends the pass",
                reconcile_partitions,
            ),
            JobSpec(
                "passes.expire",
                expire,
                "interval",
                {"seconds": 60},
                "Revoke expired passes at the gate devices, retrying failures with back-off",
                expiry_partitions,
            ),
            JobSpec(
                "communities.publish",
                publish_profiles,
                "interval",
                {"minutes": 5},
                "Publish each community's profile to its platforms when it changed, and daily",
                publish_partitions,
            ),
            JobSpec(
                "doors.events",
                door_events,
                "interval",
                {"minutes": 2},
                "Read door events at the gates: when riders really went in and came out",
                door_partitions,
            ),
            JobSpec(
                "connections.health",
                connection_health,
                "interval",
                {"seconds": 60},
                "Check every connection and record its health and circuit",
                health_partitions,
            ),
            JobSpec(
                "retention.purge",
                retention_purge,
                "interval",
                {"hours": 1},
                "Anonymise or delete personal data past each community's retention period",
            ),
        ]
