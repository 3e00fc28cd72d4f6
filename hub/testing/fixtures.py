"""The fixtures ``hub.testing`` gives every test session (through the ``pytest11`` entry
point: nothing to import). Their names are not ones an adapter's conftest is likely to
use for something else; a conftest fixture of the same name wins in its folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hub.core import hookspecs
from hub.core.clock import ManualClock
from hub.core.model import Connection
from hub.core.plugins import Hub
from hub.testing.servers import Served, serve_wsgi


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    """Serve WSGI apps on 127.0.0.1 (a free port each); stopped after the test."""
    started: list[Served] = []

    def start(app: Any) -> Served:
        served = serve_wsgi(app)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh pluggy plugin manager with the hub's hook specs and nothing registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@pytest.fixture
def hub_clock() -> ManualClock:
    """A clock that moves only when told to (``hub_clock.advance(seconds=30)``); it starts
    at 2026-01-05 04:00 UTC, noon in Shanghai."""
    return ManualClock()


@pytest.fixture
def hub_store(tmp_path: Path, hub_clock: ManualClock) -> Iterator[Any]:
    """The hub's :class:`~hub.core.store.Store` on a SQLite file in the test's folder,
    migrated to the newest schema, on ``hub_clock``; disposed of after the test."""
    from hub.core.secrets import generate_key
    from hub.core.store import Store

    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=hub_clock)
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def hub_factory(hub_clock: ManualClock) -> Callable[..., Hub]:
    """Make a :class:`~hub.core.plugins.Hub` with the given plugins registered, after the
    built-in ones (cache, circuit breaker, audit, timing, default policy) on ``hub_clock``
    unless ``builtins=False``. The manual clock never moves by itself, so the breaker's
    soft timeout never fires: a timeout a test sees comes from the plugin."""

    def make(*plugins: object, builtins: bool = True) -> Hub:
        from hub.plugins import builtin_plugins

        hub = Hub()
        for plugin in [*(builtin_plugins(hub_clock) if builtins else ()), *plugins]:
            hub.register(plugin)
        return hub

    return make


@pytest.fixture
def make_connection() -> Callable[..., Connection]:
    """Make a :class:`~hub.core.model.Connection`: ``make_connection("acme", {...})``, with
    id ``<plugin>-1``, a name, and a 2-second timeout unless told otherwise."""

    def make(
        plugin: str,
        settings: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        name: str | None = None,
        timeout_s: float = 2.0,
        freshness_s: int = 120,
        enabled: bool = True,
    ) -> Connection:
        return Connection(
            id or f"{plugin}-1",
            plugin,
            name or f"{plugin} (test)",
            settings=dict(settings or {}),
            timeout_s=timeout_s,
            freshness_s=freshness_s,
            enabled=enabled,
        )

    return make
