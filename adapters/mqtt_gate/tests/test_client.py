"""The client against the real broker, with a simulated controller answering: commands
acknowledged by id, QoS 1, timeouts, refusals, unreachable brokers, reconnection, door
events."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from last100_mqtt_gate.client import GateController, MqttConnectionError, MqttRefused, MqttTimeout
from last100_mqtt_gate.simulator import SimulatedController
from last100_mqtt_gate.wire import Command, DoorEvent, GrantSpec


@pytest.fixture
def make_client(broker: tuple[str, int], prefix: str) -> Iterator[Callable[..., GateController]]:
    made: list[GateController] = []

    def make(**kwargs: Any) -> GateController:
        options = {"client_id": f"test-{uuid.uuid4().hex[:8]}", **kwargs}
        client = GateController(options.pop("host", broker[0]), options.pop("port", broker[1]), prefix, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., GateController]) -> GateController:
    return make_client()


def a_grant(grant_id: str = "G-1", credential: str = "CRED-1", minutes: int = 10) -> GrantSpec:
    now = datetime.now(UTC).replace(microsecond=0)
    return GrantSpec(grant_id, credential, now, now + timedelta(minutes=minutes))


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_grant_is_acknowledged_and_held_by_the_controller(client, controller: SimulatedController) -> None:
    ack = client.grant("north", "1", a_grant(), timeout=3)

    assert ack.ok
    held = controller.passes["G-1"]
    assert (held.credential, held.door) == ("CRED-1", "1")


def test_the_ack_matched_is_the_one_carrying_the_commands_id(client, controller: SimulatedController) -> None:
    ack = client.grant("north", "1", a_grant(), timeout=3)

    [received] = controller.received
    assert received.command is not None and ack.id == received.command.id


def test_commands_are_published_at_qos_1_and_not_retained(client, controller: SimulatedController) -> None:
    client.grant("north", "1", a_grant(), timeout=3)
    client.open("north", "1", reason="test", timeout=3)

    assert [(r.qos, r.retain) for r in controller.received] == [(1, False), (1, False)]


def test_the_acknowledgement_and_event_subscriptions_are_granted_qos_1(client, prefix: str) -> None:
    client.connect()

    assert client.granted_qos == {f"{prefix}/+/ack": 1, f"{prefix}/+/event": 1}


def test_a_round_trip_gets_an_answer_and_keeps_the_subscriptions(client, controller: SimulatedController) -> None:
    client.connect()

    seconds = client.round_trip(timeout=3)
    controller.publish_event(DoorEvent("e-1", datetime(2026, 1, 5, 4, 0, tzinfo=UTC), "north"))

    assert 0 < seconds < 3
    assert wait_until(lambda: len(client.events("north", datetime(2026, 1, 1, tzinfo=UTC))) == 1)
    assert client.grant("north", "1", a_grant(), timeout=3).ok


def test_each_command_has_a_new_id(client, controller: SimulatedController) -> None:
    client.grant("north", "1", a_grant(), timeout=3)
    client.grant("north", "1", a_grant(), timeout=3)

    ids = {r.command.id for r in controller.received if r.command}
    assert len(ids) == 2 and len(controller.passes) == 1


def test_a_silent_controller_gives_a_timeout_after_the_wait(client, controller: SimulatedController) -> None:
    client.connect()
    controller.set_mode("silent")

    started = time.monotonic()
    with pytest.raises(MqttTimeout, match=r"north did not acknowledge grant within 0\.4 s"):
        client.grant("north", "1", a_grant(), timeout=0.4)

    assert 0.35 < time.monotonic() - started < 1.5


def test_a_controller_that_is_not_there_gives_a_timeout(client, controller: SimulatedController) -> None:
    with pytest.raises(MqttTimeout):
        client.open("south", "1", reason="nobody listens on south", timeout=0.3)


def test_a_refusal_carries_the_controllers_error_code(client, controller: SimulatedController) -> None:
    controller.set_mode("refuse", error="door_jammed")

    with pytest.raises(MqttRefused) as caught:
        client.open("north", "1", reason="test", timeout=3)

    assert caught.value.error == "door_jammed"
    assert "door_jammed" in str(caught.value)


def test_revoking_an_unknown_grant_is_refused_as_unknown(client, controller: SimulatedController) -> None:
    with pytest.raises(MqttRefused) as caught:
        client.revoke("north", "1", GrantSpec("G-404", "X"), timeout=3)

    assert caught.value.error == "unknown_grant"


def test_a_late_ack_of_a_timed_out_command_is_ignored(client, controller: SimulatedController) -> None:
    client.connect()
    controller.set_mode("silent")
    with pytest.raises(MqttTimeout):
        client.open("north", "1", reason="first", timeout=0.2)
    controller.set_mode("ack")

    # The next command gets its own acknowledgement, not a stray one.
    ack = client.open("north", "1", reason="second", timeout=3)

    assert ack.id == controller.received[-1].command.id  # type: ignore[union-attr]


def test_an_unreachable_broker_fails_at_once(make_client, closed_port: int) -> None:
    client = make_client(port=closed_port)

    started = time.monotonic()
    with pytest.raises(MqttConnectionError, match=f"127.0.0.1:{closed_port} cannot be reached"):
        client.grant("north", "1", a_grant(), timeout=3)

    assert time.monotonic() - started < 1


def test_an_unresolvable_host_is_a_connection_error(make_client) -> None:
    client = make_client(host="broker.invalid", connect_timeout_s=1)

    with pytest.raises(MqttConnectionError, match=r"broker\.invalid:1883 cannot be reached"):
        client.connect()


def test_commands_from_many_threads_each_get_their_own_ack(client, controller: SimulatedController) -> None:
    def grant(n: int) -> str:
        return client.grant("north", "1", a_grant(f"G-{n}", f"CRED-{n}"), timeout=5).id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ack_ids = list(pool.map(grant, range(40)))

    assert len(set(ack_ids)) == 40
    assert {p.credential for p in controller.passes.values()} == {f"CRED-{n}" for n in range(40)}


def test_the_client_reconnects_and_resubscribes_after_losing_the_connection(
    make_client, controller: SimulatedController, broker: tuple[str, int]
) -> None:
    client = make_client(connect_timeout_s=5)
    client.connect()
    # A second connection with the same client id takes the session over: the broker
    # drops the client's connection, as it would on a network failure.
    intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client.client_id)
    intruder.connect(*broker)
    intruder.loop_start()
    assert wait_until(lambda: not client.connected)
    intruder.disconnect()
    intruder.loop_stop()

    ack = client.grant("north", "1", a_grant(), timeout=8)
    controller.swipe("CRED-1")

    assert ack.ok and client.connected
    assert wait_until(lambda: len(client.events("north", datetime.now(UTC) - timedelta(minutes=1))) == 1)


def test_door_events_are_buffered_per_gate(client, start_controller: Callable[..., SimulatedController]) -> None:
    north, south = start_controller("north"), start_controller("south")
    client.connect()
    client.grant("north", "1", a_grant("G-N", "N"), timeout=3)
    client.grant("south", "1", a_grant("G-S", "S"), timeout=3)
    since = datetime.now(UTC) - timedelta(minutes=1)

    north.swipe("N")
    south.swipe("S", direction="out")

    assert wait_until(lambda: client.events("north", since) and client.events("south", since))
    [n], [s] = client.events("north", since), client.events("south", since)
    assert (n.gate, n.credential, n.direction) == ("north", "N", "in")
    assert (s.gate, s.credential, s.direction) == ("south", "S", "out")


def test_events_are_returned_after_since_oldest_first(client, controller: SimulatedController) -> None:
    client.connect()
    base = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    for minute in (3, 1, 2):
        controller.publish_event(DoorEvent(f"e-{minute}", base + timedelta(minutes=minute), "north"))

    assert wait_until(lambda: len(client.events("north", base)) == 3)
    assert [e.event_id for e in client.events("north", base + timedelta(minutes=1))] == ["e-2", "e-3"]


def test_an_event_delivered_twice_is_kept_once(client, controller: SimulatedController) -> None:
    client.connect()
    event = DoorEvent("e-1", datetime(2026, 1, 5, 4, 0, tzinfo=UTC), "north")
    controller.publish_event(event)
    controller.publish_event(event)
    controller.publish_event(DoorEvent("e-2", datetime(2026, 1, 5, 4, 1, tzinfo=UTC), "north"))

    assert wait_until(lambda: len(client.events("north", datetime(2026, 1, 1, tzinfo=UTC))) >= 2)
    assert [e.event_id for e in client.events("north", datetime(2026, 1, 1, tzinfo=UTC))] == ["e-1", "e-2"]


def test_the_event_buffer_keeps_the_newest(make_client, controller: SimulatedController) -> None:
    client = make_client(event_buffer=5)
    client.connect()
    base = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    for n in range(8):
        controller.publish_event(DoorEvent(f"e-{n}", base + timedelta(seconds=n), "north"))

    assert wait_until(lambda: client.events("north", base + timedelta(seconds=6)) != [])
    assert [e.event_id for e in client.events("north", base - timedelta(seconds=1))] == [f"e-{n}" for n in range(3, 8)]


def test_malformed_messages_are_dropped_and_the_client_keeps_working(
    client, controller: SimulatedController, broker, prefix
) -> None:
    client.connect()
    other = mqtt.Client(CallbackAPIVersion.VERSION2)
    other.connect(*broker)
    other.loop_start()
    for topic in (f"{prefix}/north/ack", f"{prefix}/north/event"):
        other.publish(topic, b"{not json", qos=1).wait_for_publish(3)
    other.disconnect()
    other.loop_stop()

    assert client.grant("north", "1", a_grant(), timeout=3).ok
    assert client.events("north", datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_a_closed_client_fails_waiting_commands_and_refuses_new_ones(client, controller: SimulatedController) -> None:
    client.connect()
    controller.set_mode("silent")
    failures: list[BaseException] = []

    def wait_for_ack() -> None:
        try:
            client.open("north", "1", reason="pending", timeout=10)
        except Exception as exc:  # recorded for the assertion below
            failures.append(exc)

    waiting = threading.Thread(target=wait_for_ack)
    waiting.start()
    assert wait_until(lambda: len(controller.received) == 1)
    started = time.monotonic()
    client.close()
    waiting.join(5)

    assert [type(f) for f in failures] == [MqttConnectionError]
    assert time.monotonic() - started < 3
    with pytest.raises(MqttConnectionError, match="closed"):
        client.connect()


def test_commands_carry_expires_at_after_sent_at_by_the_ttl(make_client, controller: SimulatedController) -> None:
    client = make_client(command_ttl_s=45)
    client.open("north", "1", reason="ttl", timeout=3)

    command: Command = controller.received[0].command  # type: ignore[assignment]
    assert command.expires_at - command.sent_at == timedelta(seconds=45)


def test_a_gate_id_that_is_not_a_topic_level_is_refused_before_publishing(client) -> None:
    with pytest.raises(ValueError, match="must not contain '/'"):
        client.open("north/1", "1", reason="x", timeout=1)
