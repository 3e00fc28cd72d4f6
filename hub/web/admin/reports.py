"""The console's reports: entries per community, platform connection and month — each
community's months in its own timezone — with each month's totals, as a page and as a
CSV file for spreadsheets.

Operators see every community, managers their own (asking for another community answers
404); guards work the guard queue instead (403 here). The figures come from
:meth:`hub.core.store.Store.monthly_report` and :func:`hub.core.reports.summarise_months`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template, request, url_for
from flask_babel import gettext as _

from hub.core.model import Community, Connection
from hub.core.reports import MonthReport, MonthRow, month_key, months_between, summarise_months
from hub.web.admin import bp, error_page
from hub.web.admin.auth import login_required, require_community, visible_communities
from hub.web.admin.dates import shared_timezone
from hub.web.admin.entries import READERS, _may_be_platform
from hub.web.context import runtime_of
from hub.web.i18n import language

#: Months shown when the page is opened without a range: these many up to this month.
DEFAULT_MONTHS = 6
#: The longest range a report covers.
MAX_MONTHS = 24
#: The CSV file's columns: stable ids, in English whatever the page's language.
CSV_COLUMNS = (
    "month",
    "community_id",
    "community",
    "connection_id",
    "platform",
    "entries",
    "granted",
    "denied",
    "manual",
    "guard_approved",
    "guard_denied",
    "median_decision_ms",
    "p95_decision_ms",
    "top_denial_reason",
)
#: A cell starting with one of these is a formula to a spreadsheet (and tab and carriage
#: return can hide one): such text is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class BadSelection(Exception):
    """A filter of the report that cannot be used; its message is shown on the 400 page."""


@dataclass(frozen=True)
class Selection:
    """What a report covers: communities (the user's, or the one chosen), an optional
    platform connection, and the months from ``first`` to ``last``."""

    community_id: str | None
    communities: list[Community]
    visible: list[Community]
    platforms: list[Connection]
    connection_id: str | None
    first: date
    last: date

    @property
    def filters(self) -> dict[str, str]:
        """The query arguments that select this report again."""
        chosen = {"community": self.community_id or "", "platform": self.connection_id or ""}
        return {**{k: v for k, v in chosen.items() if v}, "from": month_key(self.first), "to": month_key(self.last)}


def _month(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    match = _MONTH.fullmatch(value)
    # Years a timezone can convert without overflowing, and that a person could mean.
    if match is None or not 1970 <= int(match[1]) <= 9998 or not 1 <= int(match[2]) <= 12:
        raise BadSelection(_("“%(name)s” must be a month written YYYY-MM, like 2026-01.", name=name))
    return date(int(match[1]), int(match[2]), 1)


def _months_before(month: date, count: int) -> date:
    """The month ``count`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _selection() -> Selection:
    """The report the query arguments ask for.

    :raises BadSelection: a malformed month, a range backwards or too long, an unknown
        platform.
    :raises werkzeug.exceptions.NotFound: a community that is not the user's.
    """
    rt = runtime_of()
    visible = visible_communities()
    community_id = request.args.get("community") or None
    communities = [require_community(community_id)] if community_id else visible
    # "This month" in the zone the page's communities share (as the entries page's days).
    timezone = communities[0].timezone if community_id else shared_timezone(visible)
    this_month = rt.clock.now().astimezone(ZoneInfo(timezone)).date().replace(day=1)
    first, last = _month("from"), _month("to")
    if last is None:
        last = this_month if first is None or first <= this_month else first
    if first is None:
        first = _months_before(last, DEFAULT_MONTHS - 1)
    if first > last:
        raise BadSelection(_("The first month must not be after the last one."))
    if len(months_between(first, last)) > MAX_MONTHS:
        raise BadSelection(_("A report covers at most %(n)s months.", n=MAX_MONTHS))
    linked = {conn.id: conn for c in communities for conn in rt.store.connections_for_community(c.id)}
    platforms = sorted((conn for conn in linked.values() if _may_be_platform(conn)), key=lambda c: (c.name, c.id))
    connection_id = request.args.get("platform") or None
    if connection_id is not None and connection_id not in {conn.id for conn in platforms}:
        raise BadSelection(_("There is no such platform at the communities of this report."))
    return Selection(community_id, communities, visible, platforms, connection_id, first, last)


def _report(selection: Selection) -> list[MonthReport]:
    facts = runtime_of().store.monthly_report(
        {c.id: c.timezone for c in selection.communities},
        selection.first,
        selection.last,
        connection_id=selection.connection_id,
    )
    return summarise_months(facts, months_between(selection.first, selection.last))


def _names() -> tuple[dict[str, str], dict[str, str]]:
    """Community and connection names by id (a connection no longer linked to a
    community still names its old entries)."""
    store = runtime_of().store
    return {c.id: c.name for c in store.list_communities()}, {c.id: c.name for c in store.list_connections()}


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


@bp.get("/reports")
@login_required(*READERS)
def reports() -> Any:
    try:
        selection = _selection()
    except BadSelection as exc:
        return error_page(400, str(exc))
    communities, connections = _names()
    months = _report(selection)

    def by_name(row: MonthRow) -> tuple[str, str]:
        # The core orders rows by id; people read names.
        return communities.get(row.community_id or "", ""), connections.get(row.connection_id or "", "")

    ordered = [(month, sorted(month.rows, key=by_name)) for month in months]
    zh = language() == "zh"
    return render_template(
        "admin/reports.html",
        months=ordered,
        selection=selection,
        filters=selection.filters,
        community_names=communities,
        connection_names=connections,
        reason_text=lambda reason: reason.zh if zh else reason.en,
        ms=_ms,
        zones=sorted({c.timezone for c in selection.communities}),
        max_months=MAX_MONTHS,
        csv_url=url_for("admin.reports_csv", **selection.filters),
    )


def spreadsheet_text(value: str) -> str:
    """``value`` safe to open in a spreadsheet: text that would start a formula gets a
    leading apostrophe (OWASP's advice on CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _number(value: float | None) -> str:
    return "" if value is None else str(round(value, 3))


def csv_row(row: MonthRow, communities: dict[str, str], connections: dict[str, str]) -> list[str | int]:
    """A row of the report as the CSV file's cells (see :data:`CSV_COLUMNS`)."""
    community_id, connection_id = row.community_id or "", row.connection_id or ""
    text = [
        community_id,
        communities.get(community_id, community_id),
        connection_id,
        connections.get(connection_id, connection_id),
    ]
    return [
        row.month,
        *(spreadsheet_text(cell) for cell in text),
        row.entries,
        row.granted,
        row.denied,
        row.manual,
        row.guard_granted,
        row.guard_denied,
        _number(row.median_decision_ms),
        _number(row.p95_decision_ms),
        spreadsheet_text(row.top_denial_reason.code) if row.top_denial_reason else "",
    ]


@bp.get("/reports.csv")
@login_required(*READERS)
def reports_csv() -> Any:
    try:
        selection = _selection()
    except BadSelection as exc:
        return error_page(400, str(exc))
    communities, connections = _names()
    out = io.StringIO()
    # Excel reads a file as UTF-8 (and the communities' Chinese names right) only after a BOM.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for month in _report(selection):
        for row in month.rows:
            writer.writerow(csv_row(row, communities, connections))
    name = f"last100-report-{month_key(selection.first)}-{month_key(selection.last)}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
