"""Fixtures for the Meituan adapter's tests: recorded payloads, mocked HTTP, a hub with
the built-in plugins and the Meituan plugin, signed callbacks, and real servers on
loopback (the simulator, and whatever else a test serves)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import responses
from flask import Flask
from werkzeug.serving import make_server

from hub.core.clock import ManualClock
from hub.core.model import Community, Connection, Gate, PushRequest
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_meituan.plugin import MeituanPlugin

FIXTURES = Path(__file__).parent / "fixtures"

BASE_URL = "https://waimaiopen.meituan.com"
APP_ID = "6510"
APP_SECRET = "a1b2c3d4e5"
NOW = 1767225600  # 2026-01-01 00:00:00 UTC
PUSH_URL = "https://hub.example.com/api/v1/push/mt-1"
COMMUNITY_REF = "MT-C-88"  # the test community's id at Meituan


def independent_sig(url: str, params: Mapping[str, Any], secret: str) -> str:
    """Meituan's signature written out again, separately from the code under test, for
    signing callbacks and checking requests in tests (pinned to the worked examples in
    test_signing.py)."""
    base = url.split("?", 1)[0]
    kept = [(k, str(v)) for k, v in params.items() if k != "sig" and v is not None and str(v) != ""]
    text = base + "?" + "&".join(f"{k}={v}" for k, v in sorted(kept)) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Wire:
    """The test account's constants, for tests (in importlib mode they cannot import
    this module)."""

    base_url: str = BASE_URL
    app_id: str = APP_ID
    app_secret: str = APP_SECRET
    now: int = NOW
    push_url: str = PUSH_URL
    community_ref: str = COMMUNITY_REF

    @staticmethod
    def sig(url: str, params: Mapping[str, Any], secret: str = APP_SECRET) -> str:
        return independent_sig(url, params, secret)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture(autouse=True)
def quiet_werkzeug() -> None:
    # Loopback servers log every request; the tests' output is clearer without.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """A recorded Meituan reply from tests/fixtures, by file name without ``.json``."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))

    return load


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Mocked HTTP; the test fails if a mocked call was not made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def make_connection() -> Callable[..., Connection]:
    """A Meituan connection; keyword arguments override settings (``timeout_s`` and
    ``connection_id`` set the connection's own fields)."""

    def make(*, timeout_s: float = 3.0, connection_id: str = "mt-1", **settings: Any) -> Connection:
        values = {"app_id": APP_ID, "app_secret": APP_SECRET, "base_url": BASE_URL, **settings}
        return Connection(connection_id, "meituan", "Meituan Shanghai", settings=values, timeout_s=timeout_s)

    return make


@pytest.fixture
def connection(make_connection: Callable[..., Connection]) -> Connection:
    return make_connection()


@pytest.fixture
def plugin() -> MeituanPlugin:
    return MeituanPlugin()


@pytest.fixture
def hub(plugin: MeituanPlugin) -> Hub:
    """A hub with the built-in plugins (cache, breaker, audit, ...) and the Meituan
    plugin, the way the hub loads them. The clock is manual so that the breaker's soft
    timeout never fires: a timeout seen in a test comes from the adapter itself."""
    hub = Hub()
    for builtin in builtin_plugins(ManualClock()):
        hub.register(builtin)
    hub.register(plugin)
    return hub


@pytest.fixture
def gate() -> Gate:
    return Gate("north", "sunny-garden", "North gate 北门", "sunny-north")


@pytest.fixture
def community() -> Community:
    return Community("sunny-garden", "阳光花园 Sunny Garden", platform_refs={"mt-1": COMMUNITY_REF})


@pytest.fixture
def callback() -> Callable[..., PushRequest]:
    """A form-encoded callback as Meituan sends it, signed with ``secret`` over ``url``
    and its parameters (``sig`` replaces the signature; ``drop`` leaves parameters out)."""

    def build(
        fields: Mapping[str, Any],
        *,
        url: str = PUSH_URL,
        secret: str = APP_SECRET,
        app_id: str = APP_ID,
        timestamp: Any = NOW,
        received_at: float = NOW,
        query: Mapping[str, str] | None = None,
        sig: str | None = None,
        drop: tuple[str, ...] = (),
    ) -> PushRequest:
        form = {k: str(v) for k, v in fields.items()} | {"app_id": app_id, "timestamp": str(timestamp)}
        form["sig"] = sig if sig is not None else independent_sig(url, {**(query or {}), **form}, secret)
        form = {k: v for k, v in form.items() if k not in drop}
        return PushRequest(
            method="POST",
            url=url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(form).encode(),
            received_at=datetime.fromtimestamp(received_at, UTC),
            query=dict(query or {}),
            form=form,
        )

    return build


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """Serve a WSGI app on a free loopback port in a thread; returns its base URL."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # A short poll interval keeps shutdown (at the end of every test) quick.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
