"""The gate screen: shows the rider-page QR with the current presence code, on a private
address that the printed code does not give away."""

from __future__ import annotations

import re

import pytest

from hub.core.model import CommunityPolicy
from hub.core.tokens import PRESENCE_STEP_S, PresenceCodes
from tests.rider_world import GATE_KEY, build_rider_world, form_token


@pytest.fixture
def rw(tmp_path):
    world = build_rider_world(tmp_path, CommunityPolicy(require_presence=True))
    yield world
    world.close()


def screen(rw, gate_code: str = "north-code"):
    return rw.app.test_client().get(f"/screen/{rw.runtime.gate_codes.screen_token(gate_code)}")


def test_the_screen_shows_the_current_presence_code_and_renews_itself(rw):
    reply = screen(rw)

    assert reply.status_code == 200
    current = PresenceCodes(GATE_KEY).current("g1", rw.world.clock.now())
    page = reply.get_data(as_text=True)
    assert f'class="code">{current}<' in page
    assert f'content="{PRESENCE_STEP_S // 3}"' in page  # meta refresh
    assert reply.headers["Cache-Control"] == "no-store"


def test_the_code_changes_as_time_passes(rw):
    before = screen(rw).get_data(as_text=True)
    rw.world.clock.advance(seconds=PRESENCE_STEP_S)
    after = screen(rw).get_data(as_text=True)
    assert re.search(r'class="code">(\d+)<', before)[1] != re.search(r'class="code">(\d+)<', after)[1]


def test_the_printed_code_does_not_open_the_screen(rw):
    printed = rw.signed()
    assert rw.app.test_client().get(f"/screen/{printed}").status_code == 404
    assert rw.app.test_client().get("/screen/north-code.forged").status_code == 404


def test_a_rider_who_scanned_the_screen_proves_presence(rw):
    client = rw.app.test_client()
    code = PresenceCodes(GATE_KEY).current("g1", rw.world.clock.now())
    page = client.get(f"{rw.page()}?p={code}")
    html = page.get_data(as_text=True)
    assert f'name="p" value="{code}"' in html  # the form carries the screen's code along
    fields = {"csrf": form_token(html), "p": code, "connection": "plat", "kind": "typed_code", "code": "tok-1"}
    reply = client.post(rw.page(), data=fields)
    assert reply.status_code == 303
    entry_id = reply.headers["Location"].rsplit("/", 1)[1]
    assert rw.world.store.get_entry(entry_id).decision.value == "granted"
