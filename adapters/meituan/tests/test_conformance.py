"""The hub's platform conformance suite (``hub.testing``), run against the plugin and
the simulated Meituan on loopback."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from hub.core.model import PushRequest
from hub.testing import CONNECTION_ID, Env, PlatformHarness, platform_suite
from last100_meituan.plugin import MeituanPlugin
from last100_meituan.signing import sign
from last100_meituan.simulator import DEMO_APP_ID, DEMO_APP_SECRET, SimOrder, create_app, demo_state

PUSH_URL = f"https://hub.test/api/v1/push/{CONNECTION_ID}"


class MeituanHarness(PlatformHarness):
    plugin = MeituanPlugin
    invalid_settings: ClassVar[dict[str, Any]] = {
        "app_id": "",
        "base_url": "ftp://waimaiopen.meituan.com",
        "path_ping": "no-slash",
        "push_tolerance_s": 0,
        "push_url": "not a url",
        "field_rider_ref": "rider id",
    }

    def start(self, env: Env) -> None:
        state = demo_state()
        seeded = state.orders[self.order_here]
        state.orders[self.order_elsewhere] = SimOrder(
            order_id=self.order_elsewhere,
            rider_ref=self.rider_ref,
            community_ref=self.other_community.id,
            building="1",
            delivery_time=seeded.delivery_time,
            utime=seeded.utime,
        )
        self.url = env.serve(create_app(state=state))

    def settings(self) -> dict[str, Any]:
        return self.settings_for(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {"app_id": DEMO_APP_ID, "app_secret": DEMO_APP_SECRET, "base_url": base_url}

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "app_secret": "not-the-simulators-secret"}

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        stamp = int(sent_at.timestamp())
        form = {
            "order_id": self.order_here,
            "status": "4",
            "logistics_status": "20",
            "rider_id": self.rider_ref,
            "community_id": self.community.id,
            "time": str(stamp - number),  # when the change happened: what tells events apart
            "app_id": DEMO_APP_ID,
            "timestamp": str(stamp),
        }
        form["sig"] = sign(PUSH_URL, form, "not-the-simulators-secret" if forged else DEMO_APP_SECRET)
        return PushRequest(
            "POST",
            PUSH_URL,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form).encode(),
            received_at=received_at,
            form=form,
        )


TestConformance = platform_suite(MeituanHarness)
