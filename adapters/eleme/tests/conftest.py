"""Fixtures for the Ele.me adapter's tests: recorded payloads, a mocked Ele.me API
(``responses``), a hub with the built-in plugins and this plugin, an independent push
signer, and the simulator running on loopback with a push receiver in front of the hub."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from flask import Flask, jsonify
from flask import request as flask_request
from werkzeug.serving import make_server

from hub.core.clock import Clock
from hub.core.errors import PushRejected
from hub.core.model import Community, Connection, Gate, PushEvent, PushRequest
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_eleme.plugin import ElemePlugin
from last100_eleme.simulator import create_app, demo_settings

FIXTURES = Path(__file__).with_name("fixtures")
BASE_URL = "https://open-api.test.ele.me"
API_URL = BASE_URL + "/api/v1/"
PUSH_SECRET = "push-secret"
APP_ID = "65929831"
CONNECTION_ID = "eleme-sh"

#: The instant the partner push fixtures were sent (2026-01-05 12:00 in Shanghai).
FIXTURE_SENT_AT = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

logging.getLogger("werkzeug").setLevel(logging.ERROR)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def independent_push_signature(fields: dict[str, Any], secret: str) -> str:
    """Ele.me's push signature, written out again here so tests never take the code under
    test's word for it: sorted ``k=v`` over every field but ``signature``, then the secret."""
    text = "".join(f"{k}={'' if fields[k] is None else fields[k]}" for k in sorted(fields) if k != "signature")
    return hashlib.md5((text + secret).encode("utf-8")).hexdigest().upper()


@pytest.fixture
def fixture() -> Callable[[str], Any]:
    """Load a recorded payload from ``tests/fixtures`` by file name."""
    return load


@pytest.fixture
def sign_push() -> Callable[..., bytes]:
    """Build a signed push body from fields (signed with the independent signer)."""

    def build(fields: dict[str, Any], secret: str = PUSH_SECRET) -> bytes:
        signed = {k: v for k, v in fields.items() if k != "signature"}
        signed["signature"] = independent_push_signature(signed, secret)
        return json.dumps(signed, ensure_ascii=False).encode("utf-8")

    return build


# -- the mocked Ele.me API --------------------------------------------------------------------


@dataclass
class MockedEleme:
    """Ele.me's API endpoint mocked with ``responses``: ``expect`` one call to an action,
    answered with a recorded reply whose ``id`` echoes the request's."""

    mock: responses.RequestsMock
    sent: list[dict[str, Any]] = field(default_factory=list)

    def expect(self, action: str, fixture_name: str, status: int = 200) -> None:
        def action_matches(request: Any) -> tuple[bool, str]:
            got = json.loads(request.body).get("action")
            return got == action, f"action {got!r} is not {action!r}"

        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            envelope = json.loads(request.body)
            self.sent.append(envelope)
            reply = load(fixture_name)
            reply["id"] = envelope["id"]
            return status, {"Content-Type": "application/json;charset=UTF-8"}, json.dumps(reply, ensure_ascii=False)

        self.mock.add_callback(responses.POST, API_URL, callback=answer, match=[action_matches])

    def expect_raw(self, body: bytes | str, status: int = 200) -> None:
        self.mock.add(responses.POST, API_URL, body=body, status=status)

    def expect_failure(self, exc: Exception) -> None:
        self.mock.add(responses.POST, API_URL, body=exc)


