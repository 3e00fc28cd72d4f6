"""The hub's access-control conformance suite (``hub.testing``), run against the plugin,
the real broker and a simulated controller (skipped without a broker, unless
``LAST100_REQUIRE_MQTT=1``)."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.core.model import AccessGrant
from hub.testing import AccessHarness, Env, access_suite
from last100_mqtt_gate.client import QOS
from last100_mqtt_gate.plugin import MqttGatePlugin
from last100_mqtt_gate.simulator import SimulatedController
from last100_mqtt_gate.wire import ack_topic, command_topic

SECRET = "conformance-credential-secret-0123456789"

_NO_BODY = "an MQTT acknowledgement is one message: it has no body to trickle"


class GarblingController:
    """A controller that answers every command with an acknowledgement cut off in the
    middle (its id readable, the rest not JSON)."""

    def __init__(self, host: str, port: int, prefix: str, gate: str) -> None:
        self.prefix, self.gate = prefix, gate
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"garbler-{secrets.token_hex(4)}")
        self._client.on_connect = lambda c, *_: c.subscribe(command_topic(prefix, gate), qos=QOS)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._answer
        self._client.connect(host, port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(5):
            self.stop()
            raise ConnectionError("the garbling controller could not subscribe")

    def _answer(self, client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command_id = json.loads(message.payload)["id"]
        client.publish(ack_topic(self.prefix, self.gate), f'{{"id": "{command_id}", "ok": tr'.encode(), qos=QOS)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class MqttGateHarness(AccessHarness):
    plugin = MqttGatePlugin
    events_delay_s = 5.0  # door events come through the broker
    invalid_settings: ClassVar[dict[str, Any]] = {
        "host": "",
        "port": 0,
        "topic_prefix": "acme/#",
        "gate_ids": {"north": "a/b"},
        "credential_secret": "short",
        "client_id_prefix": "has space",
        "tls_ca_file": "/no/such/ca.pem",
    }
    not_applicable: ClassVar[dict[str, str]] = {"times_out_on_a_trickling_reply": _NO_BODY}
    faults_not_applicable: ClassVar[dict[str, str]] = {
        "http_5xx": "MQTT has no status codes: a broker accepts the connection or refuses it (the refused and "
        "refused-credentials checks), a controller acknowledges ok or not",
        "wrong_content_type": "an MQTT 3.1.1 message carries no content type: a payload that is not the "
        "contract's JSON is the malformed_json case",
        "huge_body": "an MQTT message is one packet whose length the broker accepted before delivering it whole "
        "(bounded by the broker's message_size_limit): there is no body to stop reading midway",
        "slow_body": _NO_BODY,
        "check_connection/malformed_json": "the health check is a SUBACK round trip with the broker: no "
        "controller message takes part in it",
        "access_events/malformed_json": "door events arrive as messages of their own, and a malformed one is "
        "dropped and logged: the poll reads the events received and has no reply to be malformed",
    }

    def start(self, env: Env) -> None:
        self.env = env
        self.host, self.port = env.fixture("broker")  # skips (or fails) without a broker
        self.prefix = f"last100-test/{uuid.uuid4().hex}"
        self.controller = SimulatedController(self.host, self.port, prefix=self.prefix, gate=self.gate.id).start()
        env.defer(self.controller.stop)

    def settings(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "topic_prefix": self.prefix, "credential_secret": SECRET}

    def settings_for(self, base_url: str) -> dict[str, Any]:
        address = urlsplit(base_url)
        return {**self.settings(), "host": address.hostname, "port": address.port}

    def refused_settings(self) -> dict[str, Any]:
        # The test broker lets anyone in; a listener that refuses every password shows it.
        refusing = self.env.fixture("fake_broker")(connack_rc=5)
        return {**self.settings_for(f"http://127.0.0.1:{refusing.port}"), "username": "hub", "password": "wrong"}

    def slow_settings(self, env: Env) -> dict[str, Any]:
        # The broker answers; the controller keeps quiet.
        self.controller.set_mode("silent")
        return self.settings()

    def fault_settings(self, env: Env, fault: str, call: str) -> dict[str, Any]:
        if fault == "silent" and call in ("check_connection", "access_events"):
            # No command, so no acknowledgement to wait for: the broker itself keeps quiet
            # (accepts the socket, never sends CONNACK).
            return self.silent_settings(env)
        if fault == "malformed_json":
            self.controller.set_mode("silent")
            garbler = GarblingController(self.host, self.port, self.prefix, self.gate.id)
            env.defer(garbler.stop)
            return self.settings()
        return super().fault_settings(env, fault, call)

    def held_credentials(self, grant: AccessGrant) -> list[str]:
        held = self.controller.passes.get(grant.grant_id)
        return [held.credential] if held is not None and held.revoked_at is None else []

    def admits(self, grant: AccessGrant) -> bool:
        return self.controller.swipe(grant.value).accepted

    def remote_opens(self) -> list[str]:
        return [opened.door for opened in self.controller.opens]

    def make_events(self, grant: AccessGrant, times: list[datetime]) -> None:
        for at in times:
            swiped = self.controller.swipe(grant.value, at)
            assert swiped.accepted, swiped


TestConformance = access_suite(MqttGateHarness)
