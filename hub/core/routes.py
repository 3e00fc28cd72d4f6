"""Route hints: where a rider goes once through the gate.

Pure functions of a community, its marked areas and what the platform said about the
delivery address, so they are cheap to compute for every reply and easy to test.

Platforms write the building of a delivery address in many ways: ``"3"``, ``"3号楼"``,
``"3栋"``, ``"Building 3"``, ``"B3"``. A community lists each building with a name and a
door number. :func:`match_building` compares both sides reduced to a core (lower case,
no spaces, without the usual words for "building"), name first, then door number, then
the building's id.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from hub.core.model import Building, Community, LockerAllocation, Zone

PARKING = "parking"

# Words around a building number ("号楼" before "号"); English ones only as whole words.
_BUILDING_WORDS = re.compile(r"(?<![a-z])(?:building|bldg|block|tower|no)(?![a-z])\.?|号楼|栋|幢|座|号|楼|#")


@dataclass(frozen=True)
class RouteHint:
    """Where to go: the delivery's building, a parking area for the e-bike, and the
    locker compartment at a community whose riders use lockers. Each may be ``None``."""

    building: Building | None = None
    parking: Zone | None = None
    locker: LockerAllocation | None = None


def building_core(text: str) -> str:
    """A building's name or number reduced for comparison: ``"3号楼"``, ``"Building 3"``
    and ``" 3 "`` all become ``"3"``; full-width digits become ASCII ones."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _BUILDING_WORDS.sub("", text)
    return re.sub(r"[\s\-_.]", "", text)


def match_building(community: Community, written: str) -> Building | None:
    """The community's building that a delivery address names, or ``None``."""
    wanted = building_core(written)
    if not wanted:
        return None
    for attribute in ("name", "door_no", "id"):
        for building in community.buildings:
            if building_core(getattr(building, attribute)) == wanted:
                return building
    return None


def _centre(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    if not points:
        return None
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance: plenty for the few hundred metres of one community."""
    x = math.radians(b[1] - a[1]) * math.cos(math.radians((a[0] + b[0]) / 2))
    y = math.radians(b[0] - a[0])
    return math.hypot(x, y)


def nearest_parking(zones: Sequence[Zone], building: Building | None) -> Zone | None:
    """The parking area nearest the building when both have coordinates; otherwise
    the first one the community marked."""
    parking = [z for z in zones if z.kind == PARKING]
    if not parking:
        return None
    if building is None or building.latitude is None or building.longitude is None:
        return parking[0]
    here = (building.latitude, building.longitude)
    placed = [(z, c) for z in parking if (c := _centre(z.points)) is not None]
    if not placed:
        return parking[0]
    return min(placed, key=lambda pc: _distance(here, pc[1]))[0]


def route_hint(
    community: Community,
    zones: Sequence[Zone],
    order_buildings: Sequence[str],
    locker: LockerAllocation | None = None,
) -> RouteHint:
    """The hint for an entry: the first of its orders' buildings the community knows,
    the parking area for it, and the entry's locker compartment, if any."""
    building = next((b for b in (match_building(community, w) for w in order_buildings) if b is not None), None)
    return RouteHint(building=building, parking=nearest_parking(zones, building), locker=locker)
