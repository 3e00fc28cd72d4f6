"""Communities, zones, gates, connections, users and job runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest
from sqlalchemy import select

from hub.core.db import JobRunRow
from hub.core.errors import Conflict, NotFound
from hub.core.model import Building, CommunityPolicy, Connection, Gate, Zone
from tests.storage.builders import NOW, make_community, make_platform


def test_a_community_round_trips_with_policy_buildings_and_geofence(store):
    community = make_community(
        policy=CommunityPolicy(
            allowed_platforms={"plat", "acme"},
            opening=time(7, 30),
            closing=time(1, 0),
            max_pass_minutes=25,
            visitor_record=True,
        ),
        geofence=((31.1, 121.1), (31.2, 121.2), (31.1, 121.3)),
        platform_refs={"plat": "PC-1"},
    )

    store.add_community(community)

    assert store.get_community("c1") == community
    assert store.list_communities() == [community]


def test_a_community_keeps_the_order_of_its_buildings(store):
    buildings = tuple(Building(f"b{n}", f"Building {n}") for n in (3, 1, 2))

    store.add_community(make_community(buildings=buildings))

    assert store.get_community("c1").buildings == buildings


def test_adding_a_community_twice_is_a_conflict(store):
    store.add_community(make_community())

    with pytest.raises(Conflict, match="community 'c1' already exists"):
        store.add_community(make_community(name="Other"))


def test_a_building_listed_twice_is_a_conflict(store):
    with pytest.raises(Conflict, match="lists building 'b1' twice"):
        store.add_community(make_community(buildings=(Building("b1", "A"), Building("b1", "B"))))


def test_updating_a_community_replaces_fields_and_buildings(store):
    store.add_community(make_community())
    changed = make_community(
        name="Garden Court II",
        policy=CommunityPolicy(require_active_order=False),
        buildings=(Building("b2", "Building 2, renamed", "2A"), Building("b9", "Building 9")),
    )

    store.update_community(changed)

    assert store.get_community("c1") == changed


def test_unknown_communities_are_not_found(store):
    with pytest.raises(NotFound, match="community 'nowhere' not found"):
        store.get_community("nowhere")
    with pytest.raises(NotFound, match="community 'nowhere' not found"):
        store.update_community(make_community(id="nowhere"))


def test_zones_are_listed_per_community(store):
    store.add_community(make_community())
    store.add_community(make_community(id="c2"))
    parking = Zone("p1", "parking", "E-bike parking", ((31.1, 121.1), (31.1, 121.2)), "by the north gate")
    locker = Zone("l1", "locker", "Food lockers")

    for zone in (parking, locker):
        store.add_zone("c1", zone)
    store.add_zone("c2", parking)

    assert store.list_zones("c1") == [locker, parking]
    assert store.list_zones("c2") == [parking]


def test_zone_conflicts_and_unknown_communities(store):
    store.add_community(make_community())
    store.add_zone("c1", Zone("p1", "parking", "Parking"))

    with pytest.raises(Conflict, match="zone 'p1' already exists in community 'c1'"):
        store.add_zone("c1", Zone("p1", "parking", "Parking again"))
    with pytest.raises(NotFound, match="community 'c9' not found"):
        store.add_zone("c9", Zone("p1", "parking", "Parking"))


def test_gates_are_found_by_id_code_and_community(seeded):
    north = Gate("g1", "c1", "North gate 北门", "north", "1", "gatectl")

    assert seeded.get_gate("g1") == north
    assert seeded.gate_by_code("north") == north
    assert [g.id for g in seeded.list_gates("c1")] == ["g1", "g2"]
    assert seeded.list_gates("c2") == []
    assert [g.id for g in seeded.list_gates()] == ["g1", "g2"]


def test_gate_conflicts_name_the_clash(seeded):
    with pytest.raises(Conflict, match="gate 'g1' already exists"):
        seeded.add_gate(Gate("g1", "c1", "Again", "fresh-code"))
    with pytest.raises(Conflict, match="gate code 'north' is already used by gate 'g1'"):
        seeded.add_gate(Gate("g3", "c1", "West gate", "north"))


def test_gates_need_a_known_community_and_access_connection(seeded):
    with pytest.raises(NotFound, match="community 'c9' not found"):
        seeded.add_gate(Gate("g3", "c9", "West gate", "west"))
    with pytest.raises(NotFound, match="access connection 'nope' not found"):
        seeded.add_gate(Gate("g3", "c1", "West gate", "west", access_connection_id="nope"))


def test_unknown_gates_are_not_found(seeded):
    with pytest.raises(NotFound, match="gate 'g9' not found"):
        seeded.get_gate("g9")
    with pytest.raises(NotFound, match="no gate has code 'nope'"):
        seeded.gate_by_code("nope")


def test_connections_serve_the_communities_they_are_linked_to(seeded):
    seeded.add_community(make_community(id="c2"))

    seeded.link_connection("c2", "plat")
    seeded.link_connection("c2", "plat")

    assert [c.id for c in seeded.connections_for_community("c1")] == ["gatectl", "plat"]
    assert seeded.connections_for_community("c2") == [make_platform()]


def test_linking_unknown_things_is_not_found(seeded):
    with pytest.raises(NotFound, match="community 'c9' not found"):
        seeded.link_connection("c9", "plat")
    with pytest.raises(NotFound, match="connection 'nope' not found"):
        seeded.link_connection("c1", "nope")


def test_connection_conflicts_and_unknown_connections(seeded):
    with pytest.raises(Conflict, match="connection 'plat' already exists"):
        seeded.add_connection(make_platform(), secret_names=())
    with pytest.raises(NotFound, match="connection 'nope' not found"):
        seeded.get_connection("nope")
    with pytest.raises(NotFound, match="connection 'nope' not found"):
        seeded.update_connection(Connection("nope", "acme", "x"), secret_names=())
    with pytest.raises(NotFound, match="community 'c9' not found"):
        seeded.add_connection(Connection("new", "acme", "x"), secret_names=(), community_ids=["c9"])
    assert [c.id for c in seeded.list_connections()] == ["gatectl", "plat"]


def test_updating_a_connection_replaces_its_settings(seeded):
    changed = replace(
        make_platform(),
        name="Acme (new account)",
        settings={"base_url": "https://api.acme.example", "app_secret": "rotated"},
        timeout_s=1.5,
        freshness_s=60,
        enabled=False,
    )

    seeded.update_connection(changed, secret_names={"app_secret"})

    assert seeded.get_connection("plat") == changed


def test_users_are_listed_without_password_hashes(seeded):
    user_id = seeded.add_user("mgr", "$argon2id$secret-hash", "manager", ["c1"])
    seeded.add_user("admin", "$argon2id$other-hash", "operator")

    users = seeded.list_users()

    assert isinstance(user_id, int)
    assert [(u["username"], u["role"], u["community_ids"]) for u in users] == [
        ("admin", "operator", []),
        ("mgr", "manager", ["c1"]),
    ]
    assert users[1]["id"] == user_id and users[1]["disabled"] is False and users[1]["totp"] is False
    assert users[1]["created_at"] == NOW
    assert "hash" not in repr(users)


def test_user_conflicts_roles_and_communities(seeded):
    seeded.add_user("mgr", "h", "manager", ["c1"])

    with pytest.raises(Conflict, match="user 'mgr' already exists"):
        seeded.add_user("mgr", "h", "guard")
    with pytest.raises(ValueError, match="role must be one of operator, manager, guard"):
        seeded.add_user("boss", "h", "superuser")
    with pytest.raises(NotFound, match="community 'c9' not found"):
        seeded.add_user("guard", "h", "guard", ["c9"])
    assert [u["username"] for u in seeded.list_users()] == ["mgr"]


def test_job_runs_record_start_end_and_outcome(store, clock):
    run_id = store.start_job_run("reconcile_orders")
    clock.advance(seconds=3)

    store.finish_job_run(run_id, items=12, errors=1, error="platform timed out once")

    with store.transaction() as session:
        run = session.scalars(select(JobRunRow)).one()
        assert (run.job_id, run.items, run.errors, run.error) == ("reconcile_orders", 12, 1, "platform timed out once")
        assert (run.ended_at - run.started_at).total_seconds() == 3
