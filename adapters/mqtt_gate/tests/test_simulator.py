"""The simulated controller on the real broker: passes, windows, revocation, door events,
malformed commands, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hub.core.model import Connection, Gate, GrantRequest
from last100_mqtt_gate.client import GateController
from last100_mqtt_gate.simulator import SimulatedController
from last100_mqtt_gate.wire import GrantSpec

START = datetime.now(UTC).replace(microsecond=0)
END = START + timedelta(minutes=10)


@pytest.fixture
def client(broker, prefix):
    client = GateController(*broker, prefix, client_id=f"sim-test-{uuid.uuid4().hex[:8]}")
    yield client
    client.close()


@pytest.fixture
def granted(client, controller: SimulatedController) -> SimulatedController:
    client.grant("north", "1", GrantSpec("G-1", "CRED-1", START, END), timeout=3)
    return controller


def test_a_swipe_inside_the_window_opens_and_publishes_a_door_event(client, granted: SimulatedController) -> None:
    result = granted.swipe("CRED-1", START + timedelta(minutes=1), direction="in")

    assert (result.accepted, result.reason) == (True, "opened")
    deadline = time.monotonic() + 5
    while not client.events("north", START) and time.monotonic() < deadline:
        time.sleep(0.02)
    [event] = client.events("north", START)
    assert (event.event_id, event.credential, event.door, event.at) == (
        result.event.event_id,  # type: ignore[union-attr]
        "CRED-1",
        "1",
        START + timedelta(minutes=1),
    )


def test_a_swipe_after_the_window_is_refused_as_expired(client, granted: SimulatedController) -> None:
    assert granted.swipe("CRED-1", END + timedelta(seconds=1)).reason == "expired"


def test_a_swipe_before_the_window_is_refused(client, granted: SimulatedController) -> None:
    assert granted.swipe("CRED-1", START - timedelta(seconds=1)).reason == "not_yet_valid"


def test_a_swipe_after_revocation_is_refused(client, granted: SimulatedController) -> None:
    client.revoke("north", "1", GrantSpec("G-1", "CRED-1"), timeout=3)

    assert granted.swipe("CRED-1", START + timedelta(minutes=1)).reason == "revoked"


def test_an_unknown_credential_or_another_door_is_refused(client, granted: SimulatedController) -> None:
    assert granted.swipe("NOT-ISSUED").reason == "unknown"
    assert granted.swipe("CRED-1", START + timedelta(minutes=1), door="2").reason == "wrong_door"


def test_a_refused_swipe_publishes_no_event(client, granted: SimulatedController) -> None:
    client.connect()
    granted.swipe("CRED-1", END + timedelta(minutes=1))
    time.sleep(0.2)

    assert client.events("north", START - timedelta(days=1)) == []


def test_a_regrant_replaces_the_window(client, granted: SimulatedController) -> None:
    later = END + timedelta(minutes=30)
    client.grant("north", "1", GrantSpec("G-1", "CRED-1", START, later), timeout=3)

    assert granted.swipe("CRED-1", END + timedelta(minutes=1)).accepted


def test_a_malformed_command_with_an_id_is_answered_invalid_command(broker, prefix, controller) -> None:
    answers: list[bytes] = []
    arrived = threading.Event()

    def on_message(_c, _u, message) -> None:
        answers.append(message.payload)
        arrived.set()

    other = mqtt.Client(CallbackAPIVersion.VERSION2)
    other.on_message = on_message
    other.connect(*broker)
    other.loop_start()
    try:
        other.subscribe(f"{prefix}/north/ack", qos=1)
        time.sleep(0.2)
        other.publish(f"{prefix}/north/cmd", b'{"id":"c-bad","cmd":"explode"}', qos=1)
        assert arrived.wait(5)
    finally:
        other.disconnect()
        other.loop_stop()

    answer = json.loads(answers[0])
    assert (answer["id"], answer["ok"], answer["error"]) == ("c-bad", False, "invalid_command")
    assert "cmd must be one of" in answer["message"]


def test_the_command_line_prints_settings_a_hub_can_use(broker, prefix, hub) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "last100_mqtt_gate.simulator", "--host", broker[0], "--port", str(broker[1]),
         "--prefix", prefix, "--gate", "gate-9"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            lines.append(process.stdout.readline())  # type: ignore[union-attr]
        settings = hub.validate_settings("mqtt-gate", json.loads("".join(lines)))
        connection = Connection("cli", "mqtt-gate", "CLI controller", settings=settings)
        now = datetime.now(UTC)
        granted = hub.grant_access(
            connection, Gate("gate-9", "c", "Gate 9", "g9"), GrantRequest("G-9", "R", now, now + timedelta(minutes=5))
        )

        process.stdin.write(f"swipe {granted.value}\nswipe NOT-ISSUED\n")  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
        said = [process.stderr.readline() for _ in range(4)]  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.wait(5)

    assert (settings["topic_prefix"], settings["port"]) == (prefix, broker[1])
    assert "opened: opened\n" in said and "refused: unknown\n" in said
