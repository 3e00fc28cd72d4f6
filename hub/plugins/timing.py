"""Timing: how long every capability hook call took and how it ended.

Each call becomes a :class:`~hub.core.model.HookCall` in the current trace (when there is
one); the engine stores them with the entry, so the console can show where an entry's
seconds went and which platform is slow. Each call, traced or not, is also observed in
the Prometheus metrics (:mod:`hub.core.metrics`: duration per connection, hook and
outcome, and the failed ones counted), and so is each decided entry (its decision and
how long it took).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

from hub.core import metrics
from hub.core.clock import Clock
from hub.core.errors import CircuitOpen, CredentialRejected, PushRejected, UpstreamTimeout, describe_error
from hub.core.hookspecs import CAPABILITY_HOOKS, hookimpl
from hub.core.model import Connection, Entry, Health, HookCall, PluginInfo
from hub.core.trace import current_trace
from hub.plugins.callstate import call_scope
from hub.plugins.info import builtin_info
from hub.plugins.wrapping import attach_hookimpls


def outcome_of(exc: BaseException) -> str:
    """The ``HookCall.outcome`` of a call that raised ``exc``."""
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, CredentialRejected | PushRejected):
        return "rejected"
    return "error"


class Timing:
    """Wraps every capability hook and records a ``HookCall`` per call.

    It is the outermost wrapper (``tryfirst=True``), so the duration includes the other
    built-ins and the outcome is what the caller sees: an adapter's ``requests`` timeout
    has already become ``UpstreamTimeout`` ("timeout"), a cached identity is "cache".
    An unhealthy :class:`~hub.core.model.Health` from ``hub_check_connection`` is recorded
    as "error" with its message, although the call returned.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        attach_hookimpls(self, "timed", CAPABILITY_HOOKS, self._timed, wrapper=True, tryfirst=True)

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "timing",
            "Records the duration and outcome of every call to a platform or device, and counts decisions.",
            {"timing"},
        )

    def _timed(self, hook_name: str) -> Callable[[Connection], Generator[None, Any, Any]]:
        def timed(connection: Connection) -> Generator[None, Any, Any]:
            with call_scope(hook_name, connection) as call:
                started_at, start = self._clock.now(), self._clock.monotonic()
                try:
                    result = yield
                except Exception as exc:
                    self._record(hook_name, connection, started_at, start, outcome_of(exc), describe_error(exc))
                    raise
                if call.served_from_cache:
                    self._record(hook_name, connection, started_at, start, "cache")
                elif isinstance(result, Health) and not result.ok:
                    self._record(hook_name, connection, started_at, start, "error", result.message)
                else:
                    self._record(hook_name, connection, started_at, start, "ok")
                return result

        return timed

    @hookimpl
    def hub_entry_decided(self, entry: Entry) -> None:
        metrics.observe_decision(str(entry.decision), entry.decision_ms / 1000)

    def _record(
        self, hook_name: str, connection: Connection, started_at: datetime, start: float, outcome: str, detail: str = ""
    ) -> None:
        duration_ms = (self._clock.monotonic() - start) * 1000
        metrics.observe_upstream_call(connection.id, hook_name, outcome, duration_ms / 1000)
        trace = current_trace()
        if trace is None:
            return
        trace.add_call(HookCall(hook_name, connection.plugin, connection.id, started_at, duration_ms, outcome, detail))
