"""End to end: the hub, with its built-in plugins and this plugin, against the simulator
served on loopback, for every hook; pushes delivered over HTTP to a push endpoint that
parses them the way the hub's does; timeouts and slow bodies on a real socket; entry
codes verifying while the platform is down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from hub.core.errors import CredentialRejected, PushRejected, UpstreamError, UpstreamTimeout
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    Notice,
    OrderStatus,
    PushEvent,
    PushRequest,
    RiderClaim,
    RiderStatus,
)
from hub.core.plugins import Hub
from hub.demo import COMMUNITY_ID
from last100_riderpass.client import RiderPassClient
from last100_riderpass.errors import RiderPassTimeout
from last100_riderpass.signing import decode_signing_secret
from last100_riderpass.simulator import demo_simulator

GATE = Gate("north", COMMUNITY_ID, "North gate", "sunny-north")
COMMUNITY = Community(COMMUNITY_ID, "阳光花园 Sunny Garden")


@dataclass
class Platform:
    """A running simulator, a hub connected to it, and what reached the hub's push endpoint."""

    url: str
    stop: Callable[[], None]
    hub: Hub
    connection: Connection
    events: list[PushEvent]
    #: The connection the push endpoint parses pushes for, in a one-item list a test may change.
    receiving_for: list[Connection]

    def admin(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        reply = requests.request(method, f"{self.url}/_sim{path}", json=body, timeout=5)
        assert reply.ok, reply.text
        return reply.json()

    def entry_code(self, token: str = "demo-rider-1", **options: Any) -> Credential:
        return Credential(CredentialKind.ENTRY_CODE, self.admin("POST", "/entry-codes", token=token, **options)["code"])

    def connect(self, **changes: Any) -> Connection:
        """Another connection to the same platform, with some settings or the timeout changed."""
        timeout_s = changes.pop("timeout_s", self.connection.timeout_s)
        settings = {**self.connection.settings, **changes}
        return Connection(self.connection.id, "riderpass", self.connection.name, settings=settings, timeout_s=timeout_s)


@pytest.fixture
def platform(serve, make_hub) -> Platform:
    hub = make_hub()  # the real clock: the simulator checks signatures against it
    simulator = demo_simulator()
    events: list[PushEvent] = []
    receiving_for: list[Connection] = []

    @Request.application
    def push_endpoint(request: Request) -> Response:
        # What the hub's push route does: hand the raw request to the connection's plugin.
        pushed = PushRequest(
            request.method, request.url, dict(request.headers), request.get_data(), received_at=datetime.now(UTC)
        )
        try:
            events.extend(hub.parse_push(receiving_for[0], pushed))
        except PushRejected as exc:
            return Response(json.dumps({"error": str(exc)}), exc.status, mimetype="application/json")
        return Response(json.dumps(hub.plugin("riderpass").info.push_ack), 200, mimetype="application/json")

    receiver = serve(push_endpoint)
    served = serve(simulator.app(f"{receiver.url}/push/riderpass-sim"))
    settings = hub.validate_settings("riderpass", simulator.settings(served.url))
    connection = Connection("riderpass-sim", "riderpass", "RiderPass simulator", settings=settings, timeout_s=1.0)
    receiving_for.append(connection)
    return Platform(served.url, served.stop, hub, connection, events, receiving_for)


# -- every hook ----------------------------------------------------------------------------


def test_a_wrong_signing_secret_fails_the_check_with_the_simulators_refusal(platform) -> None:
    wrong = platform.connect(signing_secret="d3Jvbmctc2lnbmluZy1zZWNyZXQtb2YtMzItYnl0ZXM=")

    health = platform.hub.check_connection(wrong)

    assert not health.ok and "signature_invalid" in health.message


def test_the_simulator_answers_an_unsigned_request_with_a_problem(platform) -> None:
    reply = requests.get(f"{platform.url}/riderpass/v1/ping", timeout=5)

    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "signature_missing"


def test_a_demo_rider_token_verifies(platform) -> None:
    rider = platform.hub.verify_rider(platform.connection, Credential(CredentialKind.TOKEN, "demo-rider-1"), GATE)

    assert (rider.platform_ref, rider.masked_name, rider.status) == ("R1001", "王*", RiderStatus.ACTIVE)
    assert rider.cache_seconds == 300


def test_a_typed_code_verifies(platform) -> None:
    rider = platform.hub.verify_rider(platform.connection, Credential(CredentialKind.TYPED_CODE, "demo-rider-2"), GATE)

    assert rider.platform_ref == "R1002"


def test_active_orders_by_credential_and_by_rider_ref(platform) -> None:
    by_credential = platform.hub.active_orders(
        platform.connection, RiderClaim(Credential(CredentialKind.TOKEN, "demo-rider-1")), COMMUNITY
    )
    by_ref = platform.hub.active_orders(
        platform.connection, RiderClaim(Credential(CredentialKind.TOKEN, "demo-rider-1"), "R1001"), COMMUNITY
    )
    none = platform.hub.active_orders(
        platform.connection, RiderClaim(Credential(CredentialKind.TOKEN, "demo-rider-2"), "R1002"), COMMUNITY
    )

    assert [(o.ref, o.status, o.community_ref) for o in by_credential] == [
        ("DEMO-ORDER-1", OrderStatus.DELIVERING, COMMUNITY_ID)
    ]
    assert by_ref == by_credential
    assert none == []


def test_get_order_and_an_unknown_order(platform) -> None:
    order = platform.hub.get_order(platform.connection, "DEMO-ORDER-1")

    assert order is not None and order.rider_ref == "R1001"
    assert platform.hub.get_order(platform.connection, "NO/SUCH ORDER") is None


def test_an_entry_code_from_the_rider_app_verifies_once_per_jti(platform) -> None:
    code = platform.entry_code()

    rider = platform.hub.verify_rider(platform.connection, code, GATE)

    assert rider.platform_ref == "R1001"
    assert rider.order_refs == ("DEMO-ORDER-1",)
    assert rider.single_use_id and rider.single_use_until is not None
    assert rider.cache_seconds == 0


def test_a_code_the_simulator_issued_for_too_long_is_rejected(platform) -> None:
    with pytest.raises(CredentialRejected) as caught:
        platform.hub.verify_rider(platform.connection, platform.entry_code(ttl_s=600), GATE)

    assert "too long" in caught.value.reason_en


def test_active_orders_for_an_entry_code_resolve_the_rider_locally(platform) -> None:
    orders = platform.hub.active_orders(platform.connection, RiderClaim(platform.entry_code()), COMMUNITY)

    assert [o.ref for o in orders] == ["DEMO-ORDER-1"]


def test_publish_community_is_kept_by_the_platform(platform) -> None:
    profile = CommunityProfile(COMMUNITY, gates=(GATE,), rules_zh="请走北门", rules_en="Use the north gate", version=2)

    receipt = platform.hub.publish_community(platform.connection, profile)
    stale = platform.hub.publish_community(platform.connection, CommunityProfile(COMMUNITY, version=1))

    assert receipt.accepted and receipt.ref == f"profile-{COMMUNITY_ID}-v2"
    assert not stale.accepted
    held = platform.admin("GET", "/profiles")["profiles"][COMMUNITY_ID]
    assert (held["version"], held["rules"]["zh"], held["gates"][0]["code"]) == (2, "请走北门", "sunny-north")


def test_notify_rider_reaches_the_platform(platform) -> None:
    notice = Notice("gate_open", "北门已开", "North gate is open", {"gate": "north"})

    receipt = platform.hub.notify_rider(platform.connection, "R1001", notice)

    assert receipt.accepted
    [kept] = platform.admin("GET", "/notices")["notices"]
    assert (kept["rider_ref"], kept["text"]["en"], kept["data"]) == ("R1001", "North gate is open", {"gate": "north"})


# -- pushes over HTTP --------------------------------------------------------------------


def test_an_order_status_change_is_pushed_and_parsed(platform) -> None:
    sent = platform.admin("POST", "/orders/DEMO-ORDER-1/status", status="delivered")

    assert sent["push"]["status"] == 200
    [event] = platform.events
    assert event.event_id == sent["push"]["id"]
    assert event.order is not None
    assert (event.order.ref, event.order.status) == ("DEMO-ORDER-1", OrderStatus.DELIVERED)


def test_a_new_order_is_pushed(platform) -> None:
    sent = platform.admin("POST", "/orders", rider_ref="R1002", community_id=COMMUNITY_ID, ref="SIM-7", building="5")

    [event] = platform.events
    assert sent["push"]["status"] == 200
    assert event.order is not None and (event.order.ref, event.order.rider_ref) == ("SIM-7", "R1002")


def test_suspension_and_reinstatement_are_pushed_and_seen_by_verification(platform) -> None:
    platform.admin("POST", "/riders/R1002/suspend")
    suspended = platform.hub.verify_rider(platform.connection, Credential(CredentialKind.TOKEN, "demo-rider-2"), GATE)
    platform.admin("POST", "/riders/R1002/reinstate")

    assert [(e.rider_ref, e.rider_status) for e in platform.events] == [
        ("R1002", RiderStatus.SUSPENDED),
        ("R1002", RiderStatus.ACTIVE),
    ]
    assert suspended.status is RiderStatus.SUSPENDED
    assert len({e.event_id for e in platform.events}) == 2


def test_pushes_signed_for_another_connection_are_refused_with_401(platform) -> None:
    # The hub holds a different push secret than the one the platform signs with.
    platform.receiving_for[0] = platform.connect(push_secrets=["whsec_cmlkZXJwYXNzLXJvdGF0ZWQtd2ViaG9vay1rZXktMzI="])

    sent = platform.admin("POST", "/orders/DEMO-ORDER-1/status", status="arrived")

    assert sent["push"]["status"] == 401
    assert platform.events == []


# -- slow and stopped platforms ------------------------------------------------------------


def test_a_body_trickling_in_past_the_timeout_is_an_upstream_timeout(platform) -> None:
    # Each piece arrives well within the read timeout; only the whole-reply deadline
    # notices that the answer as a whole is too late.
    platform.admin("PUT", "/delay", seconds=4, mode="body")
    quick = platform.connect(timeout_s=1.0)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        platform.hub.get_order(quick, "DEMO-ORDER-1")

    assert time.monotonic() - started < 2.5


def test_the_client_abandons_a_trickling_body_at_its_deadline(platform) -> None:
    platform.admin("PUT", "/delay", seconds=4, mode="body")
    client = RiderPassClient(
        platform.connection.settings["base_url"],
        platform.connection.settings["key_id"],
        decode_signing_secret(platform.connection.settings["signing_secret"]),
        timeout=(0.5, 1.0),
        deadline_s=1.0,
    )

    started = time.monotonic()
    with pytest.raises(RiderPassTimeout, match="not complete"):
        client.get_order("DEMO-ORDER-1")

    assert time.monotonic() - started < 2.5


def test_the_delay_can_be_turned_off_again(platform) -> None:
    platform.admin("PUT", "/delay", seconds=3, mode="headers")
    platform.admin("PUT", "/delay", seconds=0)

    assert platform.hub.check_connection(platform.connect(timeout_s=0.5)).ok


def test_a_rider_entry_code_verifies_while_the_platform_simulator_is_stopped(platform) -> None:
    code = platform.entry_code()
    platform.stop()

    with pytest.raises(UpstreamError):  # the platform really is gone
        platform.hub.verify_rider(platform.connection, Credential(CredentialKind.TOKEN, "demo-rider-1"), GATE)
    rider = platform.hub.verify_rider(platform.connection, code, GATE)

    assert rider.platform_ref == "R1001"
    assert rider.order_refs == ("DEMO-ORDER-1",)


def test_the_standalone_simulator_prints_settings_that_connect(make_hub) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "last100_riderpass.simulator", "--port", "0"],
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
        settings = hub.validate_settings("riderpass", json.loads("".join(lines)))

        health = hub.check_connection(Connection("standalone", "riderpass", "Standalone", settings=settings))
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert health.ok, health.message


@pytest.mark.parametrize(
    ("error_rate", "slow_rate", "status", "slept"),
    [
        (0.0, 0.0, 401, []),  # an unsigned request, answered at once
        (1.0, 0.0, 503, []),  # injected failure: before the signature is looked at
        (0.0, 1.0, 401, [1.5]),  # injected slowness, then the usual answer
    ],
)
def test_injected_errors_and_slowness(monkeypatch, error_rate, slow_rate, status, slept) -> None:
    from last100_riderpass import simulator as sim

    sleeps: list[float] = []
    monkeypatch.setattr(sim.time, "sleep", sleeps.append)
    app = sim.create_app(sim.SimulatorKeys.generate(), error_rate=error_rate, slow_rate=slow_rate, slow_s=1.5)
    reply = app.test_client().get(f"{sim.BASE_PATH}/v1/ping")
    assert reply.status_code == status
    assert sleeps == slept
