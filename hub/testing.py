"""Test fixtures for plugin authors, loaded by pytest through the ``pytest11`` entry point
of the ``last100-hub`` distribution (nothing to import).

- ``serve``: serve WSGI apps (a simulator, the hub's own app) on 127.0.0.1, each on a
  free port, in a thread; all are stopped after the test. Responses cannot simulate a slow
  body or a closed port; a real server on loopback can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server


@dataclass
class Served:
    """A WSGI app served on loopback in a thread."""

    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=5)
            self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    """Serve WSGI apps on 127.0.0.1 (a free port each); stopped after the test."""
    started: list[Served] = []

    def start(app: Any) -> Served:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        served = Served(server, thread)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
