"""``/api/v1/communities/<id>/profile``: the rules, gates, buildings and marked areas
platforms show riders."""

from __future__ import annotations

import dataclasses
import json
from datetime import time

from hub.core.model import CommunityPolicy
from hub.core.profiles import rules_text


def profile(api, community_id: str = "c1", key: str | None = None):
    return api.client.get(f"/api/v1/communities/{community_id}/profile", headers=api.headers(key))


def test_the_profile_lists_rules_gates_buildings_and_zones_by_kind(api):
    reply = profile(api)

    assert reply.status_code == 200
    body = reply.json
    assert body["community"] == {"id": "c1", "name": "Sunny Garden", "address": ""}
    assert body["gates"] == [
        {"id": "g1", "name": "North gate", "door_no": "1"},
        {"id": "g2", "name": "East gate", "door_no": "2"},
    ]
    assert [b["name"] for b in body["buildings"]] == ["3号楼", "5号楼"]
    assert body["buildings"][0] == {"id": "b3", "name": "3号楼", "door_no": "3", "lat": 31.1905, "lon": 121.438}
    zones = body["zones"]
    assert sorted(zones) == ["locker", "no_go", "parking", "rest_station", "route"]
    assert [z["id"] for z in zones["parking"]] == ["parking-north", "parking-south"]
    assert zones["no_go"][0]["points"] == [[31.1895, 121.438], [31.1897, 121.4384], [31.1893, 121.4386]]
    assert zones["rest_station"][0]["notes"] == "热水、充电"


def test_the_profile_never_shows_gate_codes(api):
    text = json.dumps(profile(api).json, ensure_ascii=False)

    assert "north-code" not in text and "east-code" not in text


def test_the_rules_follow_the_policy_in_both_languages(api):
    community = api.world.store.get_community("c1")
    policy = CommunityPolicy(
        opening=time(6, 0), closing=time(23, 30), require_presence=True, lockers_only=True, max_pass_minutes=20
    )
    api.world.store.update_community(dataclasses.replace(community, policy=policy))

    rules = profile(api).json["rules"]

    assert rules["hours"] == {"opening": "06:00", "closing": "23:30", "always_open": False}
    assert rules["timezone"] == "Asia/Shanghai"
    assert (rules["lockers_only"], rules["presence_required"], rules["active_order_required"]) == (True, True, True)
    assert rules["max_pass_minutes"] == 20 and rules["exit_grace_minutes"] == 5
    assert "06:00-23:30" in rules["zh"] and "智能取餐柜" in rules["zh"] and "20分钟" in rules["zh"]
    assert "from 06:00 to 23:30" in rules["en"] and "food lockers" in rules["en"] and "gate's screen" in rules["en"]


def test_an_always_open_community_says_so():
    zh, en = rules_text(CommunityPolicy(require_active_order=False))

    assert zh.startswith("骑手全天可进入小区")
    assert en.startswith("Riders may enter at any time")
    assert "order" not in en


def test_a_community_outside_the_keys_scope_is_forbidden(api):
    reply = profile(api, "c2")

    assert reply.status_code == 403
    assert reply.json["error"]["code"] == "forbidden"


def test_an_unknown_community_is_forbidden_to_a_scoped_key_and_not_found_to_a_star_key(api):
    assert profile(api, "nowhere").status_code == 403

    reply = profile(api, "nowhere", key=api.new_key("operator", (), ("*",)))

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "community_not_found"
