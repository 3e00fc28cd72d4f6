"""Read-only views of stored entries for the console: the figures of a community's day,
the health of its connections as the day's calls show it, a guard's queue of manual
checks, and the monthly report by community, platform connection and month.
:class:`~hub.core.store.Store` reads the rows; the arithmetic is here."""

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
    denials: list[tuple[Reason, ...]] = []
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
            denials.append(fact.reasons)
    return DaySummary(
        granted=decisions[Decision.GRANTED],
        denied=decisions[Decision.DENIED],
        manual=manual,
        waiting=decisions[Decision.MANUAL_CHECK],
        median_decision_ms=statistics.median(times) if times else None,
        median_guard_s=statistics.median(guard_waits) if guard_waits else None,
        per_hour=tuple(hours),
        denial_reasons=count_reasons(denials),
    )


def count_reasons(reason_lists: Iterable[Iterable[Reason]]) -> tuple[ReasonCount, ...]:
    """How often each reason code was given in ``reason_lists`` (the reasons of denied
    entries), most frequent first, then by code. Each code is shown with its plainest
    text: a guard's reason carries their words, and the shortest text is the plain one."""
    reasons: dict[str, list] = {}
    for given in reason_lists:
        for reason in given:
            seen = reasons.setdefault(reason.code, [0, reason])
            seen[0] += 1
            if len(reason.en) < len(seen[1].en):
                seen[1] = reason
    counted = sorted(reasons.items(), key=lambda item: (-item[1][0], item[0]))
    return tuple(ReasonCount(code, n, r.zh, r.en) for code, (n, r) in counted)


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


# -- the monthly report ----------------------------------------------------------------

#: The percentiles of the time to a decision the monthly report shows (the median and
#: the 95th percentile).
PERCENTILES = (50, 95)


def months_between(first: date, last: date) -> list[date]:
    """The months from the month of ``first`` to the month of ``last``, both included,
    each as its first day; empty when ``last`` is in an earlier month."""
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def month_key(month: date) -> str:
    """How reports name a month: ``YYYY-MM``."""
    return f"{month.year:04d}-{month.month:02d}"


def local_month(month: date, timezone: str) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of the calendar month of ``month`` in a timezone:
    midnight on its first day to midnight on the next month's first day."""
    start = month.replace(day=1)
    following = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    zone = ZoneInfo(timezone)
    return datetime.combine(start, time(0), tzinfo=zone), datetime.combine(following, time(0), tzinfo=zone)


def percentile_ranks(count: int, q: int) -> tuple[int, int]:
    """The ranks (1 for the smallest) of the two of ``count`` sorted values the ``q``-th
    percentile lies between. Linear interpolation between the closest ranks, as
    ``statistics.quantiles(method="inclusive")`` and ``statistics.median`` compute it.

    :meth:`hub.core.store.Store.monthly_report` picks these ranks in SQL with the same
    integer arithmetic, so only the values needed leave the database.
    """
    low = (count - 1) * q // 100 + 1
    return low, min(low + 1, count)


@dataclass(frozen=True)
class RankedTimes:
    """Of ``count`` times to a decision (in ms), the ones at the ranks the
    :data:`PERCENTILES` need (see :func:`percentile_ranks`), by rank."""

    count: int = 0
    by_rank: Mapping[int, float] = field(default_factory=dict)


def percentile(times: RankedTimes, q: int) -> float | None:
    """The ``q``-th percentile of ``times``; ``None`` when there are none."""
    if not times.count:
        return None
    low, high = percentile_ranks(times.count, q)
    fraction = (times.count - 1) * q % 100 / 100
    return times.by_rank[low] + (times.by_rank[high] - times.by_rank[low]) * fraction


@dataclass(frozen=True)
class MonthGroup:
    """One community's entries through one platform connection in one month, as the
    store counts them. ``waiting`` entries still wait for a guard; ``guard_granted``
    and ``guard_denied`` were manual checks a guard decided (also counted in
    ``granted`` and ``denied``). ``denials`` holds the reasons of each denied entry."""

    month: str
    community_id: str
    connection_id: str
    entries: int = 0
    granted: int = 0
    denied: int = 0
    waiting: int = 0
    guard_granted: int = 0
    guard_denied: int = 0
    times: RankedTimes = field(default_factory=RankedTimes)
    denials: tuple[tuple[Reason, ...], ...] = ()


@dataclass(frozen=True)
class MonthlyFacts:
    """What :meth:`hub.core.store.Store.monthly_report` reads: the groups, and per month
    the times to a decision across all of them (for the month's totals)."""

    groups: tuple[MonthGroup, ...] = ()
    month_times: Mapping[str, RankedTimes] = field(default_factory=dict)


@dataclass(frozen=True)
class MonthRow:
    """A row of the monthly report: one community and platform connection in one month,
    or (``community_id`` and ``connection_id`` ``None``) the month's totals. ``manual``
    counts the entries that needed a guard: those still waiting and those a guard
    decided (``guard_granted``, ``guard_denied``)."""

    month: str
    community_id: str | None
    connection_id: str | None
    entries: int
    granted: int
    denied: int
    manual: int
    guard_granted: int
    guard_denied: int
    median_decision_ms: float | None
    p95_decision_ms: float | None
    top_denial_reason: ReasonCount | None

    @property
    def is_total(self) -> bool:
        return self.community_id is None


@dataclass(frozen=True)
class MonthReport:
    """A month of the report: its rows (by community, then connection id) and totals."""

    month: str
    rows: tuple[MonthRow, ...]
    total: MonthRow


def _month_row(
    month: str,
    community_id: str | None,
    connection_id: str | None,
    groups: list[MonthGroup],
    times: RankedTimes,
) -> MonthRow:
    top = count_reasons(reasons for group in groups for reasons in group.denials)
    waiting = sum(g.waiting for g in groups)
    guard_granted = sum(g.guard_granted for g in groups)
    guard_denied = sum(g.guard_denied for g in groups)
    return MonthRow(
        month=month,
        community_id=community_id,
        connection_id=connection_id,
        entries=sum(g.entries for g in groups),
        granted=sum(g.granted for g in groups),
        denied=sum(g.denied for g in groups),
        manual=waiting + guard_granted + guard_denied,
        guard_granted=guard_granted,
        guard_denied=guard_denied,
        median_decision_ms=percentile(times, 50),
        p95_decision_ms=percentile(times, 95),
        top_denial_reason=top[0] if top else None,
    )


def summarise_months(facts: MonthlyFacts, months: Iterable[date]) -> list[MonthReport]:
    """The monthly report of ``facts``: every one of ``months`` (oldest first), with a
    row per community and connection that had entries, and the month's totals (zero
    for a month without entries)."""
    reports = []
    for month in months:
        key = month_key(month)
        groups = sorted((g for g in facts.groups if g.month == key), key=lambda g: (g.community_id, g.connection_id))
        rows = tuple(_month_row(key, g.community_id, g.connection_id, [g], g.times) for g in groups)
        total = _month_row(key, None, None, groups, facts.month_times.get(key, RankedTimes()))
        reports.append(MonthReport(key, rows, total))
    return reports
