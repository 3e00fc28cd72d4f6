"""Dates on the console's pages: filters typed as local calendar days, times shown in
one named time zone.

A community's entries are filtered and shown in the community's own time zone. When a
page spans several communities, it uses the zone they share, or the hub's default
(Asia/Shanghai) when they differ, and says which on the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from werkzeug.exceptions import BadRequest

from hub.core.model import Community

DEFAULT_TIMEZONE = "Asia/Shanghai"


def shared_timezone(communities: Iterable[Community]) -> str:
    """The time zone every one of ``communities`` is in, else the default."""
    zones = {c.timezone for c in communities}
    return zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE


def parse_day(value: str | None, field: str) -> date | None:
    """A ``YYYY-MM-DD`` query argument; ``None`` when empty.

    :raises BadRequest: anything else (400).
    """
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field} must be a date (YYYY-MM-DD)") from None


def day_range(first: date | None, last: date | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    """The half-open UTC interval from the start of local day ``first`` to the end of
    local day ``last`` (both included) in ``timezone``; an open end is ``None``."""
    zone = ZoneInfo(timezone)
    since = datetime.combine(first, time.min, zone) if first is not None else None
    until = datetime.combine(last + timedelta(days=1), time.min, zone) if last is not None else None
    return since, until


def local(moment: datetime | None, timezone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``moment`` as wall-clock time in ``timezone``; empty for ``None``."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt) if moment is not None else ""
