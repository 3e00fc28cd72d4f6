"""The hub's access-control conformance suite (``hub.testing``), run against the plugin,
the real broker and a simulated controller (skipped without a broker, unless
``LAST100_REQUIRE_MQTT=1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from hub.core.model import AccessGrant
from hub.testing import AccessHarness, Env, access_suite
from last100_mqtt_gate.plugin import MqttGatePlugin
from last100_mqtt_gate.simulator import SimulatedController

SECRET = "conformance-credential-secret-0123456789"


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
    not_applicable: ClassVar[dict[str, str]] = {
        "times_out_on_a_trickling_reply": "an MQTT acknowledgement is one message: it has no body to trickle",
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
