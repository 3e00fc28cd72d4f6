"""The hub's locker conformance suite (``hub.testing``), run against the plugin and the
simulated locker bank on loopback."""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from hub.testing import Env, LockerHarness, locker_suite
from last100_locker.plugin import LockerPlugin
from last100_locker.simulator import connection_settings, create_app

KEY_ID = "hub-conformance"
SECRET = "conformance-locker-secret-0123456789abcdef"


class LockerBankHarness(LockerHarness):
    plugin = LockerPlugin
    invalid_settings: ClassVar[dict[str, Any]] = {
        "base_url": "http://lockers.example.com/locker",  # plain http off this machine
        "key_id": "",
        "secret": "too-short",
        "bank_id": "",
        "default_zone": "frozen",
        "default_size": "XL",
        "dropoff_minutes": 1,
    }

    def start(self, env: Env) -> None:
        self.url = env.serve(create_app(key_id=KEY_ID, secret=SECRET))

    def settings(self) -> dict[str, Any]:
        return self.settings_for(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return connection_settings(base_url, KEY_ID, SECRET)

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "secret": "not-the-banks-secret-0123456789abcdef"}

    def held_allocations(self, order_ref: str) -> list[str]:
        state = requests.get(f"{self.url}/_sim/state", timeout=5).json()
        live = ("reserved", "occupied")
        return [a["id"] for a in state["allocations"] if a["order_ref"] == order_ref and a["state"] in live]


TestConformance = locker_suite(LockerBankHarness)
