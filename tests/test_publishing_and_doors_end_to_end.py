"""Community publishing and door events end to end, with the adapters' simulators served
on loopback: the RiderPass platform receives the community's profile (the version the
hub's API shows), and door events are read from the simulated Hikvision controller's
event log after a rider used the pass the hub issued there."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from hub.core import apikeys
from hub.core.clock import ManualClock
from hub.core.config import Config
from hub.core.engine import EntryEngine, EntryRequest
from hub.core.jobs import JobContext
from hub.core.model import Community, CommunityPolicy, Connection, Credential, CredentialKind, Decision, Gate
from hub.core.plugins import Hub, secret_fields
from hub.core.scheduler import run_job
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins
from hub.plugins.jobs import BuiltinJobs
from hub.runtime import Runtime
from hub.web import create_app

riderpass_sim = pytest.importorskip("last100_riderpass.simulator", reason="the RiderPass adapter is not installed")
hikvision_sim = pytest.importorskip("last100_hikvision.simulator", reason="the Hikvision adapter is not installed")
RiderPassPlugin = pytest.importorskip("last100_riderpass.plugin").RiderPassPlugin
HikvisionPlugin = pytest.importorskip("last100_hikvision.plugin").HikvisionPlugin

COMMUNITY = "sunny-garden"  # where the RiderPass simulator's demo orders are delivered


@pytest.fixture
def loopback() -> Iterator[Callable[[Any], str]]:
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
def site(tmp_path, loopback):
    # A controlled clock, near the real time the platform simulator signs and checks with.
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    hub = Hub()
    for plugin in [*builtin_plugins(clock), RiderPassPlugin(), HikvisionPlugin(clock=clock)]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock)

    platform = riderpass_sim.demo_simulator()
    platform_url = loopback(platform.app(""))
    device_keys = hikvision_sim.SimulatorKeys.generate()
    device_url = loopback(hikvision_sim.create_app(device_keys, clock=clock.now))

    store.add_community(Community(COMMUNITY, "阳光花园 Sunny Garden"))
    for connection_id, plugin, settings in (
        ("rp", "riderpass", platform.settings(platform_url)),
        ("hik", "hikvision", device_keys.settings(device_url)),
    ):
        values = hub.validate_settings(plugin, settings)
        connection = Connection(connection_id, plugin, plugin, values, timeout_s=3.0)
        store.add_connection(connection, secret_fields(hub.plugin(plugin).info), [COMMUNITY])
    store.add_gate(Gate("north", COMMUNITY, "North gate 北门", "sunny-north", "1", "hik"))

    config = Config(instance_path=tmp_path, secret_keys=("unused",), secret_key="test")
    app = create_app(runtime=Runtime(config, clock, store, hub, engine))
    _key, key = apikeys.create(store, "riderpass-backend", ["rp"], [COMMUNITY])
    yield {
        "clock": clock,
        "store": store,
        "hub": hub,
        "engine": engine,
        "platform": platform_url,
        "device": device_url,
        "api": app.test_client(),
        "key": key,
    }
    engine.close()
    store.dispose()


def run(site, job_id: str):
    (spec,) = [s for s in BuiltinJobs().hub_jobs() if s.id == job_id]
    result = run_job(spec, JobContext(site["hub"], site["store"], site["clock"]))
    assert result.ok, result.error
    return result


def platform_profile(site) -> dict[str, Any]:
    reply = requests.get(f"{site['platform']}/_sim/profiles", timeout=5)
    assert reply.ok, reply.text
    return reply.json()["profiles"][COMMUNITY]


def api_version(site) -> int:
    reply = site["api"].get(
        f"/api/v1/communities/{COMMUNITY}/profile", headers={"Authorization": f"Bearer {site['key']}"}
    )
    assert reply.status_code == 200, reply.json
    return reply.json["version"]


def test_the_platform_receives_each_version_of_the_profile_the_api_shows(site):
    run(site, "communities.publish")

    first = platform_profile(site)
    assert first["version"] == api_version(site) == 1
    assert first["community"]["name"] == "阳光花园 Sunny Garden"
    assert [g["id"] for g in first["gates"]] == ["north"]

    community = site["store"].get_community(COMMUNITY)
    policy = CommunityPolicy(opening=time(6), closing=time(23, 30))
    site["store"].update_community(dataclasses.replace(community, policy=policy))
    assert api_version(site) == 2  # the platform's back end may read it before the job runs
    run(site, "communities.publish")

    second = platform_profile(site)
    assert second["version"] == 2
    assert second["rules"]["hours"] == {"opening": "06:00", "closing": "23:30"}
    (publication,) = site["store"].community_publications([COMMUNITY])
    assert (publication.connection_id, publication.published_version, publication.error) == ("rp", 2, None)
    assert run(site, "communities.publish").items == 0


def swipe(site, card: str, reader: int, at: datetime) -> dict[str, Any]:
    body = {"card": card, "door": "1", "reader": reader, "at": at.isoformat()}
    reply = requests.post(f"{site['device']}/_sim/swipe", json=body, timeout=5)
    assert reply.ok, reply.text
    return reply.json()


def test_door_events_from_the_controllers_log_give_the_real_entry_and_exit_times(site):
    clock = site["clock"]
    entry = site["engine"].decide(EntryRequest("sunny-north", "rp", Credential(CredentialKind.TOKEN, "demo-rider-1")))
    assert entry.decision is Decision.GRANTED, entry.reasons
    card = entry.access_pass.value
    went_in, came_out = clock.now() + timedelta(minutes=1), clock.now() + timedelta(minutes=6)

    assert swipe(site, card, 1, went_in)["granted"] is True  # reader 1: door 1's entrance
    assert swipe(site, "99999999", 1, went_in + timedelta(seconds=30))["granted"] is False  # refused: not a pass
    assert swipe(site, card, 2, came_out)["granted"] is True  # reader 2: its exit
    clock.advance(minutes=7)

    read = run(site, "doors.events")

    stored = site["store"].get_entry(entry.id)
    assert read.items == 2  # the refused swipe is no door event
    assert (stored.entered_at, stored.exited_at) == (went_in, came_out)
    assert site["store"].door_cursor("north") == came_out

    clock.advance(minutes=2)
    assert run(site, "doors.events").items == 0
    assert site["store"].get_entry(entry.id).entered_at == went_in
