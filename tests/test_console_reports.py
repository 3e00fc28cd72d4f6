"""The console's reports for every role: entries per community, platform connection and
month (in each community's timezone) with the month's totals, the filters and their
validation, a manager's scope, and the CSV export (with its guard against formulas)."""

from __future__ import annotations

import csv
import io
import re
import statistics
from datetime import UTC, date, datetime
from html import unescape

import pytest

from hub.core.model import Community, Connection, Decision, Gate, Reason
from hub.core.reports import (
    RankedTimes,
    count_reasons,
    local_month,
    months_between,
    percentile,
    percentile_ranks,
)
from hub.web.admin.reports import CSV_COLUMNS, spreadsheet_text
from tests.console_world import build_console_world
from tests.storage.builders import make_entry, save

NO_ORDER = Reason("no_active_order", "未找到订单", "No order for this community")
DEFAULT_MONTHS = ["2025-08", "2025-09", "2025-10", "2025-11", "2025-12", "2026-01"]


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    # A second platform serves Sunny Garden (c1) too.
    world.store.link_connection("c1", "plat2")
    yield world
    world.close()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def entry(store, entry_id: str, at: datetime, decision=Decision.GRANTED, ms: float = 10, **overrides):
    values = {"id": entry_id, "created_at": at, "decision": decision, "decision_ms": ms, "reasons": ()}
    if decision is Decision.DENIED:
        values["reasons"] = (NO_ORDER,)
    if decision is not Decision.GRANTED:
        values["access_pass"] = None
    if overrides.get("community_id") == "c2":
        values.update(gate_id="g9", connection_id="plat2", access_pass=None)
    return save(store, make_entry(**{**values, **overrides}), orders=[])


@pytest.fixture
def months(cw):
    """The clock says 12:00 on 5 January 2026 in Shanghai, where both communities are."""
    store = cw.store
    entry(store, "dec-late", utc(2025, 12, 31, 15, 59), ms=10)  # 23:59 on 31 December, local
    entry(store, "jan-early", utc(2025, 12, 31, 16, 0), ms=20)  # 00:00 on 1 January, local
    entry(store, "jan-denied", utc(2026, 1, 2, 3), Decision.DENIED, ms=40)
    entry(store, "jan-denied-2", utc(2026, 1, 2, 4), Decision.DENIED, ms=45)
    entry(store, "jan-let-in", utc(2026, 1, 3, 3), Decision.MANUAL_CHECK, ms=30)
    entry(store, "jan-turned-away", utc(2026, 1, 3, 4), Decision.MANUAL_CHECK, ms=50)
    entry(store, "jan-waiting", utc(2026, 1, 5, 3), Decision.MANUAL_CHECK, ms=60)
    entry(store, "jan-plat2", utc(2026, 1, 4, 3), ms=5, connection_id="plat2", access_pass=None)
    entry(store, "c2-jan", utc(2026, 1, 4, 3), ms=7, community_id="c2")
    entry(store, "c2-oct", utc(2025, 10, 10, 3), Decision.DENIED, ms=9, community_id="c2")
    store.record_guard_decision("jan-let-in", Decision.GRANTED, "user:gus")
    store.record_guard_decision("jan-turned-away", Decision.DENIED, "user:gus", reason="no helmet")


def html_of(reply) -> str:
    return unescape(reply.get_data(as_text=True))


def table(html: str) -> dict[tuple[str, ...], dict[str, str]]:
    """The report's rows by (month, community, connection), totals by (month, "total"):
    each a dict of the figures (the top reason's code only)."""
    found = {}
    for month, body in re.findall(r'<tbody data-month="([^"]+)">(.*?)</tbody>', html, re.S):
        for attrs, cells in re.findall(r"<tr ([^>]*)>(.*?)</tr>", body, re.S):
            ids = tuple(re.findall(r'data-(?:community|connection)="([^"]*)"', attrs))
            key = (month, "total") if "data-total" in attrs else (month, *ids)
            figures = dict(re.findall(r'data-col="(\w+)">(.*?)</td>', cells, re.S))
            code = re.search(r'<small class="mono">(\w+)</small>', figures["top_denial_reason"])
            figures["top_denial_reason"] = code[1] if code else ""
            found[key] = figures
    return found


def numbers(figures: dict[str, str]) -> tuple[str, ...]:
    return tuple(figures[c] for c in ("entries", "granted", "denied", "manual", "guard_approved", "guard_denied"))


def csv_of(reply) -> list[dict[str, str]]:
    text = reply.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


# -- the arithmetic, in the core -----------------------------------------------------------


