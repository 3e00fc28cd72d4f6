"""Collects what happened during one unit of work (an entry, a job run, a console action):
each hook call with its duration and outcome, and the audit actions it caused.

Wrappers append to the trace that is current in their context; whoever opened the trace
persists it with the work it belongs to. Work handed to a thread pool keeps the trace
through :func:`contextvars.copy_context`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from hub.core.model import HookCall


@dataclass(frozen=True)
class AuditAction:
    """Something done to the outside world that the audit log must show."""

    action: str
    connection_id: str
    subject: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Trace:
    """Thread-safe collector of hook calls and audit actions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[HookCall] = []
        self._actions: list[AuditAction] = []

    def add_call(self, call: HookCall) -> None:
        with self._lock:
            self._calls.append(call)

    def add_action(self, action: AuditAction) -> None:
        with self._lock:
            self._actions.append(action)

    @property
    def calls(self) -> tuple[HookCall, ...]:
        with self._lock:
            return tuple(sorted(self._calls, key=lambda c: c.started_at))

    @property
    def actions(self) -> tuple[AuditAction, ...]:
        with self._lock:
            return tuple(self._actions)


_current: ContextVar[Trace | None] = ContextVar("last100_trace", default=None)


def current_trace() -> Trace | None:
    """The trace of the work in progress, or ``None`` outside of one."""
    return _current.get()


@contextlib.contextmanager
def tracing() -> Iterator[Trace]:
    """Open a trace for the enclosed block."""
    trace = Trace()
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)
