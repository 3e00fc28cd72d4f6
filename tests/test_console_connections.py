"""The console's connections page: the list, the form generated from a plugin's settings
schema, validation, test before save, write-only secrets, roles and CSRF."""

from __future__ import annotations

from html import unescape

import marshmallow
import pytest
from marshmallow import fields, validate

from hub import Health, PluginInfo, hookimpl
from hub.core.model import Connection
from tests.console_world import build_console_world, csrf_of

GOOD = "s3cret-good-value"
OTHER = "an0ther-good-value"


class GadgetSettings(marshmallow.Schema):
    base_url = fields.Url(required=True, metadata={"description": "Where the gadget answers."})
    port = fields.Integer(load_default=443)
    mode = fields.String(validate=validate.OneOf(["fast", "safe"]), load_default="safe")
    verbose = fields.Boolean(load_default=False)
    tags = fields.List(fields.String(), load_default=list)
    api_secret = fields.String(required=True, metadata={"secret": True})


class GadgetPlugin:
    """Accepts ``GOOD`` and ``OTHER`` as its secret; refuses anything else."""

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="gadget", kinds={"access"}, version="1", settings_schema=GadgetSettings)

    @hookimpl
    def hub_check_connection(self, connection) -> Health:
        ok = connection.settings["api_secret"] in (GOOD, OTHER)
        return Health(ok=ok, message="welcome" if ok else "the gadget refused the secret")


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    world.rw.world.hub.register(GadgetPlugin())
    yield world
    world.close()


@pytest.fixture
def olga(cw):
    return cw.sign_in("olga")


def form(**overrides: str) -> dict[str, object]:
    values: dict[str, object] = {
        "id": "gad1",
        "name": "Front gadget",
        "timeout": "2.5",
        "freshness": "60",
        "enabled": "on",
        "communities": ["c1"],
        "setting-base_url": "https://gadget.example/api",
        "setting-port": "8443",
        "setting-mode": "fast",
        "setting-tags": '["a", "b"]',
        "setting-api_secret": GOOD,
    }
    values.update(overrides)
    return values


