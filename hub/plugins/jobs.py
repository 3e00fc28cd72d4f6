"""The hub's own scheduled jobs, contributed through ``hub_jobs`` like any plugin's."""

from __future__ import annotations

from hub.core.delivery import deliver_due
from hub.core.doors import read_door_events
from hub.core.expiry import expire_passes
from hub.core.health import check_connections
from hub.core.hookspecs import hookimpl
from hub.core.jobs import JobContext
from hub.core.model import JobOutcome, JobSpec, PluginInfo
from hub.core.publishing import publish_communities
from hub.core.reconcile import ReconcileSettings, reconcile_orders
from hub.core.retention import purge
from hub.plugins.info import builtin_info
from hub.plugins.resilience import Resilience


def deliver_outbox(context: JobContext) -> JobOutcome:
    """Deliver due rider notices and visitor records: how many were attempted, and how
    many failed (retried later or given up)."""
    report = deliver_due(context.hub, context.store, context.clock, progress=context.progress)
    return JobOutcome(report.attempted, report.retried + report.dead)


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
    )
    return JobOutcome(report.polled + report.errors, report.errors)


def expire(context: JobContext) -> JobOutcome:
    """Take expired passes back at their devices, retrying failures with back-off: the
    passes attempted, and those whose device did not confirm."""
    report = expire_passes(context.hub, context.store, progress=context.progress)
    return JobOutcome(report.attempted, report.failed)


def publish_profiles(context: JobContext) -> JobOutcome:
    """Publish community profiles that changed, are a day old or failed before: the
    publications attempted, and those that failed."""
    report = publish_communities(context.hub, context.store, context.clock, progress=context.progress)
    return JobOutcome(report.attempted, report.failed)


def door_events(context: JobContext) -> int:
    """Read new door events at every gate; returns how many events were read."""
    return read_door_events(context.hub, context.store, context.clock, progress=context.progress).events.read


def connection_health(context: JobContext) -> int:
    """Check every enabled connection and record its health and circuit; returns how
    many were checked."""
    # Without the Resilience built-in (disabled) there are no circuits: calls are never refused.
    breakers = [p for p in context.hub.pm.get_plugins() if isinstance(p, Resilience)]
    circuit_of = breakers[0].state if breakers else lambda _connection_id: "closed"
    return check_connections(
        context.hub, context.store, context.clock, circuit_of=circuit_of, progress=context.progress
    ).checked


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
            ),
            JobSpec(
                "orders.reconcile",
                self._reconcile,
                "interval",
                {"seconds": 60},
                "Poll platforms for orders of live passes not pushed lately; delivered or cancelled ends the pass",
            ),
            JobSpec(
                "passes.expire",
                expire,
                "interval",
                {"seconds": 60},
                "Revoke expired passes at the gate devices, retrying failures with back-off",
            ),
            JobSpec(
                "communities.publish",
                publish_profiles,
                "interval",
                {"minutes": 5},
                "Publish each community's profile to its platforms when it changed, and daily",
            ),
            JobSpec(
                "doors.events",
                door_events,
                "interval",
                {"minutes": 2},
                "Read door events at the gates: when riders really went in and came out",
            ),
            JobSpec(
                "connections.health",
                connection_health,
                "interval",
                {"seconds": 60},
                "Check every connection and record its health and circuit",
            ),
            JobSpec(
                "retention.purge",
                retention_purge,
                "interval",
                {"hours": 1},
                "Anonymise or delete personal data past each community's retention period",
            ),
        ]
