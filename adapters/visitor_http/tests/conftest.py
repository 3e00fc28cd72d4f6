"""Fixtures of the visitor-http adapter's tests: recorded replies, a hub with the plugin
on a manual clock, a connection to a mocked visitor system, a visit, and real servers on
loopback.

The secret, timestamp and visit are those of the README's worked example, so a test can
check a signature against a value computed once with openssl.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.model import Connection, Visit
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_visitor_http.plugin import VisitorHttpPlugin

FIXTURES = Path(__file__).parent / "fixtures"

#: 1767585600 in unix seconds (12:00 in Shanghai): the time of the worked example.
EXAMPLE_NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

ENDPOINT = "https://pms.test/openapi/visitor/records"


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    """A recorded payload, parsed."""
    return lambda name: json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EXAMPLE_NOW)


@pytest.fixture
def visit() -> Visit:
    """The worked example's visit: 12:00 to 12:25 in Shanghai."""
    return Visit(
        entry_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        community_id="sunny-garden",
        gate_id="north",
        rider_ref="R1001",
        masked_name="王*",
        masked_phone="138****5678",
        platform="meituan",
        started_at=datetime(2026, 1, 5, 4, 0, tzinfo=UTC),
        ends_at=datetime(2026, 1, 5, 4, 25, tzinfo=UTC),
    )


@pytest.fixture
def settings() -> dict[str, Any]:
    """Settings of a connection to a (mocked) visitor system at https://pms.test, with the
    default field map."""
    return {
        "url": ENDPOINT,
        "secret": "visitor-example-secret",
        "key_id": "hub-sunny",
        "static_fields": {"communityCode": "SUNNY-GARDEN"},
        "success_path": "code",
        "success_value": "0",
        "record_id_path": "data.recordId",
        "message_path": "msg",
    }


@pytest.fixture
def connection(settings: dict[str, Any]) -> Connection:
    return Connection("visitors-1", "visitor-http", "Sunny Garden visitor book", settings=settings, timeout_s=2.0)


@pytest.fixture
def make_hub() -> Callable[..., Hub]:
    """A hub with the built-in plugins and this plugin, as the hub loads them."""

    def make(clock: Any = None, plugin: VisitorHttpPlugin | None = None) -> Hub:
        hub = Hub()
        for builtin in builtin_plugins(clock):
            hub.register(builtin)
        hub.register(plugin or VisitorHttpPlugin(clock=clock))
        return hub

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub], clock: ManualClock) -> Hub:
    return make_hub(clock)
