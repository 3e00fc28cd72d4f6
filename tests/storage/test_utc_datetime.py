"""UTCDateTime: aware UTC in, aware UTC out, on both backends; naive values refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from hub.core.db import JobRunRow, UTCDateTime
from tests.storage.builders import make_order

SHANGHAI = timezone(timedelta(hours=8))


def test_aware_datetimes_read_back_as_the_same_instant_in_utc(store):
    started = datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=SHANGHAI)
    with store.transaction() as session:
        session.add(JobRunRow(job_id="j", started_at=started, items=0, errors=0))

    with store.transaction() as session:
        stored = session.scalar(select(JobRunRow.started_at))

    assert stored == started
    assert stored.tzinfo is UTC
    assert stored.hour == 4 and stored.microsecond == 123456


def test_comparisons_follow_time_order_across_time_zones(store):
    with store.transaction() as session:
        session.add(JobRunRow(job_id="j", started_at=datetime(2026, 1, 5, 4, 0, tzinfo=UTC), items=0, errors=0))

    with store.transaction() as session:
        # 11:30 in Shanghai is 03:30 UTC: before the stored instant.
        after = session.scalars(
            select(JobRunRow.job_id).where(JobRunRow.started_at > datetime(2026, 1, 5, 11, 30, tzinfo=SHANGHAI))
        ).all()

    assert after == ["j"]


def test_a_naive_datetime_is_refused_by_the_column_type():
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        with pytest.raises(ValueError, match="naive datetime"):
            UTCDateTime().process_bind_param(datetime(2026, 1, 5, 12, 0), dialect)


def test_the_store_refuses_a_naive_datetime_with_a_value_error(seeded):
    with pytest.raises(ValueError, match="naive datetime"):
        seeded.upsert_order("plat", make_order(updated_at=datetime(2026, 1, 5, 12, 0)), "push")
    with pytest.raises(ValueError, match="naive datetime"):
        seeded.fresh_orders("plat", datetime(2026, 1, 5, 12, 0), rider_ref="R1")
