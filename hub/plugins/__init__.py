"""The hub's built-in plugins. They use the same hooks as any adapter; kind ``core``
makes the hub run them around every connection's calls.

- :class:`~hub.plugins.timing.Timing` — records each capability hook call (duration,
  outcome: ok, cache, timeout, circuit_open, rejected, error) in the current trace.
- :class:`~hub.plugins.audit.Audit` — records every pass, door opening, visitor record,
  locker, publication and rider notice, and every failed attempt, for the audit log.
- :class:`~hub.plugins.cache.VerificationCache` — reuses a rider's verification for as
  long as the platform allows (``RiderIdentity.cache_seconds``); ``forget`` drops a
  rider's entries.
- :class:`~hub.plugins.resilience.Resilience` — a circuit breaker per connection and soft
  timeouts; upstream failures become ``UpstreamError`` / ``UpstreamTimeout`` /
  ``CircuitOpen``; ``state`` and ``states`` report the circuits.
- :class:`~hub.plugins.policy.DefaultPolicy` — votes on entries by the community's
  rules (platforms, hours, active order, entries per hour, presence, lockers only).
- :class:`~hub.plugins.fallback.ManualCheckFallback` — votes manual check when a platform
  could not be asked, deny when it rejected the credential.
- :class:`~hub.plugins.jobs.BuiltinJobs` — the hub's scheduled jobs (outbox delivery).

Use :func:`builtin_plugins` to get them, in the order they must be registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from hub.core.clock import Clock
from hub.core.reconcile import ReconcileSettings
from hub.core.shared import SharedState
from hub.plugins.audit import Audit
from hub.plugins.cache import VerificationCache
from hub.plugins.fallback import ManualCheckFallback
from hub.plugins.jobs import BuiltinJobs
from hub.plugins.policy import DefaultPolicy
from hub.plugins.resilience import Resilience
from hub.plugins.timing import Timing

__all__ = [
    "Audit",
    "BuiltinJobs",
    "DefaultPolicy",
    "ManualCheckFallback",
    "Resilience",
    "Timing",
    "VerificationCache",
    "builtin_plugins",
    "find_builtin",
]

T = TypeVar("T")


def builtin_plugins(
    clock: Clock | None = None,
    *,
    failure_threshold: int = 5,
    reset_after_s: float = 30,
    cache_size: int = 10000,
    reconcile: ReconcileSettings | None = None,
    shared: SharedState | None = None,
) -> list[object]:
    """Fresh instances of the built-in plugins, in the order they must be registered.

    ``shared`` says where the verification cache and the circuit breakers keep their
    state (:mod:`hub.core.shared`); by default each in this process.

    The order matters because pluggy calls implementations of equal priority in reverse
    order of registration (last registered, first called):

    - ``Resilience`` before ``VerificationCache``: the cache's lookup and the circuit
      breaker's guard are both ``tryfirst`` implementations of ``hub_verify_rider``, so
      the cache, registered later, answers first, and a cached identity is served even
      while the platform's circuit is open. For the same reason the cache's storing
      wrapper runs outside the breaker's wrapper and never stores an answer the breaker
      turned into ``UpstreamTimeout`` because it came too late.
    - ``Audit`` after ``Resilience``: it records the errors the breaker translated.
    - ``Timing`` last: it is the only ``tryfirst`` wrapper, the outermost one, and being
      registered last keeps it outermost among the built-ins whatever else changes.

    Adapters are registered after the built-ins and must not mark their implementations
    ``tryfirst``, or they would run before the guard.
    """
    clock = clock or Clock()
    return [
        BuiltinJobs(reconcile),
        DefaultPolicy(),
        ManualCheckFallback(),
        Resilience(clock, failure_threshold=failure_threshold, reset_after_s=reset_after_s, shared=shared),
        VerificationCache(clock, maxsize=cache_size, shared=shared),
        Audit(),
        Timing(clock),
    ]


def find_builtin(plugins: Iterable[object], kind: type[T]) -> T:
    """The instance of one built-in class among ``plugins`` (e.g. the list
    :func:`builtin_plugins` returned), for the parts of the hub that talk to a built-in
    directly: the push handler calls ``VerificationCache.forget``, the console and health
    job read ``Resilience.states``.

    :raises LookupError: no such plugin in the list.
    """
    for plugin in plugins:
        if isinstance(plugin, kind):
            return plugin
    raise LookupError(f"no {kind.__name__} among the plugins")
