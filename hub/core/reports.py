"""Read-only views of stored entries for the console: the figures of a community's day,
the health of its connections as the day's calls show it, and a guard's queue of
manual checks. :class:`~hub.core.store.Store` reads the rows; the arithmetic is here."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.core.model import Decision, Reason

#: Hook call outcomes that count as the other system failing (``rejected`` is a rider
#: the platform refused: the system answered, so it is healthy).
FAILED_OUTCOMES = frozenset({"timeout", "error", "circuit_open"})


@dataclass(frozen=True)
class EntryFact:
    """What the day's figures need of one entry (no personal data)."""

    id: str
    community_id: str
    created_at: datetime
    decision: Decision
    decision_ms: float
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class ReasonCount:
    code: str
    count: int
    zh: str
    en: str


@dataclass(frozen=True)
class DaySummary:
    """One day's entries. ``manual`` counts the entries that needed a guard: those
    still waiting (``waiting``) and those a guard has decided (their final decision is
    also counted in ``granted`` or ``denied``). ``per_hour`` has 24 counts, by the local
    hour the entry was made."""

    granted: int = 0
    denied: int = 0
    manual: int = 0
    waiting: int = 0
    median_decision_ms: float | None = None
    median_guard_s: float | None = None
    per_hour: tuple[int, ...] = (0,) * 24
    denial_reasons: tuple[ReasonCount, ...] = ()

    @property
    def total(self) -> int:
        return self.granted + self.denied + self.waiting


def local_day(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of a calendar day in a timezone, as aware times
    (23 or 25 hours long where the clocks change)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def summarise_day(
    facts: Iterable[EntryFact],
    timezones: Mapping[str, str],
    guard_decided: Mapping[str, datetime] | None = None,
) -> DaySummary:
    """Figures for ``facts`` (entries of one day, of one or more communities).

    :param timezones: each community's timezone, for the hour an entry counts in.
    :param guard_decided: when a guard decided an entry, by entry id.
    """
    guard_decided = guard_decided or {}
    decisions: Counter[Decision] = Counter()
    hours = [0] * 24
    times: list[float] = []
    guard_waits: list[float] = []
    reasons: dict[str, list] = {}
    manual = 0
    for fact in facts:
        decisions[fact.decision] += 1
        local = fact.created_at.astimezone(ZoneInfo(timezones.get(fact.community_id, "UTC")))
        hours[local.hour] += 1
        times.append(fact.decision_ms)
        decided_at = guard_decided.get(fact.id)
        if decided_at is not None:
            guard_waits.append((decided_at - fact.created_at).total_seconds())
        if decided_at is not None or fact.decision is Decision.MANUAL_CHECK:
            manual += 1
        if fact.decision is Decision.DENIED:
            for reason in fact.reasons:
                seen = reasons.setdefault(reason.code, [0, reason])
                seen[0] += 1
                # A guard's reason carries their words; the shortest text is the plain one.
                if len(reason.en) < len(seen[1].en):
                    seen[1] = reason
    counted = sorted(reasons.items(), key=lambda item: (-item[1][0], item[0]))
    return DaySummary(
        granted=decisions[Decision.GRANTED],
        denied=decisions[Decision.DENIED],
        manual=manual,
        waiting=decisions[Decision.MANUAL_CHECK],
        median_decision_ms=statistics.median(times) if times else None,
        median_guard_s=statistics.median(guard_waits) if guard_waits else None,
        per_hour=tuple(hours),
        denial_reasons=tuple(ReasonCount(code, n, r.zh, r.en) for code, (n, r) in counted),
    )


@dataclass(frozen=True)
class CallSummary:
    """A connection's calls in a recent window: how many, how many failed, and the
    newest failure."""

    calls: int = 0
    failed: int = 0
    last_failure_at: datetime | None = None
    last_failure: str = ""

    @property
    def healthy(self) -> bool | None:
        """``None`` without calls to judge by; else whether most recent calls worked."""
        if not self.calls:
            return None
        return self.failed * 2 < self.calls


@dataclass(frozen=True)
class PendingCheck:
    """An entry waiting for a guard, as the guard's queue shows it: the rider's masked
    identity, the platform, the orders and why the hub could not decide."""

    entry_id: str
    community_id: str
    gate_id: str
    gate_name: str
    connection_id: str
    platform: str
    created_at: datetime
    masked_name: str = ""
    masked_phone: str = ""
    order_refs: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = field(default=())
