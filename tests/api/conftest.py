"""A hub world for the JSON API tests: real storage (a SQLite file), the built-in plugins
and the in-test fakes of :mod:`tests.engine_fakes`, served by the real Flask app.

Community ``c1`` (Sunny Garden) has buildings, marked areas, the north gate (with a
device) and the east gate (a guard); community ``c2`` has one gate and its own platform
connection ``plat2``. ``api.key`` may enter riders through ``plat`` and read ``c1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from hub.core import apikeys
from hub.core.config import Config
from hub.core.model import Building, Community, Connection, Gate, Zone
from hub.runtime import Runtime
from hub.web import create_app
from tests.engine_fakes import World, build_world

BUILDINGS = (
    Building("b3", "3号楼", "3", 31.1905, 121.4380),
    Building("b5", "5号楼", "5", 31.1890, 121.4390),
)
ZONES = (
    Zone("parking-south", "parking", "南侧停车区", ((31.1889, 121.4391), (31.1888, 121.4392)), "5号楼旁"),
    Zone("parking-north", "parking", "北门停车区", ((31.1906, 121.4381), (31.1907, 121.4382)), "北门内侧"),
    Zone("lockers", "locker", "智能取餐柜", ((31.1900, 121.4371),), "北门岗亭旁"),
    Zone("rest", "rest_station", "骑手驿站", ((31.1899, 121.4370),), "热水、充电"),
    Zone("garden", "no_go", "中心花园", ((31.1895, 121.4380), (31.1897, 121.4384), (31.1893, 121.4386))),
    Zone("main-road", "route", "主干道", ((31.1901, 121.4373), (31.1890, 121.4390))),
)


@dataclass
class Api:
    """The app's test client with what the tests need around it."""

    client: FlaskClient
    world: World
    runtime: Runtime
    key: str
    keys: dict[str, str] = field(default_factory=dict)

    def sign(self, gate_code: str = "north-code") -> str:
        return self.runtime.gate_codes.sign(gate_code)

    def entry_body(self, **changes: Any) -> dict[str, Any]:
        body = {
            "gate_code": self.sign(),
            "connection": "plat",
            "credential": {"kind": "token", "value": "tok-1"},
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not None}

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **extra}

    def post_entry(self, body: Any = None, *, key: str | None = None, idempotency_key: str | None = None):
        headers = self.headers(key)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return self.client.post("/api/v1/entries", json=self.entry_body() if body is None else body, headers=headers)

    def new_key(self, name: str, connections: tuple[str, ...] = (), communities: tuple[str, ...] = ()) -> str:
        _stored, key = apikeys.create(self.world.store, name, connections, communities, actor="test")
        return key

    def counts(self) -> dict[str, int]:
        """Rows of the tables a refused request must leave alone."""
        tables = ("entries", "passes", "audit_log", "riders", "orders", "outbox", "single_use_codes")
        with self.world.store.transaction() as session:
            return {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    def audit_actions(self) -> list[str]:
        with self.world.store.transaction() as session:
            return [row[0] for row in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]


def add_second_community(world: World) -> None:
    store = world.store
    store.add_community(Community("c2", "Maple Court", platform_refs={"plat2": "PC-2"}))
    store.add_connection(Connection("plat2", "fakeplatform", "Fake platform, other account", timeout_s=0.5), (), ["c2"])
    store.add_gate(Gate("g3", "c2", "West gate", "west-code", "1", None))


def make_api(world: World, tmp_path: Any) -> Api:
    store = world.store
    store.update_community(Community(**{**world.community.__dict__, "buildings": BUILDINGS}))
    for zone in ZONES:
        store.add_zone("c1", zone)
    add_second_community(world)
    config = Config(instance_path=tmp_path, secret_keys=("k",), secret_key="s", gate_key="gate-key")
    runtime = Runtime(config, world.clock, store, world.hub, world.engine)
    client = create_app(runtime=runtime).test_client()
    api = Api(client, world, runtime, key="")
    api.key = api.new_key("platform-a", ("plat",), ("c1",))
    return api


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    w = build_world(tmp_path)
    yield w
    w.engine.close()
    w.store.dispose()


@pytest.fixture
def api(world, tmp_path) -> Api:
    return make_api(world, tmp_path)
