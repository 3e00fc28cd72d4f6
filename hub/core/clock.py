"""Time, behind one small interface so tests can control it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """The real clock: wall time in UTC and a monotonic counter for durations."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def timestamp(self) -> float:
        """Wall time in seconds since the epoch: for times several processes compare
        (monotonic counters are each process's own), e.g. circuits kept in Redis."""
        return self.now().timestamp()


class ManualClock(Clock):
    """A clock that moves only when told to (``advance``); for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float = 0, **kwargs: float) -> None:
        step = timedelta(seconds=seconds, **kwargs)
        with self._lock:
            self._now += step
            self._mono += step.total_seconds()