def test_months_run_across_the_turn_of_the_year():
    assert months_between(date(2025, 11, 20), date(2026, 2, 3)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert months_between(date(2026, 2, 1), date(2026, 1, 1)) == []


def test_a_month_in_shanghai_starts_at_midnight_local_time():
    assert local_month(date(2026, 2, 14), "Asia/Shanghai") == (utc(2026, 1, 31, 16), utc(2026, 2, 28, 16))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 20, 21])
def test_percentiles_interpolate_like_the_statistics_module(size):
    values = sorted(float(n * n % 17) for n in range(size))
    times = RankedTimes(size, {rank: value for rank, value in enumerate(values, start=1)})

    assert percentile(times, 50) == pytest.approx(statistics.median(values))
    if size > 1:
        assert percentile(times, 95) == pytest.approx(statistics.quantiles(values, n=20, method="inclusive")[18])
    assert {r for q in (50, 95) for r in percentile_ranks(size, q)} <= set(times.by_rank)


def test_no_times_have_no_percentile():
    assert percentile(RankedTimes(), 50) is None


def test_reasons_are_counted_most_frequent_first_with_their_plain_text():
    guard = Reason("guard_denied", "门岗未予放行：没戴头盔", "The guard did not let you in: no helmet")
    plain = Reason("guard_denied", "门岗未予放行", "The guard did not let you in")

    counted = count_reasons([(guard,), (NO_ORDER,), (plain,)])

    assert [(r.code, r.count, r.en) for r in counted] == [
        ("guard_denied", 2, "The guard did not let you in"),
        ("no_active_order", 1, "No order for this community"),
    ]


# -- the page ------------------------------------------------------------------------------


def test_a_manager_sees_their_communitys_months_by_platform_with_totals(cw, months):
    reply = cw.sign_in("anna").get("/admin/reports")

    assert reply.status_code == 200
    rows = table(html_of(reply))
    # By month, then by the names: "Fake platform" (plat) before "Second platform" (plat2).
    assert [key for key in rows if key[1] != "total"] == [
        ("2025-12", "c1", "plat"),
        ("2026-01", "c1", "plat"),
        ("2026-01", "c1", "plat2"),
    ]
    # entries, granted, denied, manual checks, let in by a guard, turned away by a guard
    assert numbers(rows["2025-12", "c1", "plat"]) == ("1", "1", "0", "0", "0", "0")
    january = rows["2026-01", "c1", "plat"]
    assert numbers(january) == ("6", "2", "3", "3", "1", "1")
    assert (january["median_decision_ms"], january["p95_decision_ms"]) == ("42", "58")  # 42.5 and 57.5
    assert january["top_denial_reason"] == "no_active_order"
    assert numbers(rows["2026-01", "total"]) == ("7", "3", "3", "3", "1", "1")
    assert (rows["2026-01", "total"]["median_decision_ms"], rows["2026-01", "total"]["p95_decision_ms"]) == ("40", "57")
    assert not any(key[1] == "c2" for key in rows)


def test_every_month_of_the_range_has_a_totals_row(cw, months):
    rows = table(html_of(cw.sign_in("anna").get("/admin/reports")))

    assert [key[0] for key in rows if key[1] == "total"] == DEFAULT_MONTHS
    assert numbers(rows["2025-09", "total"]) == ("0",) * 6
    assert rows["2025-09", "total"]["median_decision_ms"] == "–"


def test_an_operator_sees_every_community_or_one(cw, months):
    olga = cw.sign_in("olga")

    every = table(html_of(olga.get("/admin/reports")))
    one = table(html_of(olga.get("/admin/reports?community=c2")))

    assert {key for key in every if key[1] == "c2"} == {("2025-10", "c2", "plat2"), ("2026-01", "c2", "plat2")}
    assert numbers(every["2026-01", "total"])[0] == "8"
    assert {key for key in one if key[1] != "total"} == {("2025-10", "c2", "plat2"), ("2026-01", "c2", "plat2")}
    assert numbers(one["2025-10", "total"]) == ("1", "0", "1", "0", "0", "0")


def test_another_manager_sees_only_their_own(cw, months):
    rows = table(html_of(cw.sign_in("bert").get("/admin/reports")))

    assert {key for key in rows if key[1] != "total"} == {("2025-10", "c2", "plat2"), ("2026-01", "c2", "plat2")}


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports.csv"])
@pytest.mark.parametrize("community", ["c2", "nope"])
def test_another_communitys_report_answers_404(cw, months, path, community):
    reply = cw.sign_in("anna").get(f"{path}?community={community}")

    assert reply.status_code == 404
    assert "River Bank" not in reply.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports.csv"])
