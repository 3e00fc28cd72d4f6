"""Resilience: timeouts and circuit breakers around every call to a platform or device.

- A call that failed ``failure_threshold`` times in a row on a connection is not made again
  for ``reset_after_s`` seconds: it fails fast with ``CircuitOpen`` (the engine turns that
  into a manual check) instead of keeping riders waiting on a dead platform. Then one trial
  call is let through; its outcome closes the circuit or opens it again.
- There is a circuit per connection *and hook*. The engine asks for a rider's identity and
  orders at the same time, so with one circuit per connection a platform whose orders
  endpoint works would reset the count of its failing verification endpoint at every
  entry and the circuit would never open; and a rider whose identity is cached still gets
  their orders while the verification endpoint is down. ``state(connection_id)`` sums the
  circuits up per connection for the console and the health job.
- Failures are put in the hub's terms: a ``requests`` timeout becomes ``UpstreamTimeout``,
  any other exception that is not a ``HubError`` becomes ``UpstreamError``, with a message
  that names the connection and never quotes the original (it may hold a URL with a token).
- Timeouts are soft: a call cannot be interrupted, but an answer that came later than the
  connection's ``timeout_s`` is useless to a rider who was already told "manual check", so
  it becomes ``UpstreamTimeout`` and counts as a failure.
- ``CredentialRejected`` and ``PushRejected`` mean the system answered: they count as
  successes and pass through unchanged.
- ``hub_check_connection`` is never refused (it is how a recovery is noticed): failures
  become ``Health(ok=False)`` and a healthy answer closes the connection's circuits.
- The circuits live where the hub's shared state says (:mod:`hub.core.shared`): in the
  process, or in Redis, where every web process and the scheduler see the same circuits
  (a circuit one opened is open for all, a health check closes it for all). When Redis
  cannot be asked the breakers fail open: calls go ahead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from typing import Any

import requests

from hub.core.clock import Clock
from hub.core.errors import CircuitOpen, CredentialRejected, HubError, PushRejected, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import CAPABILITY_HOOKS, hookimpl
from hub.core.model import Connection, Credential, CredentialKind, Health, PluginInfo
from hub.core.shared import SharedState
from hub.plugins.breaker import State, circuit_breakers
from hub.plugins.callstate import CallState, call_scope, current_call
from hub.plugins.info import builtin_info
from hub.plugins.wrapping import attach_hookimpls

log = logging.getLogger(__name__)

#: Hooks behind the circuit breaker. Health checks must reach a failing system to see it
#: recover, and pushes come in from the system rather than going out to it.
GUARDED_HOOKS = tuple(h for h in CAPABILITY_HOOKS if h not in ("hub_check_connection", "hub_parse_push"))

_TIMEOUTS = (requests.exceptions.Timeout, TimeoutError)

# How a connection's circuits sum up: the worst one wins.
_SEVERITY: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}


def as_hub_error(connection: Connection, exc: Exception) -> HubError:
    """``exc`` in the hub's terms: a ``HubError`` as it is, a timeout as
    ``UpstreamTimeout``, anything else as ``UpstreamError``."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, _TIMEOUTS):
        return UpstreamTimeout(f"{connection.name} did not answer in time")
    return UpstreamError(f"{connection.name} failed unexpectedly ({type(exc).__name__})")


