"""The API end to end: the hub served on loopback by a real HTTP server, the RiderPass
simulator (the hub's open platform protocol) as the platform, and a client talking
HTTP to both, as a platform back end would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from hub.core import apikeys
from hub.core.clock import Clock
from hub.core.config import Config
from hub.core.engine import EntryEngine
from hub.core.model import Building, Community, Connection, Gate, Zone
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins
from hub.runtime import Runtime
from hub.web import create_app
from tests.engine_fakes import FakeGate

riderpass = pytest.importorskip("last100_riderpass.simulator", reason="the RiderPass adapter is not installed")
RiderPassPlugin = pytest.importorskip("last100_riderpass.plugin").RiderPassPlugin

COMMUNITY = "sunny-garden"  # the community the simulator's demo orders are delivered into


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve WSGI apps on 127.0.0.1 (a free port each); stopped after the test."""
    servers = []

    def start(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def hub_site(tmp_path, serve) -> Iterator[dict[str, Any]]:
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    gate_ctl = FakeGate()
    for plugin in [*builtin_plugins(clock), RiderPassPlugin(), gate_ctl]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock)
    config = Config(instance_path=tmp_path, secret_keys=("unused",), secret_key="test", gate_key="gate-key")
    runtime = Runtime(config, clock, store, hub, engine)
    hub_url = serve(create_app(runtime=runtime))

    simulator = riderpass.demo_simulator()
    platform_url = serve(simulator.app(f"{hub_url}/api/v1/push/rp"))
    store.add_community(Community(COMMUNITY, "阳光花园 Sunny Garden", buildings=(Building("b3", "3号楼", "3"),)))
    store.add_zone(COMMUNITY, Zone("parking", "parking", "骑手停车区", ((31.19, 121.43),), "北门内侧"))
    settings = hub.validate_settings("riderpass", simulator.settings(platform_url))
    store.add_connection(
        Connection("rp", "riderpass", "RiderPass", settings, timeout_s=2.0),
        secret_fields(hub.plugin("riderpass").info),
        [COMMUNITY],
    )
    store.add_connection(Connection("gatectl", "fakegate", "North controller"), (), [COMMUNITY])
    store.add_gate(Gate("north", COMMUNITY, "North gate", "sunny-north", "1", "gatectl"))
    _key, key = apikeys.create(store, "riderpass-backend", ["rp"], [COMMUNITY])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    yield {
        "url": hub_url,
        "platform": platform_url,
        "session": session,
        "gate_code": runtime.gate_codes.sign("sunny-north"),
        "gate_ctl": gate_ctl,
    }
    session.close()
    engine.close()
    store.dispose()


def enter(site, token: str, **extra: Any) -> requests.Response:
    body = {"gate_code": site["gate_code"], "connection": "rp", "credential": {"kind": "token", "value": token}}
    return site["session"].post(f"{site['url']}/api/v1/entries", json=body, timeout=10, **extra)


def test_a_platform_back_end_enters_a_rider_reads_the_entry_and_records_the_exit(hub_site):
    created = enter(hub_site, "demo-rider-1", headers={"Idempotency-Key": "order-DEMO-ORDER-1"})

    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["decision"] == "granted", entry["reasons"]
    assert entry["pass"]["kind"] == "qr"
    assert entry["route"]["building"] == {"id": "b3", "name": "3号楼", "door_no": "3"}
    assert entry["route"]["parking"]["name"] == "骑手停车区"

    replay = enter(hub_site, "demo-rider-1", headers={"Idempotency-Key": "order-DEMO-ORDER-1"})
    assert replay.status_code == 200 and replay.json()["id"] == entry["id"]

    read = hub_site["session"].get(f"{hub_site['url']}{created.headers['Location']}", timeout=10)
    assert read.status_code == 200 and read.json() == entry

    left = hub_site["session"].post(f"{hub_site['url']}/api/v1/entries/{entry['id']}/exit", timeout=10)
    assert left.status_code == 200
    assert left.json()["exited_at"] is not None
    assert left.json()["pass"]["revoked_at"] is not None
    assert hub_site["gate_ctl"].revoked == [entry["id"]]


def test_a_rider_without_an_order_is_denied_over_http(hub_site):
    reply = enter(hub_site, "demo-rider-2")

    assert reply.status_code == 201
    assert reply.json()["decision"] == "denied"
    assert reply.json()["reasons"][0]["code"] == "no_active_order"


def test_a_signed_entry_code_from_the_rider_app_opens_the_gate(hub_site):
    code = requests.post(f"{hub_site['platform']}/_sim/entry-codes", json={"token": "demo-rider-1"}, timeout=5)
    body = {
        "gate_code": hub_site["gate_code"],
        "connection": "rp",
        "credential": {"kind": "entry_code", "value": code.json()["code"]},
    }

    reply = hub_site["session"].post(f"{hub_site['url']}/api/v1/entries", json=body, timeout=10)

    assert reply.status_code == 201
    assert reply.json()["decision"] == "granted", reply.json()["reasons"]


def test_the_profile_and_the_document_are_served_over_http(hub_site):
    profile = hub_site["session"].get(f"{hub_site['url']}/api/v1/communities/{COMMUNITY}/profile", timeout=10)
    document = requests.get(f"{hub_site['url']}/api/v1/openapi.json", timeout=10)

    assert profile.status_code == 200
    assert profile.json()["gates"] == [{"id": "north", "name": "North gate", "door_no": "1"}]
    assert document.status_code == 200 and "/api/v1/entries" in document.json()["paths"]


def test_no_key_no_entry_over_http(hub_site):
    body = {
        "gate_code": hub_site["gate_code"],
        "connection": "rp",
        "credential": {"kind": "token", "value": "demo-rider-1"},
    }

    reply = requests.post(f"{hub_site['url']}/api/v1/entries", json=body, timeout=10)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
