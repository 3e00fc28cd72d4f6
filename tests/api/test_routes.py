"""Route hints: the order's building matched to the community's, and where to park."""

from __future__ import annotations

import pytest

from hub.core.model import Building, Community, LockerAllocation, Zone
from hub.core.routes import building_core, match_building, nearest_parking, route_hint

COMMUNITY = Community(
    "c1",
    "Sunny Garden",
    buildings=(
        Building("b3", "3号楼", "3", 31.1905, 121.4380),
        Building("b12", "12栋", "12", 31.1890, 121.4390),
        Building("tower", "North Tower", "N1"),
    ),
)
NORTH = Zone("p-north", "parking", "北门停车区", ((31.1906, 121.4381),))
SOUTH = Zone("p-south", "parking", "南侧停车区", ((31.1889, 121.4391),))
REST = Zone("rest", "rest_station", "骑手驿站", ((31.1899, 121.4370),))


@pytest.mark.parametrize(
    ("written", "core"),
    [
        ("3号楼", "3"),
        ("Building 3", "3"),
        (" 3 ", "3"),
        ("３栋", "3"),
        ("No. 5", "5"),
        ("#12", "12"),
        ("North", "north"),
    ],
)
def test_building_names_are_reduced_to_their_core(written, core):
    assert building_core(written) == core


@pytest.mark.parametrize(
    ("written", "building_id"),
    [
        ("3", "b3"),
        ("3号楼", "b3"),
        ("Building 12", "b12"),
        ("12号楼", "b12"),
        ("north tower", "tower"),
        ("N1", "tower"),
    ],
)
def test_an_orders_building_is_matched_by_name_door_number_or_id(written, building_id):
    assert match_building(COMMUNITY, written).id == building_id


@pytest.mark.parametrize("written", ["", "7", "东区"])
def test_an_unknown_building_matches_nothing(written):
    assert match_building(COMMUNITY, written) is None


def test_the_parking_area_nearest_the_building_is_chosen():
    assert nearest_parking([SOUTH, NORTH, REST], COMMUNITY.buildings[0]) == NORTH
    assert nearest_parking([NORTH, SOUTH, REST], COMMUNITY.buildings[1]) == SOUTH


def test_without_coordinates_the_first_parking_area_is_chosen():
    assert nearest_parking([SOUTH, NORTH], COMMUNITY.buildings[2]) == SOUTH
    assert nearest_parking([REST], COMMUNITY.buildings[0]) is None


def test_the_hint_takes_the_first_building_the_community_knows_and_the_locker():
    locker = LockerAllocation("A1", "bank", "4", "9040")

    hint = route_hint(COMMUNITY, [NORTH, SOUTH], ["东区", "12"], locker)

    assert (hint.building.id, hint.parking, hint.locker) == ("b12", SOUTH, locker)
