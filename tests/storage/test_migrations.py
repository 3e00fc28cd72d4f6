"""Migrations: an empty database reaches head, matches the models, and stays put."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from hub.core.db import Base
from hub.core.migrations import head_revision
from hub.core.store import Store
from tests.storage.builders import make_community, row_counts


def test_an_empty_database_has_no_revision(make_store, keys):
    assert make_store(keys).current_revision() is None


def test_upgrade_from_an_empty_database_reaches_head(make_store, keys):
    store = make_store(keys)

    store.upgrade()

    assert store.current_revision() == head_revision() == "0010"


def test_reading_the_revision_often_keeps_the_statement_cache_as_it_is(store):
    """A health check reads it every few seconds: no new cached statement per read."""
    store.current_revision()
    cached = len(store._engine._compiled_cache)
    for _ in range(50):
        assert store.current_revision() == head_revision()
    assert len(store._engine._compiled_cache) == cached


def test_migrated_schema_matches_the_models(store):
    with store.transaction() as session:
        context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_the_schema_comparison_notices_a_missing_index(store):
    # Guards the test above: an empty diff must mean "equal", not "not compared".
    with store.transaction() as session:
        session.execute(text("DROP INDEX ix_audit_log_at"))
        context = MigrationContext.configure(session.connection(), opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert [d[0] for d in differences] == ["add_index"]


def test_upgrading_twice_is_a_no_op(store):
    store.add_community(make_community())
    before = row_counts(store)

    store.upgrade()

    assert store.current_revision() == head_revision()
    assert row_counts(store) == before


def test_concurrent_upgrades_of_an_empty_database_both_succeed(make_store, keys):
    stores = [make_store(keys) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def upgrade(store):
        barrier.wait()
        try:
            store.upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert stores[0].current_revision() == head_revision()


def test_sqlite_files_use_wal_and_enforce_foreign_keys_after_migrating(tmp_path, keys):
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", keys)
    try:
        store.upgrade()
        with store.transaction() as session:
            pragmas = {
                name: session.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        store.dispose()

    # synchronous=NORMAL is 1; foreign keys were off while migrating and are back on.
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}