class Resilience:
    """Circuit breakers and soft timeouts for every connection.

    :param clock: measures call durations and the circuits' reset time.
    :param failure_threshold: failures in a row of one hook on one connection that open
        its circuit.
    :param reset_after_s: how long an open circuit refuses calls before a trial.
    :param shared: where the circuits live; by default in this process.
    """

    def __init__(
        self,
        clock: Clock,
        failure_threshold: int = 5,
        reset_after_s: float = 30,
        shared: SharedState | None = None,
    ) -> None:
        self._clock = clock
        self._breakers = circuit_breakers(clock, failure_threshold, reset_after_s, shared)
        # The guard is a plain tryfirst implementation, not part of the wrapper, so that
        # it runs after the verification cache's lookup: a cached identity is served even
        # while the platform's circuit is open.
        attach_hookimpls(self, "guard", GUARDED_HOOKS, self._guard, tryfirst=True)
        attach_hookimpls(self, "protect", GUARDED_HOOKS, self._protect, wrapper=True)

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "resilience",
            "Stops calling a failing platform or device for a while (circuit breaker) and "
            "turns late answers and unexpected errors into the hub's upstream errors.",
            {"circuit_breaker", "timeouts"},
        )

    def state(self, connection_id: str, hook_name: str | None = None) -> State:
        """The circuit of one hook on a connection; without a hook, the connection's
        worst: ``"open"`` when some call is refused, ``"half_open"`` when some call's
        next attempt is a trial, else ``"closed"``."""
        if hook_name is not None:
            return self._breakers.state((connection_id, hook_name))
        return self.states().get(connection_id, "closed")

    def states(self) -> dict[str, State]:
        """The worst circuit state of every connection called since the hub started
        (with the circuits in Redis: called by any process)."""
        worst: dict[str, State] = {}
        for (connection_id, _hook), state in self._breakers.states().items():
            if _SEVERITY[state] >= _SEVERITY[worst.get(connection_id, "closed")]:
                worst[connection_id] = state
        return worst

    # -- hub_check_connection --------------------------------------------------------

    @hookimpl(wrapper=True)
    def hub_check_connection(self, connection: Connection) -> Generator[None, Health | None, Health | None]:
        try:
            health = yield
        except Exception as exc:
            return Health(ok=False, message=str(as_hub_error(connection, exc)))
        if health is not None and health.ok:
            self._close_all(connection)
        return health

    def _close_all(self, connection: Connection) -> None:
        was = self.state(connection.id)
        for key in self._breakers.states():
            if key[0] == connection.id:
                self._breakers.reset(key)
        if was != "closed":
            log.info("circuits of %s (%s) closed: the health check passed", connection.id, connection.name)

    # -- the guarded hooks -------------------------------------------------------------

    def _guard(self, hook_name: str) -> Callable[..., None]:
        def guard(connection: Connection) -> None:
            admission = self._breakers.admit((connection.id, hook_name))
            if not admission.allowed:
                retry_in = max(1, math.ceil(admission.retry_in_s))
                raise CircuitOpen(
                    f"{connection.name} kept failing ({hook_name}); the hub is not calling it for now, "
                    f"retry in {retry_in} s"
                )
            call = current_call()
            if call is not None:
                call.went_upstream, call.trial = True, admission.trial

        if hook_name != "hub_verify_rider":
            return guard

        def guard_verification(connection: Connection, credential: Credential) -> None:
            # A signed entry code is verified locally, with no call to the platform: it is
            # what lets riders in while the platform is down, so its circuit must not stop it.
            if credential.kind is not CredentialKind.ENTRY_CODE:
                guard(connection)

        return guard_verification

    def _protect(self, hook_name: str) -> Callable[[Connection], Generator[None, Any, Any]]:
        def protect(connection: Connection) -> Generator[None, Any, Any]:
            with call_scope(hook_name, connection) as call:
                start = self._clock.monotonic()
                try:
                    result = yield
                except Exception as exc:
                    error = as_hub_error(connection, exc)
                    self._settle(call, ok=isinstance(error, CredentialRejected | PushRejected))
                    if error is exc:
                        raise
                    raise error from exc
                elapsed = self._clock.monotonic() - start
                if call.went_upstream and elapsed > connection.timeout_s:
                    self._settle(call, ok=False)
                    raise UpstreamTimeout(
                        f"{connection.name} answered after {elapsed:.1f} s, later than its "
                        f"{connection.timeout_s:g} s limit"
                    )
                self._settle(call, ok=True)
                return result

        return protect

    def _settle(self, call: CallState, ok: bool) -> None:
        """Tell the breaker how a call that went upstream ended. A call the cache served
        or the guard refused says nothing about the connection."""
        if not call.went_upstream:
            return
        key = (call.connection.id, call.hook)
        if ok:
            self._breakers.record_success(key, trial=call.trial)
        elif self._breakers.record_failure(key, trial=call.trial):
            log.warning(
                "circuit of %s on %s (%s) opened: calls fail fast for %g s",
                call.hook,
                call.connection.id,
                call.connection.name,
                self._breakers.reset_after_s,
            )
