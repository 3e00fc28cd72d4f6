"""The store's monthly report on SQLite and PostgreSQL: entries counted by month (in each
community's own timezone), community and connection, manual checks decided by guards,
the times to a decision at the ranks the percentiles need, and denied entries' reasons."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.core.model import Community, Connection, Decision, Gate, Reason
from hub.core.reports import MonthGroup, local_month, percentile, summarise_months
from tests.storage.builders import make_entry, save

SHANGHAI = "Asia/Shanghai"
NO_ORDER = Reason("no_active_order", "未找到订单", "No order for this community")
TOO_FAST = Reason("too_many_entries", "进门次数过多", "Too many entries")
ONE_MS = timedelta(milliseconds=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def two(seeded):
    """``c1`` (Asia/Shanghai: ``plat`` and ``gatectl``) and ``c2`` (UTC: ``plat2``)."""
    seeded.add_community(Community("c2", "River Bank", timezone="UTC"))
    seeded.add_connection(Connection("plat2", "other", "Other platform"), (), ["c1", "c2"])
    seeded.add_gate(Gate("g9", "c2", "South gate", "south", "1", None))
    return seeded


def add(store, entry_id: str, at: datetime, decision=Decision.GRANTED, ms: float = 10.0, **overrides):
    values = {"id": entry_id, "created_at": at, "decision": decision, "decision_ms": ms}
    if decision is Decision.DENIED:
        values["reasons"] = (NO_ORDER,)
    if decision is not Decision.GRANTED:
        values["access_pass"] = None
    if overrides.get("community_id") == "c2":
        values["gate_id"] = "g9"
    return save(store, make_entry(**{**values, **overrides}))


def by_key(facts) -> dict[tuple[str, str, str], MonthGroup]:
    return {(g.month, g.community_id, g.connection_id): g for g in facts.groups}


def counts(group: MonthGroup) -> tuple[int, ...]:
    return (group.entries, group.granted, group.denied, group.waiting, group.guard_granted, group.guard_denied)


def test_a_shanghai_month_runs_from_midnight_on_its_first_day(two):
    # 2025-12-31 23:59:59.999 and 2026-01-01 00:00 in Shanghai, and the same at the end of January.
    add(two, "dec-last", utc(2025, 12, 31, 16) - ONE_MS)
    add(two, "jan-first", utc(2025, 12, 31, 16))
    add(two, "jan-last", utc(2026, 1, 31, 16) - ONE_MS)
    add(two, "feb-first", utc(2026, 1, 31, 16))
    add(two, "before", utc(2025, 11, 30, 16) - ONE_MS)  # 30 November, local: outside
    add(two, "after", utc(2026, 2, 28, 16))  # 1 March, local: outside

    facts = two.monthly_report({"c1": SHANGHAI}, date(2025, 12, 1), date(2026, 2, 1))

    assert {key: g.entries for key, g in by_key(facts).items()} == {
        ("2025-12", "c1", "plat"): 1,
        ("2026-01", "c1", "plat"): 2,
        ("2026-02", "c1", "plat"): 1,
    }
    assert local_month(date(2026, 1, 1), SHANGHAI) == (utc(2025, 12, 31, 16), utc(2026, 1, 31, 16))


def test_each_community_counts_in_its_own_timezone(two):
    # 20:00 UTC on 31 December is 04:00 on 1 January in Shanghai, still December in UTC.
    add(two, "sh", utc(2025, 12, 31, 20))
    add(two, "utc", utc(2025, 12, 31, 20), community_id="c2", connection_id="plat2")
    add(two, "utc-new-year", utc(2026, 1, 1, 0), community_id="c2", connection_id="plat2")

    facts = two.monthly_report({"c1": SHANGHAI, "c2": "UTC"}, date(2025, 12, 1), date(2026, 1, 1))

    assert {key: g.entries for key, g in by_key(facts).items()} == {
        ("2026-01", "c1", "plat"): 1,
        ("2025-12", "c2", "plat2"): 1,
        ("2026-01", "c2", "plat2"): 1,
    }


def test_only_the_communities_and_connection_asked_for_are_read(two):
    add(two, "a", utc(2026, 1, 2, 4))
    add(two, "b", utc(2026, 1, 2, 4), connection_id="plat2")
    add(two, "c", utc(2026, 1, 2, 4), community_id="c2", connection_id="plat2")
    january = (date(2026, 1, 1), date(2026, 1, 1))

    mine = two.monthly_report({"c1": SHANGHAI}, *january)
    through_plat2 = two.monthly_report({"c1": SHANGHAI, "c2": "UTC"}, *january, connection_id="plat2")

    assert set(by_key(mine)) == {("2026-01", "c1", "plat"), ("2026-01", "c1", "plat2")}
    assert set(by_key(through_plat2)) == {("2026-01", "c1", "plat2"), ("2026-01", "c2", "plat2")}
    assert two.monthly_report({}, *january).groups == ()


def test_decisions_and_manual_checks_decided_by_guards_are_counted(two, clock):
    day = utc(2026, 1, 5, 2)
    add(two, "g-1", day)
    add(two, "g-2", day)
    add(two, "d-1", day, Decision.DENIED)
    add(two, "m-wait", day, Decision.MANUAL_CHECK)
    add(two, "m-let-in", day, Decision.MANUAL_CHECK)
    add(two, "m-turned-away", day, Decision.MANUAL_CHECK)
    add(two, "m-other", day, Decision.MANUAL_CHECK, community_id="c2", connection_id="plat2")
    clock.advance(minutes=5)
    two.record_guard_decision("m-let-in", Decision.GRANTED, "user:gus")
    two.record_guard_decision("m-turned-away", Decision.DENIED, "user:gus", reason="no helmet")
    two.record_guard_decision("m-other", Decision.GRANTED, "user:rita")

    facts = two.monthly_report({"c1": SHANGHAI}, date(2026, 1, 1), date(2026, 1, 1))

    # entries, granted, denied, still waiting, let in by a guard, turned away by a guard
    assert [counts(g) for g in facts.groups] == [(6, 3, 2, 1, 1, 1)]
    [row] = summarise_months(facts, [date(2026, 1, 1)])[0].rows
    assert (row.manual, row.guard_granted, row.guard_denied) == (3, 1, 1)


def test_a_guard_decision_counts_only_for_its_own_entry(two, clock):
    # Decided in January, but the entry is December's: outside the range.
    add(two, "early", utc(2025, 12, 20, 2), Decision.MANUAL_CHECK)
    two.record_guard_decision("early", Decision.GRANTED, "user:gus")
    add(two, "later", utc(2026, 1, 10, 2), Decision.GRANTED)

    facts = two.monthly_report({"c1": SHANGHAI}, date(2026, 1, 1), date(2026, 1, 1))

    assert [counts(g) for g in facts.groups] == [(1, 1, 0, 0, 0, 0)]


@pytest.mark.parametrize("size", [1, 2, 5, 20, 101])
def test_the_percentiles_match_the_statistics_module(two, size):
    times = [float((n * 37) % 50 + (n % 3) * 0.25) for n in range(size)]  # with ties
    for n, ms in enumerate(times):
        add(two, f"e{n:03d}", utc(2026, 1, 3, 2) + timedelta(seconds=n), ms=ms)

    facts = two.monthly_report({"c1": SHANGHAI}, date(2026, 1, 1), date(2026, 1, 1))

    [group] = facts.groups
    assert group.times.count == size
    assert len(group.times.by_rank) <= 4, "only the ranks the percentiles need are read"
    assert percentile(group.times, 50) == pytest.approx(statistics.median(times))
    p95 = statistics.quantiles(times, n=20, method="inclusive")[18] if size > 1 else times[0]
    assert percentile(group.times, 95) == pytest.approx(p95)


def test_a_months_totals_have_percentiles_across_every_group(two):
    plat = [10.0, 20.0, 30.0]
    plat2 = [5.0, 100.0]
    for n, ms in enumerate(plat):
        add(two, f"p{n}", utc(2026, 1, 3, 2), ms=ms)
    for n, ms in enumerate(plat2):
        add(two, f"q{n}", utc(2026, 1, 3, 2), ms=ms, community_id="c2", connection_id="plat2")
    add(two, "feb", utc(2026, 2, 3, 2), ms=7.0)

    facts = two.monthly_report({"c1": SHANGHAI, "c2": "UTC"}, date(2026, 1, 1), date(2026, 2, 1))
    january, february = summarise_months(facts, [date(2026, 1, 1), date(2026, 2, 1)])

    assert [(r.community_id, r.median_decision_ms) for r in january.rows] == [("c1", 20.0), ("c2", 52.5)]
    assert january.total.entries == 5
    assert january.total.median_decision_ms == 20.0
    assert january.total.p95_decision_ms == pytest.approx(
        statistics.quantiles(plat + plat2, n=20, method="inclusive")[18]
    )
    assert (february.total.entries, february.total.median_decision_ms) == (1, 7.0)


def test_denied_entries_bring_their_reasons(two, clock):
    day = utc(2026, 1, 5, 2)
    add(two, "d1", day, Decision.DENIED)
    add(two, "d2", day, Decision.DENIED, reasons=(TOO_FAST,))
    add(two, "d3", day, Decision.DENIED, reasons=(TOO_FAST,))
    add(two, "m1", day, Decision.MANUAL_CHECK)
    clock.advance(minutes=1)
    two.record_guard_decision("m1", Decision.DENIED, "user:gus", reason="no helmet")

    facts = two.monthly_report({"c1": SHANGHAI}, date(2026, 1, 1), date(2026, 1, 1))

    [group] = facts.groups
    assert sorted(r.code for reasons in group.denials for r in reasons) == [
        "guard_denied",
        "no_active_order",
        "too_many_entries",
        "too_many_entries",
    ]
    [report] = summarise_months(facts, [date(2026, 1, 1)])
    assert (report.rows[0].top_denial_reason.code, report.rows[0].top_denial_reason.count) == ("too_many_entries", 2)
    assert report.total.top_denial_reason.zh == "进门次数过多"


def test_a_month_without_entries_has_zero_totals(two):
    facts = two.monthly_report({"c1": SHANGHAI}, date(2026, 3, 1), date(2026, 4, 1))

    reports = summarise_months(facts, [date(2026, 3, 1), date(2026, 4, 1)])

    assert [(r.month, r.rows, r.total.entries, r.total.median_decision_ms) for r in reports] == [
        ("2026-03", (), 0, None),
        ("2026-04", (), 0, None),
    ]
