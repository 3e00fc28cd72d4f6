"""End to end: the hub, with its built-in plugins and this plugin, against the simulated
controller served on loopback, for every hook; Digest checked for real; pushes delivered
over HTTP to a push endpoint that parses them the way the hub's does; a slow device on a
real socket."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests.auth import HTTPDigestAuth
from werkzeug.wrappers import Request, Response

from hub.core.errors import PushRejected, UpstreamError, UpstreamTimeout
from hub.core.model import AccessGrant, Connection, Gate, GrantRequest, PassKind, PushEvent, PushRequest
from hub.core.plugins import Hub
from last100_hikvision.simulator import SimulatorKeys, create_app

NORTH = Gate("north", "sunny-garden", "North gate", "sunny-north", door_no="1", access_connection_id="hik-sim")
EAST = Gate("east", "sunny-garden", "East gate", "sunny-east", door_no="2", access_connection_id="hik-sim")


@dataclass
class Device:
    """A running simulated controller, a hub connected to it, and what reached the hub's
    push endpoint."""

    url: str
    keys: SimulatorKeys
    hub: Hub
    connection: Connection
    events: list[PushEvent]

    def admin(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        reply = requests.request(method, f"{self.url}/_sim{path}", json=body or None, timeout=5)
        assert reply.ok, reply.text
        return reply.json()

    def swipe(self, card: str, door: str = "1", at: datetime | None = None, **more: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"card": card, "door": door, **more}
        if at is not None:
            body["at"] = at.isoformat()
        return self.admin("POST", "/swipe", **body)

    def state(self) -> dict[str, Any]:
        return self.admin("GET", "/state")

    def connect(self, timeout_s: float | None = None, **changes: Any) -> Connection:
        """Another connection to the same device, with some settings or the timeout changed."""
        settings = {**self.connection.settings, **changes}
        timeout = self.connection.timeout_s if timeout_s is None else timeout_s
        return Connection(self.connection.id, "hikvision", self.connection.name, settings=settings, timeout_s=timeout)

    def grant(self, minutes: int = 20, gate: Gate = NORTH, start: datetime | None = None) -> AccessGrant:
        start = start or datetime.now(UTC)
        request = GrantRequest(str(uuid.uuid4()), "R1001", start, start + timedelta(minutes=minutes), "rider demo")
        return self.hub.grant_access(self.connection, gate, request)


@pytest.fixture
def start_device(serve, make_hub) -> Callable[..., Device]:
    """Start a simulated controller (``create_app`` options as keywords) with a push
    endpoint, and connect a hub to it (``hub_settings`` changing the settings it got)."""

    def start(hub_settings: dict[str, Any] | None = None, **options: Any) -> Device:
        hub = make_hub()  # the real clock: the device's clock is the real one too
        keys = SimulatorKeys.generate()
        events: list[PushEvent] = []
        holder: list[Connection] = []

        @Request.application
        def push_endpoint(request: Request) -> Response:
            # What the hub's push route does: hand the raw request to the connection's plugin.
            pushed = PushRequest(
                request.method,
                request.base_url,
                dict(request.headers),
                request.get_data(),
                received_at=datetime.now(UTC),
                query=request.args.to_dict(),
            )
            try:
                events.extend(hub.parse_push(holder[0], pushed))
            except PushRejected as exc:
                return Response(json.dumps({"error": str(exc)}), exc.status, mimetype="application/json")
            return Response(json.dumps(hub.plugin("hikvision").info.push_ack), 200, mimetype="application/json")

        receiver = serve(push_endpoint)
        served = serve(create_app(keys, push_url=f"{receiver.url}/push/hik-sim", **options))
        settings = hub.validate_settings("hikvision", {**keys.settings(served.url), **(hub_settings or {})})
        connection = Connection("hik-sim", "hikvision", "North gate controller", settings=settings, timeout_s=2.0)
        holder.append(connection)
        return Device(served.url, keys, hub, connection, events)

    return start


@pytest.fixture
def device(start_device) -> Device:
    return start_device()


# -- connection and authentication ---------------------------------------------------------


def test_check_connection_passes_with_digest(device) -> None:
    health = device.hub.check_connection(device.connection)

    assert health.ok, health.message
    assert health.message.startswith("DS-K1T671M, firmware V3.2.30 build 220512: Digest sign-in accepted")


def test_a_wrong_password_fails_the_check_naming_the_settings(device) -> None:
    health = device.hub.check_connection(device.connect(password="not-the-password"))

    assert not health.ok
    assert "username" in health.message and "password" in health.message


def test_the_device_challenges_a_request_without_credentials(device) -> None:
    reply = requests.get(f"{device.url}/ISAPI/System/deviceInfo", timeout=5)

    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith('Digest qop="auth", realm="IP Camera(')


def test_the_device_refuses_a_replayed_digest_answer(device) -> None:
    session = requests.Session()
    url = f"{device.url}/ISAPI/System/deviceInfo"
    first = session.get(url, auth=HTTPDigestAuth("admin", device.keys.password), timeout=5)
    answer = first.request.headers["Authorization"]

    replayed = session.get(url, headers={"Authorization": answer}, timeout=5)

    assert first.status_code == 200
    assert replayed.status_code == 401


def test_the_device_refuses_a_digest_answer_made_for_another_uri(device) -> None:
    url = f"{device.url}/ISAPI/System/deviceInfo"
    answer = requests.get(url, auth=HTTPDigestAuth("admin", device.keys.password), timeout=5).request.headers[
        "Authorization"
    ]
    # The same nonce and a fresh nc, but the answer was computed for deviceInfo.
    moved = answer.replace("nc=00000001", "nc=00000002")

    reply = requests.get(
        f"{device.url}/ISAPI/AccessControl/UserInfoDetail/DeleteProcess?format=json",
        headers={"Authorization": moved},
        timeout=5,
    )

    assert reply.status_code == 401


def test_auto_falls_back_to_basic_on_old_firmware(start_device) -> None:
    old = start_device(auth="basic")

    health = old.hub.check_connection(old.connection)
    issued = old.grant()

    assert health.ok and "Basic sign-in accepted" in health.message
    assert old.swipe(issued.value)["granted"] is True


def test_digest_only_against_old_firmware_names_the_auth_setting(start_device) -> None:
    old = start_device(auth="basic")

    health = old.hub.check_connection(old.connect(auth="digest"))

    assert not health.ok and health.message.startswith("auth:")


# -- passes at the door -------------------------------------------------------------------


def test_a_granted_pass_opens_its_door_inside_its_window(device) -> None:
    issued = device.grant()

    swiped = device.swipe(issued.value)

    assert issued.kind is PassKind.QR and len(issued.value) == 10
    assert (swiped["granted"], swiped["reason"]) == (True, "granted")
    [user] = device.state()["users"]
    assert (user["employeeNo"], user["userType"], user["doors"]) == (issued.device_ref, "visitor", [1])


def test_the_window_is_kept_in_the_devices_wall_time(device) -> None:
    start = datetime(2026, 1, 5, 4, 0, 30, 250000, tzinfo=UTC)

    device.grant(minutes=20, start=start)

    [user] = device.state()["users"]
    assert user["Valid"] == {"enable": True, "beginTime": "2026-01-05T12:00:30", "endTime": "2026-01-05T12:20:30"}


def test_a_pass_is_refused_before_and_after_its_window(device) -> None:
    start = datetime.now(UTC)
    issued = device.grant(minutes=20, start=start)

    early = device.swipe(issued.value, at=start - timedelta(minutes=1))
    late = device.swipe(issued.value, at=start + timedelta(minutes=21))
    last_second = device.swipe(issued.value, at=start.replace(microsecond=0) + timedelta(minutes=20))

    assert (early["granted"], early["reason"]) == (False, "not yet valid")
    assert (late["granted"], late["reason"]) == (False, "expired")
    assert last_second["granted"] is True
    assert [e["minor"] for e in device.state()["events"]] == [7, 8, 1]


def test_the_devices_own_clock_decides_a_swipe_that_names_no_time(start_device) -> None:
    an_hour_on = datetime.now(UTC) + timedelta(hours=1)
    device = start_device(clock=lambda: an_hour_on)
    issued = device.grant(minutes=20)

    swiped = device.swipe(issued.value)

    assert (swiped["granted"], swiped["reason"]) == (False, "expired")


def test_a_pass_is_refused_at_another_gates_door(device) -> None:
    issued = device.grant(gate=NORTH)

    swiped = device.swipe(issued.value, door="2")

    assert (swiped["granted"], swiped["reason"]) == (False, "no right to door 2")


def test_revoking_one_pass_leaves_the_others(device) -> None:
    kept, revoked = device.grant(), device.grant()

    device.hub.revoke_access(device.connection, NORTH, revoked)

    assert device.swipe(kept.value)["granted"] is True
    assert device.swipe(revoked.value)["granted"] is False


def test_a_door_the_device_does_not_have_is_refused_as_a_bad_parameter(device) -> None:
    nowhere = Gate("west", "sunny-garden", "West gate", "sunny-west", door_no="9", access_connection_id="hik-sim")

    with pytest.raises(UpstreamError, match=r"badParameters \(doorNo\)"):
        device.grant(gate=nowhere)


# -- remote opening and events ----------------------------------------------------------


def test_a_guard_opens_the_door_remotely(device) -> None:
    assert device.hub.open_door(device.connection, EAST, "parcel trolley") is True

    state = device.state()
    assert [(o["door"], o["cmd"]) for o in state["remote_opens"]] == [(2, "open")]
    assert [(e["major"], e["minor"], e["doorNo"]) for e in state["events"]] == [(3, 0x400, 2)]


def test_door_events_are_the_passes_at_the_gate_page_by_page(device) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    north, east = device.grant(gate=NORTH), device.grant(gate=EAST)
    device.swipe(north.value)
    device.swipe(north.value, reader=2)  # leaving through door 1's exit reader
    device.swipe(east.value, door="2")
    device.swipe("1234567890")  # an unknown card
    device.swipe(north.value)
    one_per_page = device.connect(max_results=1)

    events = device.hub.access_events(one_per_page, NORTH, since)

    assert [(e.direction, e.credential_value, e.door_no, e.gate_id) for e in events] == [
        ("in", north.value, "1", "north"),
        ("out", north.value, "1", "north"),
        ("in", north.value, "1", "north"),
    ]
    assert [e.event_id for e in events] == ["1", "2", "5"]


# -- pushes -------------------------------------------------------------------------------


def test_a_swipe_is_pushed_as_multipart_and_becomes_a_door_event(device) -> None:
    issued = device.grant()

    swiped = device.swipe(issued.value)

    assert swiped["push"] == {"serialNo": 1, "status": 200}
    [event] = device.events
    assert event.event_id == "1"
    assert (event.access_event.credential_value, event.access_event.door_no) == (issued.value, "1")


def test_a_refused_swipe_is_pushed_and_acknowledged_without_an_event(device) -> None:
    swiped = device.swipe("1234567890")

    assert swiped["push"]["status"] == 200
    assert device.events == []


def test_a_plain_json_push_becomes_a_door_event_too(start_device) -> None:
    device = start_device(push_format="json")
    issued = device.grant()

    device.swipe(issued.value)

    assert [e.access_event.credential_value for e in device.events] == [issued.value]


def test_a_push_carrying_another_token_is_refused_with_401(start_device) -> None:
    device = start_device(hub_settings={"push_token": "the-hub-expects-another-token"})
    issued = device.grant()

    swiped = device.swipe(issued.value)

    assert swiped["granted"] is True
    assert swiped["push"]["status"] == 401
    assert device.events == []


# -- the device's own replies ------------------------------------------------------------


def digest_get(device: Device, path: str) -> requests.Response:
    return requests.get(f"{device.url}{path}", auth=HTTPDigestAuth("admin", device.keys.password), timeout=5)


def test_an_unknown_isapi_url_is_not_supported(device) -> None:
    reply = digest_get(device, "/ISAPI/AccessControl/Door/param/1?format=json")

    assert reply.status_code == 404
    assert (reply.json()["statusCode"], reply.json()["subStatusCode"]) == (4, "notSupport")


def test_a_json_endpoint_called_without_format_json_answers_in_xml(device) -> None:
    reply = digest_get(device, "/ISAPI/AccessControl/UserInfoDetail/DeleteProcess")

    assert reply.status_code == 400
    assert b"<subStatusCode>badXmlFormat</subStatusCode>" in reply.content


# -- slow device ---------------------------------------------------------------------------


def test_a_device_slower_than_the_timeout_is_an_upstream_timeout(device) -> None:
    device.admin("POST", "/delay", seconds=3)
    quick = device.connect(timeout_s=0.5)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        device.hub.open_door(quick, NORTH, "guard")

    assert time.monotonic() - started < 2


def test_the_delay_can_be_turned_off_again(device) -> None:
    device.admin("POST", "/delay", seconds=3)
    device.admin("POST", "/delay", seconds=0)

    assert device.hub.check_connection(device.connect(timeout_s=0.5)).ok


def test_the_standalone_simulator_prints_settings_that_connect(make_hub) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "last100_hikvision.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] and lines[-1] != "}\n":
            lines.append(process.stdout.readline())
        hub = make_hub()
        settings = hub.validate_settings("hikvision", json.loads("".join(lines)))

        health = hub.check_connection(Connection("standalone", "hikvision", "Standalone", settings=settings))
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert health.ok, health.message
