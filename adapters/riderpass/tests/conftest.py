"""Fixtures of the RiderPass adapter's tests: recorded payloads, a hub with the plugin on
a manual clock, a connection to a mocked platform, and real servers on loopback.

The secrets below are the protocol document's worked examples (ASCII strings,
base64-encoded), so a test can check a signature against a value computed once outside
this code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.core.clock import ManualClock
from hub.core.model import Community, Connection, Gate
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_riderpass.plugin import RiderPassPlugin

FIXTURES = Path(__file__).parent / "fixtures"

#: 1767585600 in unix seconds: the time of every worked example.
EXAMPLE_NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)


@pytest.fixture
def fixture_text() -> Callable[[str], str]:
    """A recorded payload, as its exact text."""
    return lambda name: (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture
def fixture_json(fixture_text: Callable[[str], str]) -> Callable[[str], Any]:
    """A recorded payload, parsed."""
    return lambda name: json.loads(fixture_text(name))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EXAMPLE_NOW)


@pytest.fixture
def settings(fixture_json: Callable[[str], Any]) -> dict[str, Any]:
    """Settings of a connection to a (mocked) platform at https://platform.test."""
    return {
        "base_url": "https://platform.test/riderpass",
        "key_id": "hub-sunny",
        "signing_secret": "cmlkZXJwYXNzLWV4YW1wbGUtc2lnbmluZy1rZXktMzI=",  # riderpass-example-signing-key-32
        "push_secrets": ["whsec_cmlkZXJwYXNzLWV4YW1wbGUtd2ViaG9vay1rZXktMzI="],  # riderpass-example-webhook-key-32
        "entry_code_keys": [fixture_json("entry_code_example.json")["public_key_pem"]],
    }


@pytest.fixture
def connection(settings: dict[str, Any]) -> Connection:
    return Connection("riderpass-1", "riderpass", "Acme Delivery", settings=settings, timeout_s=2.0)


@pytest.fixture
def gate() -> Gate:
    return Gate("north", "sunny-garden", "North gate", "sunny-north", door_no="1")


@pytest.fixture
def community() -> Community:
    return Community("sunny-garden", "阳光花园 Sunny Garden", address="示例路 100 号")


@pytest.fixture
def make_hub() -> Callable[..., Hub]:
    """A hub with the built-in plugins and the RiderPass plugin, as the hub loads them."""

    def make(clock: Any = None, plugin: RiderPassPlugin | None = None) -> Hub:
        hub = Hub()
        for builtin in builtin_plugins(clock):
            hub.register(builtin)
        hub.register(plugin or RiderPassPlugin(clock=clock))
        return hub

    return make


@pytest.fixture
def hub(make_hub: Callable[..., Hub], clock: ManualClock) -> Hub:
    return make_hub(clock)
