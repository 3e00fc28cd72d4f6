"""What the built-in plugins tell each other about the capability hook call in progress.

pluggy runs every wrapper of a hook call before any plain implementation and gives them
no shared place to talk, yet the built-ins must: when the verification cache answers, the
timing wrapper reports outcome ``"cache"`` and the circuit breaker neither counts the call
nor applies the upstream timeout; when the breaker's guard lets a call go to the
platform, the breaker's wrapper must later record how it went.

So the wrappers open a :func:`call_scope` around ``yield``: the outermost one creates a
:class:`CallState` in a ``ContextVar``, the inner ones join it, and the plain
implementations (cache lookup, breaker guard) mark it through :func:`current_call`.
A ``ContextVar`` keeps concurrent calls apart: every thread, and every
``contextvars.copy_context().run`` the engine hands to its pool, has its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from hub.core.model import Connection


@dataclass
class CallState:
    """One capability hook call, as the built-in plugins see it."""

    hook: str
    connection: Connection
    #: The verification cache answered; the platform was not asked.
    served_from_cache: bool = False
    #: The circuit breaker's guard let the call go to the external system.
    went_upstream: bool = False
    #: That call is the one trial a half-open circuit lets through.
    trial: bool = False


_current: ContextVar[CallState | None] = ContextVar("last100_call_state", default=None)


@contextlib.contextmanager
def call_scope(hook_name: str, connection: Connection) -> Iterator[CallState]:
    """The state of this hook call: joined when an outer wrapper of the same call already
    opened it, otherwise opened here and closed when the block ends."""
    state = _current.get()
    if state is not None and _same_call(state, hook_name, connection):
        yield state
        return
    state = CallState(hook_name, connection)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def _same_call(state: CallState, hook_name: str, connection: Connection) -> bool:
    # Wrappers all run before any plain implementation marks the state. A wrapper that
    # finds a marked state belongs to a hook called from inside an implementation, even
    # one of the same hook and connection, and gets a state of its own.
    marked = state.served_from_cache or state.went_upstream
    return not marked and state.hook == hook_name and state.connection is connection


def current_call() -> CallState | None:
    """The state of the hook call in progress, for the plain implementations to mark;
    ``None`` when no built-in wrapper of the call is registered."""
    return _current.get()
