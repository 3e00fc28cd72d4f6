"""Every hook through the hub's facade, with the built-in plugins around it, against the
real broker and a simulated controller: results, idempotency and mapped errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.core.clock import ManualClock
from hub.core.errors import UpstreamError, UpstreamTimeout
from hub.core.model import AccessEvent, AccessGrant, Connection, Gate, GrantRequest, PassKind
from last100_mqtt_gate.plugin import MqttGatePlugin
from last100_mqtt_gate.simulator import SimulatedController
from last100_mqtt_gate.wire import DoorEvent


def a_request(grant_id: str = "G-1001", minutes: int = 15) -> GrantRequest:
    now = datetime.now(UTC).replace(microsecond=0)
    return GrantRequest(grant_id, "R1001", now, now + timedelta(minutes=minutes), label="DEMO-ORDER-1")


def wait_for(read: Callable[[], list], count: int, timeout: float = 5.0) -> list:
    deadline = time.monotonic() + timeout
    while len(found := read()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_reports_the_broker_and_the_subscriptions(hub, connection, prefix) -> None:
    health = hub.check_connection(connection)

    assert health.ok, health.message
    assert f"connected to {connection.settings['host']}:{connection.settings['port']} as " in health.message
    assert f"{prefix}/+/ack" in health.message and "QoS 1" in health.message
    assert health.latency_ms is not None


def test_one_broker_connection_is_kept_per_hub_connection(hub, connection, gate, controller) -> None:
    first = hub.check_connection(connection).message
    hub.grant_access(connection, gate, a_request())
    # A new timeout applies to the next call; it needs no new broker connection.
    second = hub.check_connection(replace(connection, timeout_s=1.0)).message

    client_id = first.split(" as ")[1].split(",")[0]
    assert client_id.startswith("last100-hub-") and f" as {client_id}," in second


def test_check_connection_names_host_and_port_when_the_broker_is_unreachable(hub, connection, closed_port) -> None:
    down = replace(connection, settings={**connection.settings, "port": closed_port})

    health = hub.check_connection(down)

    assert not health.ok
    assert f"127.0.0.1:{closed_port} cannot be reached" in health.message and "check host, port" in health.message


# -- hub_grant_access ----------------------------------------------------------------------


def test_a_grant_is_acknowledged_and_returns_a_qr_pass(hub, connection, gate, controller) -> None:
    request = a_request()

    granted = hub.grant_access(connection, gate, request)

    assert granted == AccessGrant(
        grant_id="G-1001",
        kind=PassKind.QR,
        # HMAC of "last100-mqtt-gate/v1:G-1001" under the connection's secret (test_credentials.py).
        value="8493312E36DF9FBFAD8CCC65C4EBD428",
        valid_from=request.valid_from,
        valid_until=request.valid_until,
        device_ref="north/1",
    )
    held = controller.passes["G-1001"]
    assert (held.credential, held.door, held.valid_from, held.valid_until) == (
        "8493312E36DF9FBFAD8CCC65C4EBD428",
        "1",
        request.valid_from,
        request.valid_until,
    )


def test_a_duplicate_grant_sends_the_same_credential_and_the_controller_holds_one_pass(
    hub, connection, gate, controller
) -> None:
    request = a_request()
    first = hub.grant_access(connection, gate, request)
    again = hub.grant_access(connection, gate, request)

    assert first.value == again.value
    assert len(controller.passes) == 1
    sent = [r.command for r in controller.received]
    assert len(sent) == 2 and sent[0].id != sent[1].id  # type: ignore[union-attr]
    assert sent[0].grant == sent[1].grant  # type: ignore[union-attr]


def test_a_retry_after_a_lost_ack_installs_the_same_pass(hub, connection, gate, controller) -> None:
    controller.set_mode("silent")
    with pytest.raises(UpstreamTimeout):
        hub.grant_access(replace(connection, timeout_s=0.3), gate, a_request())
    controller.set_mode("ack")

    granted = hub.grant_access(connection, gate, a_request())

    assert controller.swipe(granted.value).accepted


def test_the_gate_ids_setting_maps_a_hub_gate_to_its_controller(
    hub, connection, gate, start_controller: Callable[..., SimulatedController]
) -> None:
    controller = start_controller("ctrl-7")
    mapped = replace(connection, settings={**connection.settings, "gate_ids": {"north": "ctrl-7"}})

    granted = hub.grant_access(mapped, gate, a_request())

    assert "G-1001" in controller.passes and granted.device_ref == "ctrl-7/1"


def test_grants_from_many_threads_share_the_connection(hub, connection, gate, controller) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = list(pool.map(lambda n: hub.grant_access(connection, gate, a_request(f"G-{n}")), range(24)))

    assert len({g.value for g in granted}) == 24
    assert set(controller.passes) == {f"G-{n}" for n in range(24)}


def test_no_ack_in_time_is_an_upstream_timeout(hub, connection, gate, controller) -> None:
    controller.set_mode("silent")
    quick = replace(connection, timeout_s=0.5)

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match=r"controller north did not acknowledge the grant within 0\.5 s"):
        hub.grant_access(quick, gate, a_request())

    assert time.monotonic() - started < 2


def test_a_refused_grant_is_an_upstream_error_naming_the_controllers_error(hub, connection, gate, controller) -> None:
    controller.set_mode("refuse", error="memory_full")

    with pytest.raises(UpstreamError, match="memory_full") as caught:
        hub.grant_access(connection, gate, a_request())

    assert not isinstance(caught.value, UpstreamTimeout)


def test_an_unreachable_broker_is_an_upstream_error(hub, connection, gate, closed_port) -> None:
    down = replace(connection, settings={**connection.settings, "port": closed_port})

    with pytest.raises(UpstreamError, match="cannot be reached") as caught:
        hub.grant_access(down, gate, a_request())

    assert not isinstance(caught.value, UpstreamTimeout)


def test_a_broker_that_accepts_the_socket_and_never_answers_is_a_timeout(hub, connection, gate) -> None:
    # Found by the conformance suite's fault injection: it was an UpstreamError.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        settings = {**connection.settings, "port": silent.getsockname()[1]}
        quiet = replace(connection, settings=settings, timeout_s=0.3)

        with pytest.raises(UpstreamTimeout, match="did not accept the connection in time"):
            hub.grant_access(quiet, gate, a_request())
        with pytest.raises(UpstreamTimeout):
            hub.access_events(quiet, gate, datetime.now(UTC) - timedelta(minutes=5))


def test_a_hub_gate_id_that_cannot_be_a_topic_level_is_an_upstream_error(hub, connection, controller) -> None:
    odd = Gate("north/1", "sunny-garden", "North gate", "sunny-north")

    with pytest.raises(UpstreamError, match="map it in gate_ids"):
        hub.grant_access(connection, odd, a_request())


# -- hub_revoke_access ---------------------------------------------------------------------


def test_revoking_a_grant_the_controller_does_not_know_is_not_an_error(hub, connection, gate, controller) -> None:
    now = datetime.now(UTC)
    unknown = AccessGrant("G-404", PassKind.QR, "0" * 32, now, now + timedelta(minutes=5))

    assert hub.revoke_access(connection, gate, unknown) is True
    assert controller.received[0].command.cmd == "revoke"  # type: ignore[union-attr]


def test_a_revocation_refused_for_another_reason_is_an_upstream_error(hub, connection, gate, controller) -> None:
    granted = hub.grant_access(connection, gate, a_request())
    controller.set_mode("refuse", error="busy")

    with pytest.raises(UpstreamError, match="busy"):
        hub.revoke_access(connection, gate, granted)


# -- hub_open_door ---------------------------------------------------------------------------


def test_a_remote_open_is_acknowledged_and_carries_the_reason(hub, connection, gate, controller) -> None:
    assert hub.open_door(connection, gate, "rider's phone died; order checked by phone") is True

    [opened] = controller.opens
    assert (opened.door, opened.reason) == ("1", "rider's phone died; order checked by phone")


def test_a_remote_open_that_reaches_the_controller_too_late_is_refused(make_hub, connection, gate, controller) -> None:
    # The hub's clock is an hour behind: the controller sees the command as expired,
    # as it would a command delivered long after it was sent.
    late = MqttGatePlugin(clock=ManualClock(datetime.now(UTC) - timedelta(hours=1)))
    try:
        with pytest.raises(UpstreamError, match="expired"):
            make_hub(late).open_door(connection, gate, "late")
    finally:
        late.close()

    assert controller.opens == []


def test_a_remote_open_nobody_acknowledges_is_an_upstream_timeout(hub, connection, gate, controller) -> None:
    controller.set_mode("silent")

    with pytest.raises(UpstreamTimeout):
        hub.open_door(replace(connection, timeout_s=0.3), gate, "test")


# -- hub_access_events -------------------------------------------------------------------------


def test_door_events_reach_access_events(hub, connection, gate, controller) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    hub.access_events(connection, gate, since)  # the first call subscribes
    granted = hub.grant_access(connection, gate, a_request())

    swiped = controller.swipe(granted.value)

    assert swiped.accepted and swiped.event is not None
    events = wait_for(lambda: hub.access_events(connection, gate, since), 1)
    assert events == [
        AccessEvent(
            event_id=swiped.event.event_id,
            occurred_at=swiped.event.at,
            direction="in",
            credential_value=granted.value,
            door_no="1",
            gate_id="north",
        )
    ]


def test_access_events_are_per_gate_and_door(hub, connection, gate, start_controller) -> None:
    north, south = start_controller("north"), start_controller("south")
    side_door = Gate("north-side", "sunny-garden", "North side door", "sunny-north-2", door_no="2")
    mapped = replace(connection, settings={**connection.settings, "gate_ids": {"north-side": "north"}})
    base = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    hub.access_events(mapped, gate, base)
    north.publish_event(DoorEvent("door-1", base + timedelta(minutes=1), "north", door="1"))
    north.publish_event(DoorEvent("door-2", base + timedelta(minutes=2), "north", door="2"))
    south.publish_event(DoorEvent("south", base + timedelta(minutes=3), "south", door="1"))

    main = wait_for(lambda: hub.access_events(mapped, gate, base), 1)
    side = wait_for(lambda: hub.access_events(mapped, side_door, base), 1)

    assert [e.event_id for e in main] == ["door-1"]
    assert [(e.event_id, e.gate_id) for e in side] == [("door-2", "north-side")]


def test_access_events_with_the_broker_down_is_an_upstream_error(hub, connection, gate, closed_port) -> None:
    down = replace(connection, settings={**connection.settings, "port": closed_port})

    with pytest.raises(UpstreamError):
        hub.access_events(down, gate, datetime.now(UTC))


# -- settings changes --------------------------------------------------------------------------


def test_changed_settings_open_a_new_broker_connection(hub, connection: Connection, gate, controller) -> None:
    before = hub.check_connection(connection).message
    changed = replace(connection, settings={**connection.settings, "client_id_prefix": "gatehouse"})

    after = hub.check_connection(changed).message
    granted = hub.grant_access(changed, gate, a_request())

    assert " as last100-hub-" in before and " as gatehouse-" in after
    assert controller.passes["G-1001"].credential == granted.value