@pytest.fixture
def eleme_api() -> Iterator[MockedEleme]:
    """The mocked API; the test fails if any expected call was not made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield MockedEleme(mock)


# -- the hub -----------------------------------------------------------------------------------


@pytest.fixture
def hub() -> Hub:
    """A hub with the built-in plugins and the Ele.me plugin, registered the way the hub
    loads them (built-ins first)."""
    hub = Hub()
    for plugin in builtin_plugins(Clock()):
        hub.register(plugin)
    hub.register(ElemePlugin(), source="last100-eleme")
    return hub


def raw_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "base_url": BASE_URL,
        "app_key": "key-1",
        "secret": PUSH_SECRET,
        "token": "tok-1",
        "app_id": APP_ID,
    } | overrides


@pytest.fixture
def connect(hub: Hub) -> Callable[..., Connection]:
    """A connection to the mocked Ele.me, its settings loaded through the hub."""

    def make(timeout_s: float = 2.0, **overrides: Any) -> Connection:
        settings = hub.validate_settings("eleme", raw_settings(**overrides))
        return Connection(CONNECTION_ID, "eleme", "Ele.me Shanghai", settings=settings, timeout_s=timeout_s)

    return make


@pytest.fixture
def connection(connect: Callable[..., Connection]) -> Connection:
    return connect()


@pytest.fixture
def community() -> Community:
    """The community; the hub knows it as ``c-sunny``, Ele.me as ``sunny-garden``."""
    return Community("c-sunny", "阳光花园 Sunny Garden", platform_refs={CONNECTION_ID: "sunny-garden"})


@pytest.fixture
def gate() -> Gate:
    return Gate("north", "c-sunny", "North gate 北门", "sunny-north")


@pytest.fixture
def base_url() -> str:
    """Where the mocked Ele.me lives."""
    return BASE_URL


@pytest.fixture
def sent_at() -> datetime:
    """When the partner push fixtures were sent (2026-01-05 12:00 in Shanghai)."""
    return FIXTURE_SENT_AT


@pytest.fixture
def push_request() -> Callable[..., PushRequest]:
    """A push as the hub hands it to the plugin: raw body, arrival time."""

    def make(body: bytes, received_at: datetime = FIXTURE_SENT_AT) -> PushRequest:
        return PushRequest(
            method="POST",
            url=f"https://hub.example/api/v1/pushes/{CONNECTION_ID}",
            headers={"Content-Type": "application/json; charset=utf-8"},
            body=body,
            received_at=received_at,
        )

    return make


# -- servers on loopback -------------------------------------------------------------------------


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port, threaded; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll keeps shutdown quick; the default half second adds up over many tests.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def serve() -> Callable[[Flask], Any]:
    """``with serve(app) as url``: the app on a free loopback port."""
    return serving


@dataclass
class LiveEleme:
    """The simulator on loopback, a connection to it, and what the hub's push receiver
    made of the pushes the simulator sent."""

    base_url: str
    push_url: str
    connection: Connection
    received: list[PushEvent]
    refused: list[PushRejected]

    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}/_sim/{path}"
        reply = requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)
        reply.raise_for_status()
        return reply.json()


def push_receiver(hub: Hub, connection: Callable[[], Connection]) -> tuple[Flask, list[PushEvent], list[PushRejected]]:
    """A stand-in for the hub's push endpoint: parse through the hub, answer with the
    plugin's acknowledgement, or with the refusal's status."""
    app = Flask("push-receiver")
    received: list[PushEvent] = []
    refused: list[PushRejected] = []

    @app.post("/push")
    def push() -> Any:
        request = PushRequest(
            method="POST",
            url=flask_request.base_url,
            headers=dict(flask_request.headers),
            body=flask_request.get_data(),
            received_at=datetime.now(UTC),
        )
        try:
            events = hub.parse_push(connection(), request)
        except PushRejected as exc:
            refused.append(exc)
            return jsonify(error=str(exc)), exc.status
        received.extend(events)
        for event in events:  # as the hub does after storing them: the cache forgets suspended riders
            hub.push_received(connection(), event)
        return jsonify(hub.plugin("eleme").info.push_ack)

    return app, received, refused


@pytest.fixture
def live_eleme(hub: Hub) -> Iterator[LiveEleme]:
    """The simulator serving on loopback, pushing to a receiver in front of ``hub``."""
    holder: dict[str, Connection] = {}
    receiver, received, refused = push_receiver(hub, lambda: holder["connection"])
    with serving(receiver) as receiver_url:
        push_url = receiver_url + "/push"
        with serving(create_app(push_url=push_url)) as base_url:
            settings = hub.validate_settings("eleme", demo_settings(base_url))
            connection = Connection("eleme-sim", "eleme", "Ele.me (simulated)", settings=settings, timeout_s=2.0)
            holder["connection"] = connection
            yield LiveEleme(base_url, push_url, connection, received, refused)