def test_guards_may_not_open_reports(cw, path):
    assert cw.sign_in("gus").get(path).status_code == 403


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports.csv"])
def test_reports_need_a_sign_in(cw, path):
    reply = cw.client().get(path)

    assert reply.status_code == 302 and reply.headers["Location"].startswith("/admin/login")


def test_a_range_of_months_is_chosen_with_from_and_to(cw, months):
    rows = table(html_of(cw.sign_in("anna").get("/admin/reports?from=2025-12&to=2025-12")))

    assert list(rows) == [("2025-12", "c1", "plat"), ("2025-12", "total")]


def test_only_from_runs_to_this_month_and_only_to_shows_six_months(cw, months):
    anna = cw.sign_in("anna")

    since = table(html_of(anna.get("/admin/reports?from=2025-11")))
    until = table(html_of(anna.get("/admin/reports?to=2025-12")))

    assert [key[0] for key in since if key[1] == "total"] == ["2025-11", "2025-12", "2026-01"]
    assert [key[0] for key in until if key[1] == "total"] == [
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
    ]


def test_this_month_is_the_communitys_own(cw, months):
    # 00:30 on 1 February in Shanghai is still 31 January in UTC.
    cw.clock.advance((utc(2026, 1, 31, 16, 30) - cw.clock.now()).total_seconds())

    rows = table(html_of(cw.sign_in("anna").get("/admin/reports")))

    assert [key[0] for key in rows if key[1] == "total"] == [*DEFAULT_MONTHS[1:], "2026-02"]


def test_a_report_may_cover_24_months(cw, months):
    rows = table(html_of(cw.sign_in("anna").get("/admin/reports?from=2024-02&to=2026-01")))

    assert len([key for key in rows if key[1] == "total"]) == 24


def test_the_platform_filter_keeps_one_connection(cw, months):
    rows = table(html_of(cw.sign_in("anna").get("/admin/reports?platform=plat2")))

    assert [key for key in rows if key[1] != "total"] == [("2026-01", "c1", "plat2")]
    assert numbers(rows["2026-01", "total"]) == ("1", "1", "0", "0", "0", "0")


def test_the_platforms_offered_are_the_communities_platforms(cw, months):
    html = html_of(cw.sign_in("anna").get("/admin/reports"))

    select = re.search(r'<select name="platform">(.*?)</select>', html, re.S)[1]
    # Platforms only (not the gate controllers), by name.
    assert re.findall(r'<option value="(\w+)"', select) == ["plat", "plat2"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13", "“from” must be a month written YYYY-MM"),
        ("to=2026-1", "“to” must be a month written YYYY-MM"),
        ("from=January", "“from” must be a month written YYYY-MM"),
        ("from=0000-01", "“from” must be a month written YYYY-MM"),
        ("from=2026-01-05", "“from” must be a month written YYYY-MM"),
        ("from=２０２６-01", "“from” must be a month written YYYY-MM"),
        ("from=2026-01&to=2025-12", "The first month must not be after the last one."),
        ("from=2024-01&to=2026-01", "A report covers at most 24 months."),
        ("platform=nope", "There is no such platform at the communities of this report."),
        ("platform=door", "There is no such platform at the communities of this report."),
    ],
)
@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports.csv"])
def test_bad_filters_answer_400_saying_why(cw, path, query, message):
    reply = cw.sign_in("anna").get(f"{path}?{query}")

    assert reply.status_code == 400
    assert message in html_of(reply)


def test_another_communitys_platform_is_not_a_filter_for_a_manager(cw):
    cw.store.add_connection(Connection("plat3", "fakeplatform", "Third platform"), (), ["c2"])

    assert cw.sign_in("anna").get("/admin/reports?platform=plat3").status_code == 400
    assert cw.sign_in("bert").get("/admin/reports?platform=plat3").status_code == 200


def test_the_page_speaks_chinese(cw, months):
    html = html_of(cw.sign_in("anna").get("/admin/reports?lang=zh"))

    assert "<title>报表" in html
    headers = re.findall(r"<th(?: class=\"num\")?>([^<]+)</th>", html)
    assert headers[:6] == ["月份", "小区", "平台", "进门记录", "已放行", "已拒绝"]
    assert "门岗放行" in headers and "门岗拒绝" in headers
    assert "未找到订单" in html


