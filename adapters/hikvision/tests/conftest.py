"""Fixtures of the Hikvision adapter's tests: recorded payloads, a hub with the plugin on
a manual clock, a connection to a mocked device, and real servers on loopback.

The card secret and grant ids below are those of the worked examples in
``test_cards.py``, whose card numbers were computed once outside this code (with
openssl), so the recorded payloads carry the card numbers the plugin must produce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.model import Connection, Gate
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_hikvision.plugin import HikvisionPlugin

FIXTURES = Path(__file__).parent / "fixtures"

#: 12:00 in Shanghai: the time of the recorded payloads.
EXAMPLE_NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

#: The worked examples' grant ids and card secret.
GRANT_ID = "0b6e1f2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
OTHER_GRANT_ID = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
CARD_SECRET = "hikvision-example-card-secret-01"
PUSH_TOKEN = "hikvision-example-push-token-01"

DEVICE = "https://acs.test"


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """A recorded payload, as its exact bytes."""
    return lambda name: (FIXTURES / name).read_bytes()


@pytest.fixture
def fixture_json(fixture_bytes: Callable[[str], bytes]) -> Callable[[str], Any]:
    """A recorded payload, parsed."""
    return lambda name: json.loads(fixture_bytes(name))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EXAMPLE_NOW)


@pytest.fixture
def settings() -> dict[str, Any]:
    """Settings of a connection to a (mocked) device at https://acs.test."""
    return {
        "base_url": DEVICE,
        "username": "admin",
        "password": "hik-example-pass",
        "card_secret": CARD_SECRET,
        "push_token": PUSH_TOKEN,
    }


@pytest.fixture
def connection(settings: dict[str, Any]) -> Connection:
    return Connection("hik-1", "hikvision", "North gate controller", settings=settings, timeout_s=2.0)


@pytest.fixture
def gate() -> Gate:
    return Gate("north", "sunny-garden", "North gate", "sunny-north", door_no="1", access_connection_id="hik-1")


@pytest.fixture
def make_hub() -> Callable[..., Hub]:
    """A hub with the built-in plugins and the Hikvision plugin, as the hub loads them."""

    def make(clock: Any = None, plugin: HikvisionPlugin | None = None) -> Hub:
        hub = Hub()
        for builtin in builtin_plugins(clock):
            hub.register(builtin)
        hub.register(plugin or HikvisionPlugin(clock=clock))
        return hub

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub], clock: ManualClock) -> Hub:
    return make_hub(clock)
