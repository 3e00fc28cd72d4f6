"""Circuit breakers, one per key, safe to share between threads.

A circuit is *closed* while calls go through; after ``failure_threshold`` failures in a
row it *opens* and calls fail fast for ``reset_after_s`` seconds; then it is *half-open*:
one trial call goes through while every other call still fails fast, and the trial's
outcome closes the circuit or opens it again.

Unlike pybreaker, the lock is held only to read and update a circuit, never during the
call itself, so riders' calls to one platform run side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

from hub.core.clock import Clock

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Admission:
    """Whether a call may go ahead now."""

    allowed: bool
    #: The call is the one trial of a half-open circuit; report it with ``trial=True``.
    trial: bool = False
    #: When refused: seconds until a call may go ahead again.
    retry_in_s: float = 0.0


@dataclass
class _Circuit:
    failures: int = 0  # consecutive failures
    opened_at: float | None = None  # monotonic time it opened; None while closed
    trial_since: float | None = None  # when the half-open trial went ahead


class CircuitBreakers:
    """A circuit per key, created on first use (the hub keys them by connection and hook)."""

    def __init__(self, clock: Clock, failure_threshold: int = 5, reset_after_s: float = 30) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s <= 0:
            raise ValueError("reset_after_s must be positive")
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._circuits: dict[Hashable, _Circuit] = {}
        self._lock = threading.Lock()

    def admit(self, key: Hashable) -> Admission:
        """Ask before calling: may a call on ``key`` go ahead?"""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            if circuit.opened_at is None:
                return Admission(True)
            now = self._clock.monotonic()
            waited = now - circuit.opened_at
            if waited < self.reset_after_s:
                return Admission(False, retry_in_s=self.reset_after_s - waited)
            # Half-open. A trial that has not reported back within reset_after_s is taken
            # as lost (a call that hung), so that one hung call cannot keep the circuit
            # from ever closing.
            if circuit.trial_since is not None and now - circuit.trial_since < self.reset_after_s:
                return Admission(False, retry_in_s=self.reset_after_s - (now - circuit.trial_since))
            circuit.trial_since = now
            return Admission(True, trial=True)

    def record_success(self, key: Hashable, trial: bool = False) -> None:
        """An admitted call succeeded."""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            if circuit.opened_at is None:
                circuit.failures = 0
            elif trial:
                self._close(circuit)
            # Otherwise a call admitted before the circuit opened came back late; the
            # trial, not a straggler, decides when the circuit closes.

    def record_failure(self, key: Hashable, trial: bool = False) -> bool:
        """An admitted call failed. Returns whether this failure opened the circuit."""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            now = self._clock.monotonic()
            if circuit.opened_at is None:
                circuit.failures += 1
                if circuit.failures >= self.failure_threshold:
                    circuit.opened_at = now
                    return True
            elif trial:
                circuit.opened_at, circuit.trial_since = now, None
                return True
            return False

    def reset(self, key: Hashable) -> None:
        """Close the circuit (e.g. a health check found the system working)."""
        with self._lock:
            self._close(self._circuits.setdefault(key, _Circuit()))

    def state(self, key: Hashable) -> State:
        with self._lock:
            return self._state(self._circuits.get(key))

    def states(self) -> dict[Hashable, State]:
        """The state of every circuit a call has gone through, by key."""
        with self._lock:
            return {key: self._state(circuit) for key, circuit in self._circuits.items()}

    def _state(self, circuit: _Circuit | None) -> State:
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock.monotonic() - circuit.opened_at < self.reset_after_s:
            return "open"
        return "half_open"

    @staticmethod
    def _close(circuit: _Circuit) -> None:
        circuit.failures, circuit.opened_at, circuit.trial_since = 0, None, None
