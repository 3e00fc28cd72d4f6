"""Editing a community's gates, zones and buildings, as the console does: every change
stays inside its community."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hub.core.errors import Conflict, NotFound
from hub.core.model import Building, Gate, Zone
from tests.storage.builders import make_community

PARKING = Zone("p1", "parking", "E-bike parking", ((31.1, 121.1), (31.1, 121.2)), "by the north gate")


@pytest.fixture
def two(seeded):
    """``seeded`` (community c1 with gates g1, g2) plus community c2 with gate g9 and
    both communities with a zone ``p1``."""
    seeded.add_community(make_community(id="c2", name="River Bank", buildings=()))
    seeded.add_gate(Gate("g9", "c2", "South gate", "south", "1", None))
    seeded.add_zone("c1", PARKING)
    seeded.add_zone("c2", replace(PARKING, name="River parking"))
    return seeded


def test_updating_a_gate_replaces_its_name_code_door_and_access_connection(two):
    changed = Gate("g2", "c1", "East gate, renamed 东门", "east-2", "2B", "gatectl")

    assert two.update_gate(changed) == changed

    assert two.get_gate("g2") == changed
    assert two.gate_by_code("east-2") == changed
    with pytest.raises(NotFound):
        two.gate_by_code("east")


def test_a_gate_can_lose_its_access_connection(two):
    two.update_gate(Gate("g1", "c1", "North gate 北门", "north", "1", None))

    assert two.get_gate("g1").access_connection_id is None


def test_a_gate_is_updated_only_inside_its_community(two):
    with pytest.raises(NotFound, match="gate 'g9' not found in community 'c1'"):
        two.update_gate(Gate("g9", "c1", "Taken over", "south", "1", None))
    with pytest.raises(NotFound, match="gate 'nope' not found in community 'c1'"):
        two.update_gate(Gate("nope", "c1", "Nowhere", "nowhere", "1", None))

    assert two.get_gate("g9") == Gate("g9", "c2", "South gate", "south", "1", None)


def test_a_gates_new_code_must_be_free_and_its_connection_known(two):
    with pytest.raises(Conflict, match="gate code 'north' is already used by gate 'g1'"):
        two.update_gate(Gate("g2", "c1", "East gate", "north", "2", None))
    with pytest.raises(NotFound, match="access connection 'nope' not found"):
        two.update_gate(Gate("g2", "c1", "East gate", "east", "2", "nope"))

    assert two.get_gate("g2") == Gate("g2", "c1", "East gate 东门", "east", "2", None)


def test_a_gate_keeps_its_own_code(two):
    same_code = Gate("g1", "c1", "North gate, renamed", "north", "7", "gatectl")

    two.update_gate(same_code)

    assert two.get_gate("g1") == same_code


def test_a_zone_is_read_by_its_community_and_id(two):
    assert two.get_zone("c1", "p1") == PARKING
    assert two.get_zone("c2", "p1").name == "River parking"
    with pytest.raises(NotFound, match="zone 'p9' not found in community 'c1'"):
        two.get_zone("c1", "p9")


def test_updating_a_zone_replaces_kind_name_points_and_notes(two):
    route = Zone("p1", "route", "Riding route 骑行路线", ((31.0, 121.0), (31.5, 121.5), (31.6, 121.4)), "")

    assert two.update_zone("c1", route) == route

    assert two.get_zone("c1", "p1") == route
    assert two.list_zones("c1") == [route]
    assert two.get_zone("c2", "p1").name == "River parking"


def test_updating_an_unknown_zone_is_not_found(two):
    with pytest.raises(NotFound, match="zone 'p9' not found in community 'c1'"):
        two.update_zone("c1", replace(PARKING, id="p9"))
    with pytest.raises(NotFound, match="zone 'p1' not found in community 'c9'"):
        two.update_zone("c9", PARKING)


def test_removing_a_zone_leaves_the_other_communities_zone(two):
    two.remove_zone("c1", "p1")

    assert two.list_zones("c1") == []
    assert [z.name for z in two.list_zones("c2")] == ["River parking"]
    with pytest.raises(NotFound, match="zone 'p1' not found in community 'c1'"):
        two.remove_zone("c1", "p1")


def test_buildings_are_added_changed_and_removed_with_the_community(two):
    community = two.get_community("c1")
    b1, b2 = community.buildings
    added = Building("b3", "Building 3 三号楼", "3", 31.25, 121.45)

    two.update_community(
        replace(community, buildings=(b1, replace(b2, name="Building 2, renamed", door_no="2A"), added))
    )
    assert two.get_community("c1").buildings == (b1, Building("b2", "Building 2, renamed", "2A"), added)

    two.update_community(replace(two.get_community("c1"), buildings=(b1, added)))
    assert two.get_community("c1").buildings == (b1, added)
    assert two.get_community("c2").buildings == ()