def test_managers_and_operators_find_reports_in_the_navigation(cw):
    def links(username: str) -> list[str]:
        html = html_of(cw.sign_in(username).get("/admin/guard"))
        return re.findall(r'<a href="([^"]+)"', re.search(r"<nav[^>]*>(.*?)</nav>", html, re.S)[1])

    assert "/admin/reports" in links("anna") and "/admin/reports" in links("olga")
    assert "/admin/reports" not in links("gus")


def test_the_page_links_to_the_csv_with_the_same_filters(cw, months):
    html = html_of(cw.sign_in("anna").get("/admin/reports?community=c1&platform=plat&from=2025-12&to=2026-01"))

    assert '<a href="/admin/reports.csv?community=c1&platform=plat&from=2025-12&to=2026-01" download>' in html


# -- the CSV file --------------------------------------------------------------------------


def test_the_csv_file_holds_the_rows_with_stable_columns(cw, months):
    reply = cw.sign_in("anna").get("/admin/reports.csv?from=2025-12&to=2026-01")

    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert reply.headers["Content-Disposition"] == 'attachment; filename="last100-report-2025-12-2026-01.csv"'
    text = reply.data.decode("utf-8")
    assert text.splitlines()[0] == "\ufeff" + ",".join(CSV_COLUMNS)
    rows = csv_of(reply)
    assert [(r["month"], r["community_id"], r["connection_id"]) for r in rows] == [
        ("2025-12", "c1", "plat"),
        ("2026-01", "c1", "plat"),
        ("2026-01", "c1", "plat2"),
    ]
    by_key = {(r["month"], r["connection_id"]): r for r in rows}
    assert by_key["2026-01", "plat"] == {
        "month": "2026-01",
        "community_id": "c1",
        "community": "Sunny Garden",
        "connection_id": "plat",
        "platform": "Fake platform",
        "entries": "6",
        "granted": "2",
        "denied": "3",
        "manual": "3",
        "guard_approved": "1",
        "guard_denied": "1",
        "median_decision_ms": "42.5",
        "p95_decision_ms": "57.5",
        "top_denial_reason": "no_active_order",
    }
    assert by_key["2026-01", "plat2"]["platform"] == "Second platform"
    assert (by_key["2025-12", "plat"]["median_decision_ms"], by_key["2025-12", "plat"]["top_denial_reason"]) == (
        "10.0",
        "",
    )


def test_the_csv_file_keeps_chinese_names_and_the_managers_scope(cw, months):
    cw.store.update_community(Community("c2", "河畔花园", timezone="Asia/Shanghai"))

    olga = csv_of(cw.sign_in("olga").get("/admin/reports.csv?community=c2"))
    bert = csv_of(cw.sign_in("bert").get("/admin/reports.csv"))

    assert {r["community"] for r in olga} == {"河畔花园"}
    assert [(r["month"], r["community_id"]) for r in bert] == [("2025-10", "c2"), ("2026-01", "c2")]


def test_the_csv_file_follows_the_platform_filter(cw, months):
    rows = csv_of(cw.sign_in("olga").get("/admin/reports.csv?platform=plat2"))

    assert {(r["community_id"], r["connection_id"]) for r in rows} == {("c1", "plat2"), ("c2", "plat2")}


def test_names_that_spreadsheets_would_run_as_formulas_are_quoted(cw):
    store = cw.store
    store.add_community(Community("c3", '=HYPERLINK("http://evil.example","click")', timezone="Asia/Shanghai"))
    store.add_connection(Connection("plat3", "fakeplatform", "+cmd|' /C calc'!A0"), (), ["c3"])
    store.add_connection(Connection("plat4", "fakeplatform", "@SUM(1+1)"), (), ["c3"])
    store.add_connection(Connection("plat5", "fakeplatform", "-2+3"), (), ["c3"])
    store.add_gate(Gate("g7", "c3", "Gate", "g7-code", "1", None))
    for connection_id in ("plat3", "plat4", "plat5"):
        entry(store, f"x-{connection_id}", utc(2026, 1, 2, 3), community_id="c3", gate_id="g7",
              connection_id=connection_id, access_pass=None)  # fmt: skip

    rows = csv_of(cw.sign_in("olga").get("/admin/reports.csv?community=c3"))

    assert {r["community"] for r in rows} == {'\'=HYPERLINK("http://evil.example","click")'}
    assert sorted(r["platform"] for r in rows) == ["'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(1+1)"]
    assert all(r["entries"] == "1" for r in rows)


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Sunny Garden", "Sunny Garden"),
        ("阳光花园", "阳光花园"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_spreadsheet_text_quotes_only_what_starts_a_formula(text, written):
    assert spreadsheet_text(text) == written
