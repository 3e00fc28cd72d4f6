"""The Store object itself: what it shows of its URL, and which databases it takes."""

from __future__ import annotations

import pytest

from hub.core.store import Store


def test_the_repr_and_url_mask_the_database_password():
    store = Store("postgresql+psycopg://hub:hunter2@db.internal:5432/last100", [])
    try:
        assert repr(store) == "Store('postgresql+psycopg://hub:***@db.internal:5432/last100')"
        assert "hunter2" not in store.url
    finally:
        store.dispose()


def test_an_unsupported_database_is_refused_by_name():
    with pytest.raises(ValueError, match="unsupported database 'mysql': use sqlite or postgresql"):
        Store("mysql://hub@localhost/last100", [])


def test_an_in_memory_sqlite_store_works_for_single_threaded_use():
    store = Store("sqlite://", [])
    try:
        store.upgrade()
        store.audit("test", "memory.works")
        assert store.verify_audit_chain() is None
    finally:
        store.dispose()
