"""The hub's platform conformance suite (``hub.testing``), run against the plugin and
the simulated RiderPass platform on loopback."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from typing import Any, ClassVar

from standardwebhooks import Webhook

from hub.core.model import PushRequest
from hub.testing import CONNECTION_ID, Env, PlatformHarness, platform_suite
from last100_riderpass.plugin import RiderPassPlugin
from last100_riderpass.simulator import SimOrder, SimulatorKeys, create_app, demo_orders, demo_riders
from last100_riderpass.wire import format_time


class RiderPassHarness(PlatformHarness):
    plugin = RiderPassPlugin
    invalid_settings: ClassVar[dict[str, Any]] = {
        "base_url": "http://platform.example.com/riderpass",  # plain http off this machine
        "key_id": "",
        "signing_secret": "c2hvcnQ=",  # "short": fewer than 32 bytes
        "push_secrets": ["whsec_***"],
        "entry_code_keys": ["not a key"],
        "entry_code_leeway_s": 999,
        "max_cache_seconds": -1,
    }

    def start(self, env: Env) -> None:
        self.keys = SimulatorKeys.generate()
        now = datetime.now().astimezone()
        elsewhere = SimOrder(self.order_elsewhere, self.rider_ref, self.other_community.id, "delivering", now)
        app = create_app(self.keys, riders=demo_riders(), orders=[*demo_orders(), elsewhere])
        self.url = env.serve(app)

    def settings(self) -> dict[str, Any]:
        return self.keys.settings(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return self.keys.settings(base_url)

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "signing_secret": base64.b64encode(secrets.token_bytes(32)).decode()}

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        msg_id = f"msg_conformance_{number}"
        order = {
            "ref": self.order_here,
            "status": "arrived",
            "rider_ref": self.rider_ref,
            "community_id": self.community.id,
            "updated_at": format_time(sent_at - timedelta(seconds=number)),
        }
        body = json.dumps({"type": "order.status_changed", "timestamp": format_time(sent_at), "data": {"order": order}})
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode() if forged else self.keys.push_secret
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, sent_at, body),
            "content-type": "application/json",
        }
        return PushRequest(
            "POST", f"https://hub.test/api/v1/push/{CONNECTION_ID}", headers, body.encode(), received_at=received_at
        )


TestConformance = platform_suite(RiderPassHarness)
