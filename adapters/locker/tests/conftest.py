"""Fixtures of the locker adapter's tests: recorded controller replies, a hub with the
plugin on a manual clock, a connection to a mocked controller, a real SQLite store, and
real servers on loopback.

The secret below is the README's worked example, so a test can check a signature
against a value computed once outside this code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.core.clock import ManualClock
from hub.core.db import AuditRow
from hub.core.model import Connection, LockerBank, Order, OrderStatus
from hub.core.plugins import Hub
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins
from last100_locker.plugin import LockerPlugin

FIXTURES = Path(__file__).parent / "fixtures"

#: 1767585600 in unix seconds: the time of every worked example.
EXAMPLE_NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

#: The README's worked-example secret.
EXAMPLE_SECRET = "locker-example-secret-0123456789abcdef"


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    """A recorded reply, parsed."""
    return lambda name: json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EXAMPLE_NOW)


@pytest.fixture
def settings() -> dict[str, Any]:
    """Settings of a connection to a (mocked) controller at https://lockers.test."""
    return {
        "base_url": "https://lockers.test/locker",
        "key_id": "hub-sunny",
        "secret": EXAMPLE_SECRET,
        "bank_id": "north-gate",
    }


@pytest.fixture
def connection(settings: dict[str, Any]) -> Connection:
    return Connection("lockers-north", "locker", "North gate lockers", settings=settings, timeout_s=2.0)


@pytest.fixture
def bank(connection: Connection) -> LockerBank:
    """The bank as the hub knows it: its id is the connection's."""
    return LockerBank(connection.id, "sunny-garden", "North gate lockers", connection.id)


@pytest.fixture
def order() -> Callable[..., Order]:
    """An order being delivered into the community, by its ref."""
    return lambda ref="DEMO-ORDER-1": Order(
        ref, OrderStatus.ARRIVED, rider_ref="R1001", community_ref="sunny-garden", building="3"
    )


@pytest.fixture
def make_hub() -> Callable[..., Hub]:
    """A hub with the built-in plugins and the locker plugin, as the hub loads them."""

    def make(clock: Any = None, plugin: LockerPlugin | None = None) -> Hub:
        hub = Hub()
        for builtin in builtin_plugins(clock):
            hub.register(builtin)
        hub.register(plugin or LockerPlugin(clock=clock))
        return hub

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub], clock: ManualClock) -> Hub:
    return make_hub(clock)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The hub's real store, on SQLite in a temporary folder."""
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()])
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def audit_records(store: Store) -> Callable[[str], list[tuple[str, str, dict[str, Any]]]]:
    """``(actor, subject, data)`` of every audit record of an action in the store, oldest first."""

    def read(action: str) -> list[tuple[str, str, dict[str, Any]]]:
        with store.transaction() as session:
            rows = session.scalars(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))
            return [(row.actor, row.subject, row.data) for row in rows]

    return read
