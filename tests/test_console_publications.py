"""The jobs page shows each community's publication state: its profile version and, per
platform, what it last accepted and the latest error; managers see their own only."""

from __future__ import annotations

import re
from html import unescape

import pytest

from hub.core.errors import UpstreamError
from hub.core.model import Connection
from hub.core.publishing import publish_communities
from tests.console_world import build_console_world
from tests.test_publishing import FakePublisher


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    world.publisher = FakePublisher()
    world.rw.world.hub.register(world.publisher)
    world.store.add_connection(Connection("pub-a", "publisher", "Platform A"), (), ["c1"])
    world.store.add_connection(Connection("pub-b", "publisher", "Platform B"), (), ["c1"])
    yield world
    world.close()


def rows(html: str) -> dict[str, str]:
    """Each publication row's text, by its ``data-publication``."""
    found = re.findall(r'<tr data-publication="([^"]+)">(.*?)</tr>', html, re.S)
    return {key: " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split()) for key, body in found}


def jobs_page(cw, who: str, language: str = "en") -> str:
    reply = cw.sign_in(who).get("/admin/jobs", headers={"Accept-Language": language})
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def test_before_any_run_nothing_is_published(cw):
    shown = rows(jobs_page(cw, "olga"))

    assert shown["c1/pub-a"] == "Sunny Garden not recorded yet Platform A pub-a never due at the next run"
    assert shown["c2/"] == "River Bank not recorded yet No platform takes this community's profile."


def test_the_version_each_platform_holds_and_the_latest_error_are_shown(cw):
    cw.publisher.fail["pub-b"] = UpstreamError("the platform answered 503")
    publish_communities(cw.rw.world.hub, cw.store, cw.clock)

    shown = rows(jobs_page(cw, "olga"))

    assert shown["c1/pub-a"] == "Sunny Garden v1 Platform A pub-a v1 at 2026-01-05 12:00:00 up to date"
    assert shown["c1/pub-b"] == (
        "Sunny Garden v1 Platform B pub-b never failed at 2026-01-05 12:00:00: the platform answered 503"
    )


def test_a_manager_sees_only_their_communities(cw):
    shown = rows(jobs_page(cw, "anna"))

    assert set(shown) == {"c1/pub-a", "c1/pub-b"}


def test_the_section_is_translated(cw):
    publish_communities(cw.rw.world.hub, cw.store, cw.clock)

    html = jobs_page(cw, "olga", "zh-CN")

    assert "小区信息发布" in html
    assert "已是最新" in rows(html)["c1/pub-a"]
