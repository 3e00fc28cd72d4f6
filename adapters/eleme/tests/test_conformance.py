"""The hub's platform conformance suite (``hub.testing``), run against the plugin and
the simulated Ele.me Open Platform on loopback."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from hub.core.model import Community, Gate, PushRequest
from hub.testing import CONNECTION_ID, Env, PlatformHarness, platform_suite
from last100_eleme.messages import sign_push
from last100_eleme.plugin import ElemePlugin
from last100_eleme.signing import canonical_json
from last100_eleme.simulator import SIM_APP_ID, SIM_SECRET, SimOrder, create_app, demo_settings


class ElemeHarness(PlatformHarness):
    plugin = ElemePlugin
    # The hub knows the communities by its own ids; Ele.me by the partner's.
    community = Community("c-sunny", "阳光花园 Sunny Garden", platform_refs={CONNECTION_ID: "sunny-garden"})
    other_community = Community("c-maple", "枫叶苑 Maple Court", platform_refs={CONNECTION_ID: "maple-court"})
    gate = Gate("north", "c-sunny", "North gate 北门", "sunny-north")
    invalid_settings: ClassVar[dict[str, Any]] = {
        "app_id": "not-a-number",
        "app_key": "",
        "push_tolerance_s": 0,
        "cache_seconds": -1,
        "partner_fields": {"no_such_field": "x"},
    }

    def start(self, env: Env) -> None:
        app = create_app()
        state = app.extensions["eleme_simulator"]
        with state.lock:
            seeded = state.orders[self.order_here]
            state.orders[self.order_elsewhere] = SimOrder(
                order_id=self.order_elsewhere,
                rider_id=self.rider_ref,
                community_id="maple-court",
                status="valid",
                delivery_state="delivering",
                building="1",
                address="枫叶苑 1 号楼",
                eta_ms=seeded.eta_ms,
                update_ms=seeded.update_ms,
            )
        self.url = env.serve(app)

    def settings(self) -> dict[str, Any]:
        return demo_settings(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return demo_settings(base_url)

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "secret": "not-the-simulators-secret"}

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        sent_ms = int(sent_at.timestamp() * 1000)
        message = {
            "orderId": self.order_here,
            "state": "arrived",
            "subState": "noSubstate",
            "updateAt": sent_ms - number * 1000,
            "riderId": self.rider_ref,
            "communityId": "sunny-garden",
        }
        fields = {
            "requestId": f"9000000000000{number:05d}",
            "type": 54,
            "appId": int(SIM_APP_ID),
            "message": canonical_json(message),
            "shopId": 968861,
            "timestamp": sent_ms,
            "userId": 62864532,
        }
        body = json.dumps(sign_push(fields, "not-the-simulators-secret" if forged else SIM_SECRET)).encode()
        return PushRequest(
            "POST",
            f"https://hub.test/api/v1/push/{CONNECTION_ID}",
            {"Content-Type": "application/json; charset=utf-8"},
            body,
            received_at=received_at,
        )


TestConformance = platform_suite(ElemeHarness)