def post(client, url: str, data: dict[str, object]):
    token = csrf_of(client.get(url).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def actions(store, action: str) -> list:
    return [r for r in store.list_audit(limit=1000) if r.action == action]


def test_operator_lists_every_connection_with_its_communities(cw, olga):
    html = olga.get("/admin/connections").get_data(as_text=True)

    for connection_id in ("plat", "door", "plat2"):
        assert f'data-connection="{connection_id}"' in html
    assert "River Bank" in html
    assert "/admin/connections/new?plugin=gadget" in html


def test_the_form_is_generated_from_the_settings_schema(cw, olga):
    html = olga.get("/admin/connections/new?plugin=gadget").get_data(as_text=True)

    assert 'data-setting="base_url" data-kind="text"' in html
    assert 'data-setting="port" data-kind="number"' in html
    assert 'data-setting="mode" data-kind="select"' in html
    assert 'data-setting="verbose" data-kind="checkbox"' in html
    assert 'data-setting="tags" data-kind="json"' in html
    assert 'data-setting="api_secret" data-kind="password"' in html
    assert '<option value="fast"' in html
    assert "Where the gadget answers." in html


def test_a_valid_form_tests_saves_links_and_audits(cw, olga):
    reply = post(olga, "/admin/connections/new?plugin=gadget", form())

    assert reply.status_code == 303, reply.get_data(as_text=True)
    saved = cw.store.get_connection("gad1")
    assert saved.settings["api_secret"] == GOOD
    assert saved.settings["port"] == 8443
    assert saved.settings["tags"] == ["a", "b"]
    assert (saved.name, saved.timeout_s, saved.freshness_s, saved.enabled) == ("Front gadget", 2.5, 60, True)
    assert [c.id for c in cw.store.connections_for_community("c1")].count("gad1") == 1
    (record,) = actions(cw.store, "connection.created")
    assert record.actor == "user:olga" and record.subject == "gad1"
    assert record.data["tested"] is True
    assert GOOD not in repr(record.data)


def test_bad_settings_show_the_field_error_and_save_nothing(cw, olga):
    reply = post(olga, "/admin/connections/new?plugin=gadget", form(**{"setting-base_url": "not a url"}))

    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert 'id="error-base_url"' in html
    assert "Not a valid URL." in unescape(html)
    assert GOOD not in html
    assert "gad1" not in {c.id for c in cw.store.list_connections()}
    assert actions(cw.store, "connection.created") == []


def test_bad_json_is_a_field_error(cw, olga):
    reply = post(olga, "/admin/connections/new?plugin=gadget", form(**{"setting-tags": "[oops"}))

    assert reply.status_code == 400
    assert 'id="error-tags"' in reply.get_data(as_text=True)
    assert "gad1" not in {c.id for c in cw.store.list_connections()}


def test_a_failing_check_saves_nothing(cw, olga):
    reply = post(olga, "/admin/connections/new?plugin=gadget", form(**{"setting-api_secret": "wrong-secret-1"}))

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert "the gadget refused the secret" in html
    assert "wrong-secret-1" not in html
    assert "gad1" not in {c.id for c in cw.store.list_connections()}


def test_save_without_testing_saves_and_audits(cw, olga):
    data = form(**{"setting-api_secret": "wrong-secret-1", "skip_check": "on"})
    reply = post(olga, "/admin/connections/new?plugin=gadget", data)

    assert reply.status_code == 303
    assert cw.store.get_connection("gad1").settings["api_secret"] == "wrong-secret-1"
    (record,) = actions(cw.store, "connection.created")
    assert record.data["saved_without_testing"] is True and record.data["tested"] is False
    assert "wrong-secret-1" not in repr(record.data)


def test_edit_keeps_an_empty_secret_and_replaces_a_given_one(cw, olga):
    assert post(olga, "/admin/connections/new?plugin=gadget", form()).status_code == 303
    url = "/admin/connections/gad1/edit"

    kept = form(name="Renamed", communities=["c2"], **{"setting-api_secret": ""})
    assert post(olga, url, kept).status_code == 303
    saved = cw.store.get_connection("gad1")
    assert (saved.name, saved.settings["api_secret"]) == ("Renamed", GOOD)
    assert cw.store.connection_community_ids()["gad1"] == ["c2"]

    assert post(olga, url, form(**{"setting-api_secret": OTHER})).status_code == 303
    assert cw.store.get_connection("gad1").settings["api_secret"] == OTHER
    records = actions(cw.store, "connection.updated")
    assert [r.data["secrets_replaced"] for r in reversed(records)] == [[], ["api_secret"]]
    assert not any(GOOD in repr(r.data) or OTHER in repr(r.data) for r in records)


def test_the_secret_never_appears_in_any_page(cw, olga):
    cw.store.add_connection(
        Connection("gad1", "gadget", "Stored", {"base_url": "https://g.example", "api_secret": GOOD}),
        {"api_secret"},
        ["c1"],
    )
    pages = ["/admin/connections", "/admin/connections/gad1/edit", "/admin/audit"]
    for url in pages:
        reply = olga.get(url)
        assert reply.status_code == 200, url
        assert GOOD not in reply.get_data(as_text=True), url
    failed = post(olga, "/admin/connections/gad1/edit", form(**{"setting-base_url": "nope", "setting-api_secret": ""}))
    assert GOOD not in failed.get_data(as_text=True)
    html = olga.get("/admin/connections/gad1/edit").get_data(as_text=True)
    assert "Leave empty to keep the current value." in html
    assert "https://g.example" in html


@pytest.mark.parametrize("username", ["anna", "gus"])
def test_managers_and_guards_get_403(cw, username):
    client = cw.sign_in(username)
    for url in ["/admin/connections", "/admin/connections/new?plugin=gadget", "/admin/connections/plat/edit"]:
        assert client.get(url).status_code == 403, url
    token = csrf_of(client.get("/admin/guard").get_data(as_text=True))
    reply = client.post("/admin/connections/new?plugin=gadget", data={**form(), "csrf_token": token})
    assert reply.status_code == 403
    assert "gad1" not in {c.id for c in cw.store.list_connections()}


def test_not_signed_in_is_sent_to_sign_in(cw):
    reply = cw.client().get("/admin/connections")
    assert reply.status_code == 302 and "/admin/login" in reply.headers["Location"]


def test_a_form_without_the_csrf_token_is_refused(cw, olga):
    reply = olga.post("/admin/connections/new?plugin=gadget", data=form())

    assert reply.status_code == 400
    assert "gad1" not in {c.id for c in cw.store.list_connections()}


def test_an_unknown_plugin_or_connection_answers_404(cw, olga):
    assert olga.get("/admin/connections/new?plugin=nope").status_code == 404
    assert olga.get("/admin/connections/nope/edit").status_code == 404


def test_the_form_speaks_chinese(cw):
    client = cw.sign_in("olga", client=cw.client(HTTP_ACCEPT_LANGUAGE="zh-CN"))
    html = client.get("/admin/connections/new?plugin=gadget").get_data(as_text=True)
    assert "添加 gadget 连接" in html and "测试并保存" in html
