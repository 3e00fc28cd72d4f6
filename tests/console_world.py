"""A hub world for the console's tests: the rider world (real SQLite store, built-in
plugins, the fakes of ``engine_fakes``, the Flask app) with a second community and a
console user of every kind, and helpers to sign in through the real form."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub import hookimpl
from hub.core.model import Community, Connection, Decision, Gate, PluginInfo, Reason
from hub.core.users import hash_password
from tests.rider_world import RiderWorld, build_rider_world
from tests.storage.builders import make_entry, save

PASSWORD = "correct horse battery"
#: Hashed once: argon2id is slow on purpose.
_PASSWORD_HASH = hash_password(PASSWORD)

#: username: (role, communities, gates)
USERS = {
    "olga": ("operator", (), ()),
    "anna": ("manager", ("c1",), ()),
    "bert": ("manager", ("c2",), ()),
    "gus": ("guard", ("c1",), ()),
    "gina": ("guard", ("c1",), ("g2",)),  # the east gate only
    "rita": ("guard", ("c2",), ()),
}


class FakeDoor:
    """An access controller that opens its gate on request (and fails when told to)."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, str]] = []
        self.fail: Exception | None = None

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="fakedoor", kinds={"access"}, version="1.0", capabilities={"remote_open"})

    @hookimpl
    def hub_open_door(self, gate: Gate, reason: str) -> bool:
        if self.fail is not None:
            raise self.fail
        self.opened.append((gate.id, reason))
        return True


@dataclass
class ConsoleWorld:
    rw: RiderWorld
    door: FakeDoor

    @property
    def store(self):
        return self.rw.world.store

    @property
    def clock(self):
        return self.rw.world.clock

    @property
    def app(self):
        return self.rw.app

    def client(self, **headers: str):
        client = self.app.test_client()
        client.environ_base.update({"HTTP_ACCEPT_LANGUAGE": "en", **headers})
        return client

    def sign_in(self, username: str, password: str = PASSWORD, client=None):
        """A client signed in as ``username`` through the sign-in form."""
        client = client or self.client()
        reply = login(client, username, password)
        assert reply.status_code == 303, reply.get_data(as_text=True)
        return client

    def close(self) -> None:
        self.rw.close()


def build_console_world(tmp_path) -> ConsoleWorld:
    """Community ``c1`` (gates ``g1`` north, with a pass controller; ``g2`` east, a
    guard; ``g3`` west, whose controller opens on request) and ``c2`` (gate ``g9``)."""
    door = FakeDoor()
    rw = build_rider_world(tmp_path, extra_plugins=[door])
    store = rw.world.store
    store.add_connection(Connection("door", "fakedoor", "West door"), (), ["c1"])
    store.add_gate(Gate("g3", "c1", "West gate", "west-code", "3", "door"))
    store.add_community(Community("c2", "River Bank", timezone="Asia/Shanghai"))
    store.add_connection(Connection("plat2", "fakeplatform", "Second platform"), (), ["c2"])
    store.add_gate(Gate("g9", "c2", "South gate", "south-code", "1", None))
    for username, (role, communities, gates) in USERS.items():
        store.add_user(username, _PASSWORD_HASH, role, communities, gates)
    return ConsoleWorld(rw, door)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str, **extra: str):
    """Send the sign-in form (with the token of a freshly loaded sign-in page)."""
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def waiting(store, entry_id: str, gate_id: str = "g1", **overrides):
    """A stored entry waiting for a guard (rider R1, 王*, 138****5678)."""
    community = "c2" if gate_id == "g9" else "c1"
    values = {
        "id": entry_id,
        "community_id": community,
        "gate_id": gate_id,
        "connection_id": "plat2" if community == "c2" else "plat",
        "decision": Decision.MANUAL_CHECK,
        "reasons": (Reason("platform_timeout", "平台暂时无法确认", "The platform did not answer in time"),),
        "access_pass": None,
        "hook_calls": (),
    }
    return save(store, make_entry(**{**values, **overrides}), orders=[])
