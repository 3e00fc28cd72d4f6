"""Every hook end to end against the running simulator on loopback, the simulator's own
checks of the wire protocol, its admin endpoints and callbacks, and how the demo finds
it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import pytest
import requests
from flask import Flask, jsonify, request

from hub.core.errors import PushRejected, UpstreamError
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    Notice,
    OrderStatus,
    PushEvent,
    PushRequest,
    RiderClaim,
    RiderStatus,
)
from hub.demo import COMMUNITY_ID, DEMO_RIDERS, SIMULATOR_GROUP, Simulator
from last100_meituan.client import MeituanAuthError, MeituanClient, MeituanError
from last100_meituan.plugin import MeituanPlugin
from last100_meituan.simulator import DEMO_APP_ID, DEMO_APP_SECRET, SimState, demo_simulator

SUNNY = Community(COMMUNITY_ID, "阳光花园 Sunny Garden")


@dataclass
class Running:
    base_url: str
    state: SimState
    connection: Connection
    events: list[PushEvent]

    def admin(self, path: str, body: dict) -> dict:
        answer = requests.post(f"{self.base_url}/_sim/{path}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def running(serve, hub) -> Running:
    """The demo simulator on loopback, sending its callbacks to a small stand-in for the
    hub's push endpoint that parses them with the hub and answers with the plugin's ack."""
    events: list[PushEvent] = []
    connections: dict[str, Connection] = {}
    receiver = Flask("push-receiver")

    @receiver.post("/api/v1/push/<connection_id>")
    def push(connection_id: str):
        connection = connections[connection_id]
        pushed = PushRequest(
            method=request.method,
            url=request.base_url,
            headers=dict(request.headers),
            body=request.get_data(),
            received_at=datetime.now(UTC),
            query=request.args.to_dict(),
            form=request.form.to_dict(),
        )
        try:
            parsed = hub.parse_push(connection, pushed)
        except PushRejected as exc:
            return jsonify(error=str(exc)), exc.status
        for event in parsed:
            events.append(event)
            hub.push_received(connection, event)
        return jsonify(dict(hub.plugin("meituan").info.push_ack))

    hub_url = serve(receiver)
    simulator = demo_simulator()
    app = simulator.app(f"{hub_url}/api/v1/push/mt-1")
    base_url = serve(app)
    settings = hub.validate_settings("meituan", simulator.settings(base_url))
    connection = connections["mt-1"] = Connection("mt-1", "meituan", simulator.name, settings=settings)
    return Running(base_url, app.extensions["meituan_simulator"], connection, events)


# -- every hook against the simulator -----------------------------------------------------------


def test_check_connection_with_a_wrong_secret_says_the_app_secret_was_refused(hub, running):
    wrong = Connection("mt-x", "meituan", "Meituan", settings={**running.connection.settings, "app_secret": "nope"})

    health = hub.check_connection(wrong)

    assert not health.ok and health.message.startswith("app_secret was refused")


def test_rider_one_is_verified_by_token_with_a_masked_privacy_number(hub, running, gate):
    rider = hub.verify_rider(running.connection, Credential("token", "demo-rider-1"), gate)

    assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == ("R1001", "王*", "138****5678 转 1234")
    assert rider.status is RiderStatus.ACTIVE


def test_a_rider_is_verified_by_the_code_typed_on_the_rider_page(hub, running, gate):
    assert hub.verify_rider(running.connection, Credential("typed_code", "000002"), gate).platform_ref == "R1002"


def test_rider_one_has_an_order_being_delivered_into_the_demo_community(hub, running):
    by_ref = hub.active_orders(running.connection, RiderClaim(Credential("token", "demo-rider-1"), "R1001"), SUNNY)
    by_token = hub.active_orders(running.connection, RiderClaim(Credential("token", "demo-rider-1")), SUNNY)

    assert [(o.ref, o.status, o.community_ref) for o in by_ref] == [
        ("DEMO-ORDER-1", OrderStatus.PICKED_UP, COMMUNITY_ID)
    ]
    assert by_token == by_ref


def test_rider_two_has_no_order_and_no_rider_has_orders_into_another_community(hub, running):
    elsewhere = Community("elsewhere", "Elsewhere")

    assert hub.active_orders(running.connection, RiderClaim(Credential("token", "demo-rider-2"), "R1002"), SUNNY) == []
    assert hub.active_orders(running.connection, RiderClaim(Credential("token", "x"), "R1001"), elsewhere) == []


def test_get_order_reads_the_order_detail_and_its_delivery_status(hub, running):
    order = hub.get_order(running.connection, "DEMO-ORDER-1")

    assert (order.ref, order.status) == ("DEMO-ORDER-1", OrderStatus.PICKED_UP)
    assert hub.get_order(running.connection, "NO-SUCH-ORDER") is None


def test_a_published_profile_is_kept_by_the_simulator(hub, running):
    profile = CommunityProfile(SUNNY, rules_zh="骑手请走北门 & 东门", rules_en="North & east gates", version=4)

    receipt = hub.publish_community(running.connection, profile)

    assert receipt.accepted and receipt.ref == f"MTP-{COMMUNITY_ID}-4"
    kept = running.state.profiles[COMMUNITY_ID]
    assert kept["version"] == "4"
    assert kept["profile"]["rules_zh"] == "骑手请走北门 & 东门"


def test_a_notice_reaches_the_simulated_rider_app(hub, running):
    receipt = hub.notify_rider(running.connection, "R1001", Notice("gate_open", "北门已开", "The north gate is open"))

    assert receipt.accepted
    assert running.state.notices[-1]["notice_id"] == receipt.ref
    assert running.state.notices[-1]["text_zh"] == "北门已开"


def test_a_notice_to_an_unknown_rider_is_an_upstream_error(hub, running):
    with pytest.raises(UpstreamError, match="4003"):
        hub.notify_rider(running.connection, "R404", Notice("gate_open", "北门已开", "Open"))


def test_a_delivered_order_is_pushed_to_the_hub_and_answered_with_data_ok(hub, running):
    answer = running.admin("orders/DEMO-ORDER-1", {"status": 8, "logistics_status": 40})

    assert answer["callback"]["status"] == 200
    assert json.loads(answer["callback"]["body"]) == {"data": "ok"}
    [event] = running.events
    assert (event.order.ref, event.order.status, event.order.rider_ref) == (
        "DEMO-ORDER-1",
        OrderStatus.DELIVERED,
        "R1001",
    )
    assert hub.active_orders(running.connection, RiderClaim(Credential("token", "t"), "R1001"), SUNNY) == []


def test_a_suspended_rider_is_pushed_and_the_hub_stops_reusing_their_verification(hub, running, gate):
    token = Credential("token", "demo-rider-1")
    assert hub.verify_rider(running.connection, token, gate).status is RiderStatus.ACTIVE

    answer = running.admin("riders/R1001", {"suspended": True})

    assert answer["callback"]["status"] == 200
    assert (running.events[0].rider_ref, running.events[0].rider_status) == ("R1001", RiderStatus.SUSPENDED)
    assert hub.verify_rider(running.connection, token, gate).status is RiderStatus.SUSPENDED


# -- the simulator checks the wire protocol like the platform ---------------------------------------


def simulator_client(running: Running, **overrides) -> MeituanClient:
    options = {"app_id": DEMO_APP_ID, "app_secret": DEMO_APP_SECRET, **overrides}
    return MeituanClient(running.base_url, options.pop("app_id"), options.pop("app_secret"), **options)


def test_the_simulator_refuses_a_wrong_secret_with_703(running):
    with pytest.raises(MeituanAuthError) as caught:
        simulator_client(running, app_secret="wrong").ping()
    assert caught.value.code == 703


def test_the_simulator_refuses_an_unknown_app_id_with_702(running):
    with pytest.raises(MeituanAuthError) as caught:
        simulator_client(running, app_id="someone-else").ping()
    assert caught.value.code == 702


def test_the_simulator_refuses_a_stale_timestamp(running):
    with pytest.raises(MeituanAuthError, match="timestamp"):
        simulator_client(running, clock=lambda: time.time() - 3600).ping()


def test_the_simulator_refuses_a_request_without_system_parameters_with_701(running):
    answer = requests.get(f"{running.base_url}/api/v1/poi/getids", timeout=5).json()

    assert answer == {"data": "ng", "error": {"code": 701, "msg": "缺少参数，数据不完整: app_id,timestamp,sig"}}


def test_the_simulator_answers_an_unknown_order_in_meituans_envelope(running):
    with pytest.raises(MeituanError) as caught:
        simulator_client(running).order("NO-SUCH-ORDER")
    assert (caught.value.code, caught.value.msg) == (4004, "订单不存在")


def test_admin_changes_to_unknown_orders_or_riders_are_404(running):
    assert requests.post(f"{running.base_url}/_sim/orders/NOPE", json={}, timeout=5).status_code == 404
    assert requests.post(f"{running.base_url}/_sim/riders/NOPE", json={}, timeout=5).status_code == 404


def test_admin_state_shows_the_orders_change(running):
    running.admin("orders/DEMO-ORDER-1", {"logistics_status": 100})

    state = requests.get(f"{running.base_url}/_sim/state", timeout=5).json()

    assert state["orders"][0]["logistics_status"] == 100


# -- how the demo finds and seeds it ---------------------------------------------------------------------


def test_the_demo_simulator_is_offered_through_its_entry_point():
    [entry] = [ep for ep in metadata.entry_points(group=SIMULATOR_GROUP) if ep.name == "meituan"]
    simulator = entry.load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("meituan", "Meituan (simulated)")


def test_the_plugin_is_offered_through_the_last100_entry_point():
    [entry] = [ep for ep in metadata.entry_points(group="last100") if ep.name == "meituan"]

    assert entry.load() is MeituanPlugin


def test_the_demo_simulator_knows_every_demo_rider_and_their_orders(running):
    riders = {r.token: r for r in running.state.riders}

    for demo in DEMO_RIDERS:
        rider = riders[demo.token]
        assert (rider.ref, rider.name, rider.suspended) == (demo.platform_ref, demo.masked_name, demo.suspended)
        if demo.order_ref:
            order = running.state.orders[demo.order_ref]
            assert (order.rider_ref, order.community_ref) == (demo.platform_ref, COMMUNITY_ID)


def test_the_demo_settings_point_at_the_simulator_with_its_app_credentials():
    settings = demo_simulator().settings("http://127.0.0.1:9999")

    assert settings == {"app_id": DEMO_APP_ID, "app_secret": DEMO_APP_SECRET, "base_url": "http://127.0.0.1:9999"}


def test_the_simulator_runs_standalone_with_python_dash_m():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "last100_meituan.simulator", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    state = requests.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).json()
                    break
                except requests.exceptions.ConnectionError:
                    assert time.monotonic() < deadline, "the standalone simulator did not start"
                    time.sleep(0.1)
            assert [r["ref"] for r in state["riders"]] == [d.platform_ref for d in DEMO_RIDERS]
        finally:
            process.terminate()
