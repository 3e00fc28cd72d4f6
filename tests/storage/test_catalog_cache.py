"""The per-process catalog cache: what it keeps, and when another process's change is
seen (:mod:`hub.core.catalog`)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from hub.core import apikeys
from hub.core.catalog import CatalogCache
from hub.core.errors import NotFound
from hub.core.model import Building, Connection, Gate, Zone
from hub.core.store import Store
from tests.factories import make_community
from tests.storage.builders import make_platform


class Versions:
    """A catalog version and a monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.version = 0
        self.reads = 0
        self.now = 0.0

    def read(self) -> int:
        self.reads += 1
        return self.version


def cache(versions: Versions, max_age_s: float = 1.0, size: int = 100) -> CatalogCache:
    return CatalogCache(versions.read, max_age_s, size=size, monotonic=lambda: versions.now)


def test_a_value_is_loaded_once_until_the_version_changes() -> None:
    versions = Versions()
    catalog = cache(versions)
    loads: list[str] = []

    def load() -> str:
        loads.append("x")
        return f"value {len(loads)}"

    assert catalog.get("gate", "g1", load) == "value 1"
    assert catalog.get("gate", "g1", load) == "value 1"
    versions.version = 1  # another process changed the catalog…
    versions.now = 0.5
    assert catalog.get("gate", "g1", load) == "value 1"  # …not checked yet (max age 1 s)
    versions.now = 1.5
    assert catalog.get("gate", "g1", load) == "value 2"
    assert len(loads) == 2


def test_the_version_is_read_at_most_once_per_max_age() -> None:
    versions = Versions()
    catalog = cache(versions, max_age_s=1.0)
    for step in range(10):
        versions.now = step * 0.25
        catalog.get("gate", "g1", lambda: "v")
    assert versions.reads == 3  # at 0, 1.0 and 2.0


def test_max_age_zero_reads_the_version_before_every_read() -> None:
    versions = Versions()
    catalog = cache(versions, max_age_s=0)
    for _ in range(5):
        catalog.get("gate", "g1", lambda: "v")
    assert versions.reads == 5


def test_a_failed_load_is_not_kept() -> None:
    catalog = cache(Versions())

    def missing() -> str:
        raise NotFound("no gate has code 'nope'")

    for _ in range(2):
        with pytest.raises(NotFound):
            catalog.get("gate_code", "nope", missing)
    assert catalog.get("gate_code", "nope", lambda: "added since") == "added since"


def test_clear_and_forget() -> None:
    catalog = cache(Versions())
    catalog.get("gate", "g1", lambda: "old g1")
    catalog.get("gate", "g2", lambda: "old g2")
    catalog.forget("gate", "g1")
    assert catalog.get("gate", "g1", lambda: "new g1") == "new g1"
    assert catalog.get("gate", "g2", lambda: "new g2") == "old g2"
    catalog.clear()
    assert catalog.get("gate", "g2", lambda: "new g2") == "new g2"


def test_a_value_loaded_across_a_change_is_not_kept() -> None:
    """A reader that loaded the old row while this process committed a change must not
    put the old row back into the emptied cache."""
    catalog = cache(Versions())
    loading, changed = threading.Event(), threading.Event()

    def slow_old_read() -> str:
        loading.set()
        changed.wait(5)
        return "old"

    reader = threading.Thread(target=catalog.get, args=("gate", "g1", slow_old_read))
    reader.start()
    loading.wait(5)
    catalog.clear()  # the change commits while the read is under way
    changed.set()
    reader.join(5)
    assert catalog.get("gate", "g1", lambda: "new") == "new"


def test_the_cache_is_bounded() -> None:
    catalog = cache(Versions(), size=2)
    for key in ("a", "b", "c"):
        catalog.get("gate", key, lambda key=key: f"old {key}")
    assert catalog.get("gate", "a", lambda: "reloaded") == "reloaded"


def test_a_negative_max_age_is_refused() -> None:
    with pytest.raises(ValueError, match="max_age_s"):
        CatalogCache(lambda: 0, -1)


# -- the Store ----------------------------------------------------------------------


def _version(store: Store) -> int:
    return store._catalog_version()


