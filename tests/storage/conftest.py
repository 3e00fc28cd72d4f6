"""Fixtures for the storage tests: every test runs on SQLite (a real file) and on
PostgreSQL (a schema of its own, dropped afterwards).

PostgreSQL comes from ``LAST100_TEST_POSTGRES_URL`` (default: the local server, trust
auth). When it cannot be reached the PostgreSQL half is skipped, unless
``LAST100_REQUIRE_POSTGRES=1`` (set in CI), which makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url

from hub.core.clock import ManualClock
from hub.core.secrets import generate_key
from hub.core.store import Store
from tests.storage.builders import seed

POSTGRES_URL = os.environ.get("LAST100_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Backend:
    """Where a test's database lives; ``store()`` opens a Store on it."""

    name: str
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)


def _admin_engine(url: str) -> Any:
    return create_engine(url, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
    engine = _admin_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as exc:
        message = f"PostgreSQL not reachable at {shown}: {exc}"
        if os.environ.get("LAST100_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'hub.sqlite'}")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex}"
    admin = _admin_engine(url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        yield Backend("postgres", url, {"options": f"-csearch_path={schema}"})
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    finally:
        admin.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def keys() -> list[str]:
    return [generate_key()]


@pytest.fixture
def make_store(backend: Backend, clock: ManualClock) -> Iterator[Callable[[Sequence[str]], Store]]:
    """Open (not migrate) Stores on the test's database, with the given keys."""
    stores: list[Store] = []

    def make(secret_keys: Sequence[str]) -> Store:
        store = Store(backend.url, secret_keys, clock=clock, connect_args=backend.connect_args)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.dispose()


@pytest.fixture
def store(make_store: Callable[[Sequence[str]], Store], keys: list[str]) -> Store:
    """A migrated, empty Store."""
    store = make_store(keys)
    store.upgrade()
    return store


@pytest.fixture
def seeded(store: Store) -> Store:
    """A Store with one community, a platform and an access connection, and two gates."""
    seed(store)
    return store
