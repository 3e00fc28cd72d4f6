"""The hub's access-control conformance suite (``hub.testing``), run against the plugin
and the simulated Hikvision controller on loopback (Digest checked for real)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests

from hub.core.model import AccessGrant, PushRequest
from hub.testing import CONNECTION_ID, AccessHarness, Env, access_suite
from last100_hikvision.cards import employee_no
from last100_hikvision.plugin import HikvisionPlugin
from last100_hikvision.simulator import SimulatorKeys, create_app, push_body

SHANGHAI = ZoneInfo("Asia/Shanghai")


class HikvisionHarness(AccessHarness):
    plugin = HikvisionPlugin
    events_page_size = 2  # the max_results of settings(): the paging check reads five pages
    invalid_settings: ClassVar[dict[str, Any]] = {
        "base_url": "not a url",
        "username": "",
        "card_secret": "short",
        "push_token": "short",
        "auth": "ntlm",
        "timezone": "Mars/Olympus",
        "card_number_length": 4,
        "max_results": 0,
    }
    not_applicable: ClassVar[dict[str, str]] = {
        "push_stale_is_rejected": "a controller cannot sign its pushes or vouch for their time: the push URL "
        "carries a secret token instead, so a push has no age to check",
    }

    def start(self, env: Env) -> None:
        self.keys = SimulatorKeys.generate()
        self.url = env.serve(create_app(self.keys))

    def settings(self) -> dict[str, Any]:
        return self.settings_for(self.url)

    def settings_for(self, base_url: str) -> dict[str, Any]:
        return {**self.keys.settings(base_url), "max_results": self.events_page_size}

    def refused_settings(self) -> dict[str, Any]:
        return {**self.settings(), "password": "not-the-devices-password"}

    def _admin(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        reply = requests.request(method, f"{self.url}/_sim{path}", json=body or None, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def held_credentials(self, grant: AccessGrant) -> list[str]:
        user = grant.device_ref or employee_no(grant.grant_id)
        return [c["cardNo"] for c in self._admin("GET", "/state")["cards"] if c["employeeNo"] == user]

    def admits(self, grant: AccessGrant) -> bool:
        return self._admin("POST", "/swipe", card=grant.value, door=self.gate.door_no)["granted"]

    def remote_opens(self) -> list[str]:
        return [str(o["door"]) for o in self._admin("GET", "/state")["remote_opens"] if o["cmd"] == "open"]

    def make_events(self, grant: AccessGrant, times: list[datetime]) -> None:
        for at in times:
            swiped = self._admin("POST", "/swipe", card=grant.value, door=self.gate.door_no, at=at.isoformat())
            assert swiped["granted"], swiped

    def push(self, number: int, *, sent_at: datetime, received_at: datetime, forged: bool = False) -> PushRequest:
        message = {
            "dateTime": sent_at.astimezone(SHANGHAI).isoformat(),
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "AccessControllerEvent": {
                "majorEventType": 5,
                "subEventType": 1,
                "cardNo": "7128676793",
                "cardReaderNo": 1,
                "doorNo": int(self.gate.door_no),
                "serialNo": 9000 + number,
            },
        }
        body, content_type = push_body(message, "multipart")
        token = secrets.token_urlsafe(24) if forged else self.keys.push_token
        return PushRequest(
            "POST",
            f"https://hub.test/api/v1/push/{CONNECTION_ID}",
            {"Content-Type": content_type},
            body,
            received_at=received_at,
            query={"token": token},
        )


TestConformance = access_suite(HikvisionHarness)
