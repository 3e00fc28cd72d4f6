"""The console's communities pages, for every role: the operator, the manager of
community A (``c1``, anna), the manager of community B (``c2``, bert) and a guard. Each
signs in through the real sign-in form. Another community's objects answer 404 by any
URL, GET or POST, and change nothing; wrong input changes nothing; every change is
audited."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import time
from html import unescape

import pytest
import zxingcpp
from PIL import Image

from hub.core.model import Building, CommunityPolicy, Zone
from hub.web import gateqr
from tests.console_world import build_console_world, csrf_of


@pytest.fixture
def cw(tmp_path):
    """The console world, with building ``b1`` and zone ``z1`` in ``c1`` and building
    ``b9`` and zone ``z9`` in ``c2``."""
    world = build_console_world(tmp_path)
    store = world.store
    store.update_community(replace(store.get_community("c1"), buildings=(Building("b1", "Building 1", "1"),)))
    store.update_community(replace(store.get_community("c2"), buildings=(Building("b9", "River 9", "9"),)))
    store.add_zone("c1", Zone("z1", "parking", "North parking", ((31.1, 121.1),), "by the north gate"))
    store.add_zone("c2", Zone("z9", "locker", "River lockers"))
    yield world
    world.close()


def page(client, url: str, status: int = 200) -> str:
    reply = client.get(url)
    assert reply.status_code == status, (url, reply.status_code)
    return unescape(reply.get_data(as_text=True)) if reply.mimetype == "text/html" else ""


def post(client, url: str, data: dict[str, object], token_from: str = "/admin/communities"):
    token = csrf_of(client.get(token_from).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def actions(store, action: str) -> list:
    return [r for r in store.list_audit(limit=1000) if r.action == action]


def world_state(store) -> tuple:
    """Everything the communities pages may change, and how long the audit log is."""
    communities = store.list_communities()
    zones = {c.id: store.list_zones(c.id) for c in communities}
    return communities, store.list_gates(), zones, len(store.list_audit(limit=10_000))


POLICY = {
    "allowed_platforms": ["plat"],
    "opening": "07:00",
    "closing": "22:30",
    "max_pass_minutes": "20",
    "exit_grace_minutes": "3",
    "max_entries_per_hour": "4",
    "require_active_order": "on",
    "lockers_only": "on",
    "retention_days": "60",
}


def policy_form(**overrides: object) -> dict[str, object]:
    values = {**POLICY, **overrides}
    return {k: v for k, v in values.items() if v is not None}


# -- who may open what -----------------------------------------------------------------

#: Every page of community c2 and its objects (gate g9, building b9, zone z9).
C2_PAGES = [
    "/admin/communities/c2",
    "/admin/communities/c2/policy",
    "/admin/communities/c2/gates/new",
    "/admin/communities/c2/gates/g9/edit",
    "/admin/communities/c2/gates/g9/qr.png",
    "/admin/communities/c2/gates/g9/qr.svg",
    "/admin/communities/c2/buildings/new",
    "/admin/communities/c2/buildings/b9/edit",
    "/admin/communities/c2/buildings/b9/remove",
    "/admin/communities/c2/zones/new",
    "/admin/communities/c2/zones/z9/edit",
    "/admin/communities/c2/zones/z9/remove",
]
#: c2's objects under the URL of anna's own community c1.
MIXED_PAGES = [
    "/admin/communities/c1/gates/g9/edit",
    "/admin/communities/c1/gates/g9/qr.png",
    "/admin/communities/c1/gates/g9/qr.svg",
    "/admin/communities/c1/buildings/b9/edit",
    "/admin/communities/c1/buildings/b9/remove",
    "/admin/communities/c1/zones/z9/edit",
    "/admin/communities/c1/zones/z9/remove",
]
#: Every form of the pages above, with data that would be valid for the object.
C2_FORMS = {
    "/admin/communities/c2/policy": policy_form(allowed_platforms=None),
    "/admin/communities/c2/gates/new": {"id": "g10", "name": "Taken", "door_no": "1"},
    "/admin/communities/c2/gates/g9/edit": {"name": "Taken", "door_no": "2"},
    "/admin/communities/c2/buildings/new": {"id": "b10", "name": "Taken"},
    "/admin/communities/c2/buildings/b9/edit": {"name": "Taken"},
    "/admin/communities/c2/buildings/b9/remove": {},
    "/admin/communities/c2/zones/new": {"id": "z10", "kind": "parking", "name": "Taken"},
    "/admin/communities/c2/zones/z9/edit": {"kind": "parking", "name": "Taken"},
    "/admin/communities/c2/zones/z9/remove": {},
    "/admin/communities/c1/gates/g9/edit": {"name": "Taken", "door_no": "2"},
    "/admin/communities/c1/buildings/b9/edit": {"name": "Taken"},
    "/admin/communities/c1/buildings/b9/remove": {},
    "/admin/communities/c1/zones/z9/edit": {"kind": "parking", "name": "Taken"},
    "/admin/communities/c1/zones/z9/remove": {},
}


def test_someone_not_signed_in_is_sent_to_sign_in(cw):
    reply = cw.client().get("/admin/communities/c1")

    assert reply.status_code == 302
    assert reply.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize("url", ["/admin/communities", "/admin/communities/c1", *C2_PAGES[1:], *MIXED_PAGES])
def test_guards_may_not_open_any_communities_page(sign_in, url):
    page(sign_in("guard"), url, 403)


def test_guards_may_not_post_any_communities_form(sign_in, store):
    gus = sign_in("guard")
    before = world_state(store)

    for url, data in {**C2_FORMS, "/admin/communities": {"id": "c3", "name": "New", "timezone": "UTC"}}.items():
        assert post(gus, url, data, token_from="/admin/guard").status_code == 403, url

    assert world_state(store) == before


def test_the_navigation_shows_communities_to_operators_and_managers_only(sign_in):
    for who in ("operator", "manager_a"):
        assert 'href="/admin/communities"' in page(sign_in(who), "/admin/entries")
    assert 'href="/admin/communities"' not in page(sign_in("guard"), "/admin/guard")


def test_operators_see_every_community_and_the_add_form(sign_in):
    html = page(sign_in("operator"), "/admin/communities")

    assert 'data-community="c1"' in html and 'data-community="c2"' in html
    assert "Add a community" in html and 'action="/admin/communities"' in html


@pytest.mark.parametrize(("who", "mine", "theirs"), [("manager_a", "c1", "c2"), ("manager_b", "c2", "c1")])
def test_managers_see_only_their_communities_and_cannot_add_one(sign_in, who, mine, theirs):
    client = sign_in(who)
    html = page(client, "/admin/communities")

    assert f'data-community="{mine}"' in html
    assert f'data-community="{theirs}"' not in html
    assert "Add a community" not in html
    page(client, f"/admin/communities/{mine}")
    page(client, f"/admin/communities/{theirs}", 404)


@pytest.mark.parametrize("url", [*C2_PAGES, *MIXED_PAGES, "/admin/communities/nowhere"])
def test_another_communitys_pages_answer_404(sign_in, url):
    page(sign_in("manager_a"), url, 404)


@pytest.mark.parametrize("url", [*C2_PAGES, *MIXED_PAGES])
def test_the_operator_opens_every_communitys_pages_by_their_own_url(sign_in, url):
    if url in MIXED_PAGES:
        page(sign_in("operator"), url, 404)  # c2's objects are not c1's, whoever asks
    else:
        page(sign_in("operator"), url)


def test_another_communitys_forms_answer_404_and_change_nothing(sign_in, store):
    anna = sign_in("manager_a")
    before = world_state(store)

    for url, data in C2_FORMS.items():
        assert post(anna, url, data).status_code == 404, url

    assert world_state(store) == before


def test_a_manager_cannot_add_a_community(sign_in, store):
    anna = sign_in("manager_a")
    before = world_state(store)

    reply = post(anna, "/admin/communities", {"id": "c3", "name": "New", "timezone": "Asia/Shanghai"})

    assert reply.status_code == 403
    assert world_state(store) == before


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(sign_in, store):
    anna = sign_in("manager_a")
    before = world_state(store)

    reply = anna.post("/admin/communities/c1/policy", data=policy_form())

    assert reply.status_code == 400
    assert world_state(store) == before


# -- the list and adding a community ---------------------------------------------------


def test_the_operator_adds_a_community(sign_in, store):
    form = {"id": "c3", "name": "Lake View 湖景", "address": "3 Lake Road", "timezone": "Asia/Urumqi"}

    reply = post(sign_in("operator"), "/admin/communities", form)

    assert reply.status_code == 303
    assert reply.headers["Location"] == "/admin/communities/c3#policy"
    added = store.get_community("c3")
    assert (added.name, added.address, added.timezone, added.policy) == (
        "Lake View 湖景",
        "3 Lake Road",
        "Asia/Urumqi",
        CommunityPolicy(),
    )
    (record,) = actions(store, "community.created")
    assert (record.actor, record.subject) == ("user:olga", "c3")
    assert record.data == {"name": "Lake View 湖景", "address": "3 Lake Road", "timezone": "Asia/Urumqi"}


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"id": "c 3"}, "id", "Use letters, digits"),
        ({"id": "c2"}, "id", "This id is already used"),
        ({"name": "  "}, "name", "Give the community a name."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Choose a time zone from the list"),
        ({"timezone": "Asia"}, "timezone", "Choose a time zone from the list"),
    ],
)
def test_a_wrong_community_is_refused_with_its_fields_message(sign_in, store, form, field, message):
    olga = sign_in("operator")
    before = world_state(store)
    data = {"id": "c3", "name": "Lake View", "address": "3 Lake Road", "timezone": "Asia/Shanghai", **form}

    reply = post(olga, "/admin/communities", data)

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert f'id="error-{field}"' in html and message in html
    assert 'value="3 Lake Road"' in html  # what was typed comes back
    assert world_state(store) == before


# -- one community ---------------------------------------------------------------------


def test_the_community_page_shows_policy_gates_buildings_zones_and_connections(sign_in):
    html = page(sign_in("manager_a"), "/admin/communities/c1")

    for gate in ("g1", "g2", "g3"):
        assert f'data-gate="{gate}"' in html
        assert f"/admin/communities/c1/gates/{gate}/qr.png" in html
        assert f"/admin/communities/c1/gates/{gate}/qr.svg" in html
    assert 'data-gate="g9"' not in html
    assert 'data-building="b1"' in html and 'data-building="b9"' not in html
    assert 'data-zone="z1"' in html and "Rider parking" in html and 'data-zone="z9"' not in html
    assert 'data-connection="plat"' in html and 'data-connection="door"' in html
    assert 'data-connection="plat2"' not in html
    assert '<dd data-policy="hours">Always open</dd>' in html
    assert "/admin/connections/plat/edit" not in html  # connections are the operator's


def test_the_operator_gets_links_to_the_connections(sign_in):
    html = page(sign_in("operator"), "/admin/communities/c1")

    assert "/admin/connections/plat/edit" in html


# -- the entry policy ------------------------------------------------------------------


def test_the_policy_form_offers_the_communitys_platform_connections(sign_in):
    html = page(sign_in("manager_a"), "/admin/communities/c1/policy")

    assert 'name="allowed_platforms" value="plat"' in html
    for not_a_platform in ("gatectl", "door", "plat2"):
        assert f'name="allowed_platforms" value="{not_a_platform}"' not in html
    assert 'name="max_pass_minutes" value="30"' in html


def test_a_manager_changes_the_policy_and_it_is_audited(sign_in, store):
    anna = sign_in("manager_a")

    reply = post(anna, "/admin/communities/c1/policy", policy_form())

    assert reply.status_code == 303
    assert reply.headers["Location"] == "/admin/communities/c1#policy"
    assert store.get_community("c1").policy == CommunityPolicy(
        allowed_platforms={"plat"},
        opening=time(7, 0),
        closing=time(22, 30),
        max_pass_minutes=20,
        exit_grace_minutes=3,
        max_entries_per_hour=4,
        require_active_order=True,
        require_presence=False,
        lockers_only=True,
        visitor_record=False,
        retention_days=60,
    )
    (record,) = actions(store, "community.policy_changed")
    assert (record.actor, record.subject) == ("user:anna", "c1")
    assert record.data["changed"] == {
        "allowed_platforms": {"before": [], "after": ["plat"]},
        "opening": {"before": None, "after": "07:00"},
        "closing": {"before": None, "after": "22:30"},
        "max_pass_minutes": {"before": 30, "after": 20},
        "exit_grace_minutes": {"before": 5, "after": 3},
        "max_entries_per_hour": {"before": 6, "after": 4},
        "lockers_only": {"before": False, "after": True},
        "retention_days": {"before": 30, "after": 60},
    }
    html = page(anna, "/admin/communities/c1")
    assert '<dd data-policy="hours">07:00–22:30</dd>' in html
    assert '<dd data-policy="allowed_platforms">Fake platform</dd>' in html
    assert store.get_community("c1").buildings == (Building("b1", "Building 1", "1"),)


def test_no_platform_ticked_allows_every_platform(sign_in, store):
    anna = sign_in("manager_a")
    assert post(anna, "/admin/communities/c1/policy", policy_form()).status_code == 303

    reply = post(anna, "/admin/communities/c1/policy", policy_form(allowed_platforms=None, opening="", closing=""))

    assert reply.status_code == 303
    policy = store.get_community("c1").policy
    assert (policy.allowed_platforms, policy.opening, policy.closing) == (frozenset(), None, None)


def test_saving_an_unchanged_policy_changes_and_audits_nothing(sign_in, store):
    form = policy_form(allowed_platforms=None, opening="", closing="", max_pass_minutes="30")
    form.update(exit_grace_minutes="5", max_entries_per_hour="6", retention_days="30")
    form.pop("lockers_only")

    reply = post(sign_in("manager_a"), "/admin/communities/c1/policy", form)

    assert reply.status_code == 303
    assert actions(store, "community.policy_changed") == []


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"closing": ""}, "opening", "Give both the opening and the closing time"),
        ({"opening": ""}, "opening", "Give both the opening and the closing time"),
        ({"opening": "25:00"}, "opening", "Enter a time like 06:30."),
        ({"max_pass_minutes": "0"}, "max_pass_minutes", "Enter a number from 1 to 240."),
        ({"exit_grace_minutes": "61"}, "exit_grace_minutes", "Enter a number from 0 to 60."),
        ({"max_entries_per_hour": "two"}, "max_entries_per_hour", "Enter a whole number."),
        ({"retention_days": "4000"}, "retention_days", "Enter a number from 1 to 3650."),
        ({"allowed_platforms": ["plat", "plat2"]}, "allowed_platforms", "Choose platforms from the list."),
    ],
)
def test_a_wrong_policy_field_is_named_and_nothing_is_saved(sign_in, store, overrides, field, message):
    anna = sign_in("manager_a")
    before = world_state(store)

    reply = post(anna, "/admin/communities/c1/policy", policy_form(**overrides))

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    expected_field = "closing" if overrides == {"closing": ""} else field
    assert f'id="error-{expected_field}"' in html, html
    assert message in html
    assert "nothing was saved" in html
    typed = next(iter(overrides.values()))
    if isinstance(typed, str) and typed:
        assert f'value="{typed}"' in html  # what was typed comes back
    assert world_state(store) == before


def test_several_wrong_policy_fields_are_named_at_once(sign_in, store):
    reply = post(
        sign_in("manager_a"),
        "/admin/communities/c1/policy",
        policy_form(max_pass_minutes="999", retention_days="", opening="nine"),
    )

    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    for field in ("max_pass_minutes", "retention_days", "opening"):
        assert f'id="error-{field}"' in html
    assert store.get_community("c1").policy == CommunityPolicy()


def test_a_plugin_name_the_command_line_allowed_stays_offered(sign_in, store):
    community = store.get_community("c1")
    store.update_community(replace(community, policy=CommunityPolicy(allowed_platforms={"fakeplatform"})))

    html = page(sign_in("manager_a"), "/admin/communities/c1/policy")

    assert 'name="allowed_platforms" value="fakeplatform" checked' in html


# -- gates -----------------------------------------------------------------------------


def test_a_manager_adds_a_gate_with_a_default_code(sign_in, store):
    reply = post(
        sign_in("manager_a"),
        "/admin/communities/c1/gates/new",
        {"id": "g5", "name": "South gate 南门", "code": "", "door_no": "5", "access": "door"},
    )

    assert reply.status_code == 303
    assert reply.headers["Location"] == "/admin/communities/c1#gate-g5"
    gate = store.get_gate("g5")
    assert (gate.community_id, gate.name, gate.code, gate.door_no, gate.access_connection_id) == (
        "c1",
        "South gate 南门",
        "c1-g5",
        "5",
        "door",
    )
    (record,) = actions(store, "gate.created")
    assert (record.actor, record.subject) == ("user:anna", "g5")
    assert record.data == {
        "community": "c1",
        "code": "c1-g5",
        "name": "South gate 南门",
        "door_no": "5",
        "access_connection": "door",
    }


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"id": "g9"}, "id", "This id is already used"),  # c2's gate: ids are the hub's
        ({"id": "-x"}, "id", "Use letters, digits"),
        ({"code": "south-code"}, "code", "Another gate uses this code"),
        ({"code": "a b"}, "code", "Use letters, digits"),
        ({"name": ""}, "name", "Give the gate a name"),
        ({"door_no": ""}, "door_no", "Give the door number"),
        ({"access": "plat"}, "access", "Choose a connection from the list."),  # a platform
        ({"access": "nowhere"}, "access", "Choose a connection from the list."),
    ],
)
def test_a_wrong_gate_is_refused_with_its_fields_message(sign_in, store, form, field, message):
    anna = sign_in("manager_a")
    before = world_state(store)
    data = {"id": "g5", "name": "South gate", "code": "", "door_no": "5", "access": "", **form}

    reply = post(anna, "/admin/communities/c1/gates/new", data)

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert f'id="error-{field}"' in html and message in html
    assert world_state(store) == before


def test_a_manager_edits_a_gate_but_not_its_code(sign_in, store):
    anna = sign_in("manager_a")
    html = page(anna, "/admin/communities/c1/gates/g2/edit")
    assert 'value="door"' in html and 'value="gatectl"' in html and 'value="plat"' not in html

    reply = post(anna, "/admin/communities/c1/gates/g2/edit", {"name": "East gate 东门", "door_no": "2B", "code": "x"})

    assert reply.status_code == 303
    gate = store.get_gate("g2")
    assert (gate.name, gate.code, gate.door_no, gate.access_connection_id) == (
        "East gate 东门",
        "east-code",
        "2B",
        None,
    )
    (record,) = actions(store, "gate.updated")
    assert record.subject == "g2"
    assert record.data == {
        "community": "c1",
        "changed": {
            "name": {"before": "East gate", "after": "East gate 东门"},
            "door_no": {"before": "2", "after": "2B"},
        },
    }


def test_a_wrong_gate_edit_changes_nothing(sign_in, store):
    anna = sign_in("manager_a")
    before = world_state(store)

    reply = post(anna, "/admin/communities/c1/gates/g1/edit", {"name": "", "door_no": "1"})

    assert reply.status_code == 400
    assert world_state(store) == before


def decode(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_gate_qr_png_is_the_command_lines_code(cw, sign_in):
    reply = sign_in("manager_a").get("/admin/communities/c1/gates/g1/qr.png")

    assert reply.status_code == 200
    assert reply.mimetype == "image/png"
    assert reply.headers["Content-Disposition"] == "attachment; filename=gate-g1.png"
    runtime = cw.rw.runtime
    expected = gateqr.rider_url(runtime.config.public_url, runtime.gate_codes.sign("north-code"))
    assert decode(reply.data) == [expected]
    assert reply.data == gateqr.gate_qr_png(expected, "North gate")


def test_the_gate_qr_svg_carries_the_gates_name(cw, sign_in):
    reply = sign_in("operator").get("/admin/communities/c2/gates/g9/qr.svg")

    assert reply.status_code == 200
    assert reply.mimetype == "image/svg+xml"
    assert reply.headers["Content-Disposition"] == "attachment; filename=gate-g9.svg"
    svg = reply.get_data(as_text=True)
    assert "<title>South gate</title>" in svg and ">South gate</text>" in svg
    runtime = cw.rw.runtime
    url = gateqr.rider_url(runtime.config.public_url, runtime.gate_codes.sign("south-code"))
    assert svg == gateqr.gate_qr_svg(url, "South gate")


def test_a_png_without_a_font_for_the_name_points_to_the_svg(sign_in, monkeypatch):
    def no_font(url, label, font_path=None):
        raise gateqr.FontMissing("no font")

    monkeypatch.setattr(gateqr, "gate_qr_png", no_font)

    reply = sign_in("manager_a").get("/admin/communities/c1/gates/g1/qr.png")

    assert reply.status_code == 503
    assert "Download the SVG instead." in reply.get_data(as_text=True)


# -- buildings -------------------------------------------------------------------------


def test_a_manager_adds_edits_and_removes_a_building(sign_in, store):
    anna = sign_in("manager_a")
    form = {"id": "b2", "name": "Building 2 二号楼", "door_no": "2", "latitude": "31.2304", "longitude": "121.4737"}

    assert post(anna, "/admin/communities/c1/buildings/new", form).status_code == 303
    added = Building("b2", "Building 2 二号楼", "2", 31.2304, 121.4737)
    assert store.get_community("c1").buildings == (Building("b1", "Building 1", "1"), added)

    html = page(anna, "/admin/communities/c1/buildings/b2/edit")
    assert 'value="31.2304"' in html
    edit = {"name": "Building 2", "door_no": "2A", "latitude": "", "longitude": ""}
    assert post(anna, "/admin/communities/c1/buildings/b2/edit", edit).status_code == 303
    assert store.get_community("c1").buildings[1] == Building("b2", "Building 2", "2A")

    assert "Remove the building Building 1" in page(anna, "/admin/communities/c1/buildings/b1/remove")
    assert post(anna, "/admin/communities/c1/buildings/b1/remove", {}).status_code == 303
    assert store.get_community("c1").buildings == (Building("b2", "Building 2", "2A"),)

    created, updated, removed = (actions(store, f"building.{a}") for a in ("created", "updated", "removed"))
    assert [r.subject for r in created + updated + removed] == ["c1/b2", "c1/b2", "c1/b1"]
    assert created[0].data["latitude"] == 31.2304 and created[0].actor == "user:anna"
    assert updated[0].data["changed"]["door_no"] == {"before": "2", "after": "2A"}
    assert removed[0].data["name"] == "Building 1"
    assert store.get_community("c2").buildings == (Building("b9", "River 9", "9"),)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"id": "b1"}, "id", "This id is already used"),
        ({"id": ""}, "id", "Use letters, digits"),
        ({"name": ""}, "name", "Give the building a name"),
        ({"latitude": "31.2"}, "longitude", "Give both the latitude and the longitude"),
        ({"latitude": "91", "longitude": "121"}, "latitude", "Enter a number from -90 to 90."),
        ({"latitude": "31", "longitude": "east"}, "longitude", "Enter a number from -180 to 180."),
    ],
)
def test_a_wrong_building_is_refused_with_its_fields_message(sign_in, store, form, field, message):
    anna = sign_in("manager_a")
    before = world_state(store)
    data = {"id": "b2", "name": "Building 2", "door_no": "2", "latitude": "", "longitude": "", **form}

    reply = post(anna, "/admin/communities/c1/buildings/new", data)

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert f'id="error-{field}"' in html and message in html
    assert world_state(store) == before


# -- zones -----------------------------------------------------------------------------


def test_the_zone_form_offers_every_kind_by_its_name(sign_in):
    html = page(sign_in("manager_a"), "/admin/communities/c1/zones/new")

    for kind, label in [
        ("parking", "Rider parking"),
        ("locker", "Food lockers"),
        ("rest_station", "Rest station"),
        ("no_go", "No-go area"),
        ("route", "Riding route"),
    ]:
        assert f'<option value="{kind}">{label}</option>' in html


def test_a_manager_adds_edits_and_removes_a_zone(sign_in, store):
    anna = sign_in("manager_a")
    points = "31.2304, 121.4737\n\n31.2310，121.4740\n31.2300 121.4750\n"
    form = {"id": "no-go-1", "kind": "no_go", "name": "Kindergarten 幼儿园", "points": points, "notes": "Walk"}

    assert post(anna, "/admin/communities/c1/zones/new", form).status_code == 303
    shape = ((31.2304, 121.4737), (31.231, 121.474), (31.23, 121.475))
    assert store.get_zone("c1", "no-go-1") == Zone("no-go-1", "no_go", "Kindergarten 幼儿园", shape, "Walk")

    html = page(anna, "/admin/communities/c1/zones/no-go-1/edit")
    assert "31.2304, 121.4737\n31.231, 121.474\n31.23, 121.475</textarea>" in html
    edit = {"kind": "route", "name": "Riding route", "points": "31.1, 121.1\n31.2, 121.2", "notes": ""}
    assert post(anna, "/admin/communities/c1/zones/no-go-1/edit", edit).status_code == 303
    assert store.get_zone("c1", "no-go-1") == Zone("no-go-1", "route", "Riding route", ((31.1, 121.1), (31.2, 121.2)))

    assert post(anna, "/admin/communities/c1/zones/z1/remove", {}).status_code == 303
    assert [z.id for z in store.list_zones("c1")] == ["no-go-1"]
    assert [z.id for z in store.list_zones("c2")] == ["z9"]

    created, updated, removed = (actions(store, f"zone.{a}") for a in ("created", "updated", "removed"))
    assert [r.subject for r in created + updated + removed] == ["c1/no-go-1", "c1/no-go-1", "c1/z1"]
    assert created[0].data["points"] == [list(p) for p in shape]
    assert updated[0].data["changed"]["kind"] == {"before": "no_go", "after": "route"}
    assert removed[0].data == {"community": "c1", "kind": "parking", "name": "North parking"}


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"id": "z1"}, "id", "This id is already used"),
        ({"kind": ""}, "kind", "Choose what kind of area this is."),
        ({"kind": "swimming_pool"}, "kind", "Choose what kind of area this is."),
        ({"name": ""}, "name", "Give the area a name"),
        ({"points": "31.2, 121.4\nnorth corner"}, "points", "Line 2: write one point as"),
        ({"points": "91, 121.4"}, "points", "Line 1: latitude is from -90 to 90"),
        ({"kind": "no_go", "points": "31.2, 121.4\n31.3, 121.5"}, "points", "Give at least 3 points"),
        ({"kind": "route", "points": "31.2, 121.4"}, "points", "Give at least 2 points"),
    ],
)
def test_a_wrong_zone_is_refused_with_its_fields_message(sign_in, store, form, field, message):
    anna = sign_in("manager_a")
    before = world_state(store)
    data = {"id": "z2", "kind": "parking", "name": "South parking", "points": "", "notes": "", **form}

    reply = post(anna, "/admin/communities/c1/zones/new", data)

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert f'id="error-{field}"' in html and message in html
    assert world_state(store) == before


def test_a_wrong_zone_edit_changes_nothing(sign_in, store):
    anna = sign_in("manager_a")
    before = world_state(store)

    reply = post(anna, "/admin/communities/c1/zones/z1/edit", {"kind": "parking", "name": "", "points": ""})

    assert reply.status_code == 400
    assert world_state(store) == before


# -- language --------------------------------------------------------------------------


def test_the_community_pages_speak_chinese(cw):
    client = cw.sign_in("anna", client=cw.client(HTTP_ACCEPT_LANGUAGE="zh-CN"))

    html = page(client, "/admin/communities/c1")
    assert "通行规则" in html and "全天开放" in html and "骑手停车区" in html
    assert "Entry policy" not in html
    assert "保存通行规则" in page(client, "/admin/communities/c1/policy")
    zones = page(client, "/admin/communities/c1/zones/new")
    for label in ("骑手停车区", "智能取餐柜", "骑手休息站", "禁行区域", "骑行路线"):
        assert label in zones
    reply = post(client, "/admin/communities/c1/policy", policy_form(max_pass_minutes="0"))
    assert "请输入 1 到 240 之间的数字。" in reply.get_data(as_text=True)
