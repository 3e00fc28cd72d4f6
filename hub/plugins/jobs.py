"""The hub's own scheduled jobs, contributed through ``hub_jobs`` like any plugin's."""

from __future__ import annotations

from hub.core.delivery import deliver_due
from hub.core.hookspecs import hookimpl
from hub.core.jobs import JobContext
from hub.core.model import JobSpec, PluginInfo
from hub.plugins.info import builtin_info


def deliver_outbox(context: JobContext) -> int:
    """Deliver due rider notices and visitor records; returns how many were attempted."""
    return deliver_due(context.hub, context.store, context.clock, progress=context.progress).attempted


class BuiltinJobs:
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
        ]