def _changes(store: Store) -> dict[str, Callable[[], Any]]:
    """Every catalog change the Store offers, each made once on the seeded catalog."""
    community = store.get_community("c1")
    zone = Zone("p1", "parking", "Bike park")
    return {
        "add_community": lambda: store.add_community(make_community(id="c2")),
        "update_community": lambda: store.update_community(
            dataclasses.replace(community, buildings=(Building("b9", "9号楼", "9"),))
        ),
        "add_zone": lambda: store.add_zone("c1", zone),
        "update_zone": lambda: store.update_zone("c1", dataclasses.replace(zone, name="Park")),
        "remove_zone": lambda: store.remove_zone("c1", "p1"),
        "add_gate": lambda: store.add_gate(Gate("g3", "c1", "West", "west", "3", None)),
        "update_gate": lambda: store.update_gate(Gate("g3", "c1", "West gate", "west", "3", None)),
        "add_connection": lambda: store.add_connection(make_platform(id="plat2"), secret_names={"app_secret"}),
        "update_connection": lambda: store.update_connection(
            dataclasses.replace(make_platform(id="plat2"), name="renamed"), secret_names={"app_secret"}
        ),
        "link_connection": lambda: store.link_connection("c1", "plat2"),
        "unlink_connection": lambda: store.unlink_connection("c1", "plat2"),
        "rotate_secrets": store.rotate_secrets,
        "add_api_key": lambda: apikeys.create(store, "platform", ["*"], ["*"]),
        "revoke_api_key": lambda: store.revoke_api_key("platform", actor="test"),
    }


def test_every_catalog_change_raises_the_version(seeded: Store) -> None:
    changes = _changes(seeded)
    # Every Store method that writes the catalog through _changing_catalog is listed.
    source = inspect.getsource(Store)
    changing = set(re.findall(r"def (\w+)\((?:(?!\n    def ).)*?self\._changing_catalog\(\)", source, re.S))
    assert changing == set(changes)
    for name, change in changes.items():
        before = _version(seeded)
        change()
        assert _version(seeded) == before + 1, name


def test_a_failed_change_leaves_the_version(seeded: Store) -> None:
    before = _version(seeded)
    with pytest.raises(NotFound):
        seeded.add_gate(Gate("g9", "nowhere", "Ghost", "ghost", "9", None))
    assert _version(seeded) == before


def test_this_process_sees_its_own_change_at_once(seeded: Store) -> None:
    assert seeded.gate_by_code("north").name == "North gate 北门"
    seeded.update_gate(Gate("g1", "c1", "North gate", "north", "1", "gatectl"))
    assert seeded.gate_by_code("north").name == "North gate"
    assert seeded.get_gate("g1").name == "North gate"


def _elsewhere(backend: Any, keys: list[str], clock: Any, catalog_cache_s: float) -> Store:
    """Another process's Store on the same database."""
    return Store(backend.url, keys, clock=clock, connect_args=backend.connect_args, catalog_cache_s=catalog_cache_s)


def test_another_process_sees_a_change_once_it_checks(seeded: Store, keys: list[str], backend: Any, clock: Any) -> None:
    patient, eager = _elsewhere(backend, keys, clock, 3600), _elsewhere(backend, keys, clock, 0)
    try:
        for reader in (patient, eager):
            assert reader.get_connection("plat").name == make_platform().name
        seeded.update_connection(dataclasses.replace(make_platform(), name="Renamed"), secret_names={"app_secret"})
        assert eager.get_connection("plat").name == "Renamed"
        # Documented: a process trusts its copy for catalog_cache_s.
        assert patient.get_connection("plat").name == make_platform().name
    finally:
        patient.dispose()
        eager.dispose()


def test_a_key_revoked_elsewhere_stops_working(seeded: Store, keys: list[str], backend: Any, clock: Any) -> None:
    _key, token = apikeys.create(seeded, "platform", ["*"], ["*"])
    web = _elsewhere(backend, keys, clock, 0)
    try:
        assert apikeys.authenticate(web, token, clock.now()) is not None
        seeded.revoke_api_key("platform", actor="cli")
        assert apikeys.authenticate(web, token, clock.now()) is None
    finally:
        web.dispose()


def test_a_cached_connection_cannot_be_changed_by_a_reader(seeded: Store) -> None:
    connection: Connection = seeded.get_connection("plat")
    with pytest.raises(TypeError):
        connection.settings["app_secret"] = "changed"  # type: ignore[index]
    assert seeded.get_connection("plat").settings["app_secret"] == make_platform().settings["app_secret"]


def test_lists_are_copies(seeded: Store) -> None:
    seeded.add_zone("c1", Zone("p1", "parking", "Bike park"))
    seeded.list_zones("c1").clear()
    seeded.connections_for_community("c1").clear()
    assert [z.id for z in seeded.list_zones("c1")] == ["p1"]
    assert {c.id for c in seeded.connections_for_community("c1")} == {"plat", "gatectl"}


def test_using_a_key_refreshes_its_cached_last_use(seeded: Store, clock: Any) -> None:
    _key, token = apikeys.create(seeded, "platform", ["*"], ["*"])
    prefix, _secret = apikeys.parse(token)
    assert apikeys.authenticate(seeded, token, clock.now()) is not None
    first_use = clock.now()
    assert seeded.api_key_by_prefix(prefix)[0].last_used_at == first_use
    clock.advance(apikeys.TOUCH_EVERY.total_seconds() * 2)
    apikeys.authenticate(seeded, token, clock.now())
    assert seeded.api_key_by_prefix(prefix)[0].last_used_at == clock.now() != first_use
