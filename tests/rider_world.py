"""A hub world (real SQLite store, built-in plugins, the fakes of ``engine_fakes``) with
the Flask app around it, for the rider page's tests: in-process with Flask's test
client, and served on loopback for the browser tests."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask

from hub.core.config import Config
from hub.core.model import CommunityPolicy
from hub.core.tokens import PresenceCodes
from hub.runtime import Runtime
from hub.web import create_app
from tests.engine_fakes import World, build_world

GATE_KEY = "gate-key-for-tests"


@dataclass
class RiderWorld:
    world: World
    runtime: Runtime
    app: Flask

    def signed(self, gate_code: str = "north-code") -> str:
        return self.runtime.gate_codes.sign(gate_code)

    def page(self, gate_code: str = "north-code") -> str:
        return f"/g/{self.signed(gate_code)}"

    def close(self) -> None:
        self.world.engine.close()
        self.world.store.dispose()


def build_rider_world(tmp_path, policy: CommunityPolicy | None = None, extra_plugins=()) -> RiderWorld:
    world = build_world(tmp_path, policy, extra_plugins=extra_plugins)
    world.engine.presence = PresenceCodes(GATE_KEY)
    config = Config(instance_path=tmp_path, secret_keys=("k",), secret_key="rider-tests", gate_key=GATE_KEY)
    runtime = Runtime(config, world.clock, world.store, world.hub, world.engine)
    return RiderWorld(world, runtime, create_app(runtime=runtime))


def form_token(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no form token"
    return match.group(1)
