"""The hub's visitor-system conformance suite (``hub.testing``), run against the plugin
and the simulated visitor book on loopback."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from hub.testing import Env, VisitorHarness, visitor_suite
from last100_visitor_http.plugin import VisitorHttpPlugin
from last100_visitor_http.simulator import SimulatorConfig, create_app

# The health check of a connection without health_url is a signed HEAD of url.
_HEAD = (
    "the health check is a signed HEAD of url, whose reply has no body, and visitor systems answer HEAD on a "
    "POST endpoint with whatever page they have: only its status says something (the body faults are checked "
    "on register_visitor)"
)


class VisitorBookHarness(VisitorHarness):
    plugin = VisitorHttpPlugin
    invalid_settings: ClassVar[dict[str, Any]] = {
        "url": "http://pms.example.com/visitors",  # plain http off this machine
        "secret": "",
        "health_url": "pms.test/health",
        "signature_header": "X Signature",
        "timezone": "China/Beijing",
        "record_id_path": "data..id",
        "field_map": {"visitorName": "{nonsense}"},
        "connect_timeout_s": 0,
    }
    faults_not_applicable: ClassVar[dict[str, str]] = {
        f"check_connection/{fault}": _HEAD
        for fault in ("malformed_json", "wrong_content_type", "huge_body", "slow_body")
    }

    def start(self, env: Env) -> None:
        self.config = SimulatorConfig.generate()
        self.url = env.serve(create_app(self.config))

    def settings(self) -> dict[str, Any]:
        return self.config.settings(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return self.config.settings(base_url)

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "secret": "not-the-books-secret"}

    def records_for(self, entry_id: str) -> int:
        records = requests.get(f"{self.url}/_sim/records", timeout=5).json()["records"]
        return sum(r["idempotency_key"] == entry_id for r in records)


TestConformance = visitor_suite(VisitorBookHarness)
