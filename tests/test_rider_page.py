"""The rider page in-process (Flask's test client): the form, the answers, the
languages, and everything a wrong or hostile request gets instead."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from hub import hookimpl
from hub.core.db import EntryRow
from hub.core.errors import UpstreamError
from hub.core.model import (
    AccessGrant,
    Community,
    CommunityPolicy,
    Connection,
    Decision,
    Gate,
    GrantRequest,
    PassKind,
    PluginInfo,
    RiderIdentity,
)
from hub.web.i18n import COOKIE
from hub.web.rider import FORM_MAX_AGE_S
from tests.engine_fakes import FakeLockers, FakePlatform, request
from tests.rider_world import GATE_KEY, build_rider_world, form_token


@pytest.fixture
def rw(tmp_path):
    world = build_rider_world(tmp_path)
    yield world
    world.close()


@pytest.fixture
def client(rw):
    return rw.app.test_client()


def entry_count(rw) -> int:
    with rw.world.store.transaction() as session:
        return session.scalar(select(func.count()).select_from(EntryRow)) or 0


def audit_count(rw) -> int:
    with rw.world.store.transaction() as session:
        return session.scalar(text("SELECT count(*) FROM audit_log")) or 0


def submit(client, page: str, lang: str = "en", **fields):
    html = client.get(page, headers={"Accept-Language": lang}).get_data(as_text=True)
    data = {"csrf": form_token(html), "connection": "plat", "kind": "typed_code", "code": "tok-1", **fields}
    return client.post(page, data={k: v for k, v in data.items() if v is not None}, headers={"Accept-Language": lang})


def answer(client, reply, lang: str = "en") -> str:
    assert reply.status_code == 303, reply.get_data(as_text=True)
    return client.get(reply.headers["Location"], headers={"Accept-Language": lang}).get_data(as_text=True)


# -- the form ------------------------------------------------------------------------------


def test_the_page_names_the_gate_and_community_and_offers_only_platforms(client, rw):
    reply = client.get(rw.page(), headers={"Accept-Language": "en"})

    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "<h1>North gate</h1>" in html
    assert "Sunny Garden" in html
    assert 'value="plat" checked> Fake platform' in html
    assert "North controller" not in html  # an access connection is no platform
    assert 'name="kind" value="typed_code"' in html and 'name="kind" value="entry_code"' in html
    assert '<button type="button" id="scan" class="secondary" hidden>' in html


def test_a_community_lists_each_of_its_platforms_and_preselects_none_when_several(tmp_path):
    rw = build_rider_world(tmp_path, extra_plugins=[FakePlatform("otherplatform")])
    try:
        rw.world.store.add_connection(Connection("other", "otherplatform", "Other Express"), (), ["c1"])
        html = rw.app.test_client().get(rw.page()).get_data(as_text=True)
        assert 'value="plat"> Fake platform' in html
        assert 'value="other"> Other Express' in html
    finally:
        rw.close()


def test_platforms_the_policy_does_not_allow_are_not_offered(tmp_path):
    rw = build_rider_world(tmp_path, CommunityPolicy(allowed_platforms={"other"}), [FakePlatform("otherplatform")])
    try:
        rw.world.store.add_connection(Connection("other", "otherplatform", "Other Express"), (), ["c1"])
        html = rw.app.test_client().get(rw.page()).get_data(as_text=True)
        assert "Other Express" in html
        assert "Fake platform" not in html
    finally:
        rw.close()


def test_the_page_is_small_and_loads_nothing_from_elsewhere(client, rw):
    reply = client.get(rw.page())
    html = reply.get_data(as_text=True)
    assert len(reply.data) < 8_000
    assert "http://" not in html and "https://" not in html
    assert client.get("/static/rider.css").status_code == 200
    assert client.get("/static/rider.js").status_code == 200
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]


# -- answers -----------------------------------------------------------------------------


def test_a_rider_with_an_order_gets_the_pass_as_a_qr_code_until_the_pass_ends(client, rw):
    reply = submit(client, rw.page())

    assert reply.headers["Location"].startswith(f"{rw.page()}/entries/")
    html = answer(client, reply)
    assert "You may enter" in html
    assert '<svg viewBox="0 0 29 29" class="qr">' in html  # the pass, QR-1, as a QR code
    assert "QR-1" in html
    assert "Valid until 12:15" in html  # 12:00 in Shanghai plus the order's ETA and grace
    [entry_id] = rw.world.gate_ctl.grants
    entry = rw.world.store.get_entry(entry_id)
    assert entry.decision is Decision.GRANTED
    assert reply.headers["Location"].endswith(entry_id)


def test_the_engine_hears_the_rider_page_as_the_actor(client, rw):
    submit(client, rw.page())
    with rw.world.store.transaction() as session:
        actors = session.execute(text("SELECT actor FROM audit_log WHERE action = 'entry.decided'")).scalars().all()
    assert actors == ["rider-page"]


def test_sending_the_same_page_twice_gives_one_entry(client, rw):
    html = client.get(rw.page()).get_data(as_text=True)
    data = {"csrf": form_token(html), "connection": "plat", "kind": "typed_code", "code": "tok-1"}

    first = client.post(rw.page(), data=data)
    second = client.post(rw.page(), data=data)

    assert first.headers["Location"] == second.headers["Location"]
    assert entry_count(rw) == 1


def test_a_denied_rider_reads_why_in_their_language(client, rw):
    rw.world.platform.riders["tok-2"] = RiderIdentity("R2", "李*")  # no order

    english = answer(client, submit(client, rw.page(), code="tok-2"))
    chinese = answer(client, submit(client, rw.page(), lang="zh-CN", code="tok-2"), lang="zh-CN")

    assert "You cannot enter" in english
    assert "You have no order being delivered into this community right now." in english
    assert "暂不能进入" in chinese
    assert "未找到您正在配送到本小区的订单" in chinese
    assert 'href="/g/' in english and "Try again" in english


def test_a_manual_check_asks_the_rider_to_wait_and_the_page_polls(client, rw):
    rw.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")

    reply = submit(client, rw.page())
    html = answer(client, reply)

    assert "Please wait" in html and "The guard will check you" in html
    status_url = reply.headers["Location"] + ".json"
    assert f'data-poll="{status_url}"' in html
    assert "/static/rider.js" in html
    assert client.get(status_url).json == {"decision": "manual_check"}


def test_a_guard_decision_shows_on_the_waiting_page(client, rw):
    rw.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    location = submit(client, rw.page()).headers["Location"]
    entry_id = location.rsplit("/", 1)[1]

    rw.world.store.record_guard_decision(entry_id, Decision.GRANTED, "guard:li")

    assert client.get(location + ".json").json == {"decision": "granted"}
    html = client.get(location, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "You may enter" in html and "The guard lets you in" in html
    assert "data-poll" not in html


def test_a_guard_refusal_shows_the_guards_words(client, rw):
    rw.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    location = submit(client, rw.page()).headers["Location"]

    rw.world.store.record_guard_decision(location.rsplit("/", 1)[1], "denied", "guard:li", reason="no helmet")

    html = client.get(location, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "You cannot enter" in html and "The guard did not let you in: no helmet" in html


class KindGate:
    """An access controller whose passes are of one kind."""

    def __init__(self, kind: PassKind, value: str) -> None:
        self.kind, self.value = kind, value

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="kindgate", kinds={"access"}, version="1.0")

    @hookimpl
    def hub_grant_access(self, grant: GrantRequest) -> AccessGrant:
        return AccessGrant(grant.grant_id, self.kind, self.value, grant.valid_from, grant.valid_until)


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (PassKind.PIN, "482913", ["Type this PIN at the gate", "482913"]),
        (PassKind.REMOTE_OPEN, "", ["The gate is opening"]),
        (PassKind.CARD, "0012345678", ["Hold this code to the gate's scanner", "<svg", "0012345678"]),
    ],
)
def test_each_kind_of_pass_is_shown_as_the_rider_uses_it(tmp_path, kind, value, shown):
    rw = build_rider_world(tmp_path, extra_plugins=[KindGate(kind, value)])
    try:
        rw.world.store.add_connection(Connection("kindctl", "kindgate", "West controller"), (), ["c1"])
        rw.world.store.add_gate(Gate("g3", "c1", "West gate", "west-code", "3", "kindctl"))
        client = rw.app.test_client()
        html = answer(client, submit(client, rw.page("west-code")))
        assert "You may enter" in html and "Valid until 12:15" in html
        for words in shown:
            assert words in html
        if kind is not PassKind.CARD:
            assert "<svg" not in html
    finally:
        rw.close()


def test_at_a_gate_without_a_device_the_rider_shows_a_code_to_the_guard(client, rw):
    html = answer(client, submit(client, rw.page("east-code")))
    assert "Show this code to the guard" in html
    entry = rw.world.store.get_entry(_last_entry_id(rw))
    assert entry.access_pass.kind is PassKind.GUARD and entry.access_pass.value in html


def test_an_expired_pass_is_not_shown(client, rw):
    location = submit(client, rw.page()).headers["Location"]
    rw.world.clock.advance(minutes=16)

    html = client.get(location, headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "This pass has expired" in html and "It was valid until 12:15." in html
    assert "<svg" not in html


def test_a_locker_entry_shows_the_compartment_and_drop_off_code(tmp_path):
    lockers = FakeLockers()
    rw = build_rider_world(tmp_path, CommunityPolicy(lockers_only=True), extra_plugins=[lockers])
    try:
        rw.world.store.add_connection(Connection("bank-1", "fakelockers", "Lockers by the north gate"), (), ["c1"])
        client = rw.app.test_client()
        html = answer(client, submit(client, rw.page()))
        assert "Use the food locker" in html
        assert '<p class="big">1</p>' in html
        assert '<p class="big mono">901</p>' in html
        assert "Lockers by the north gate" in html
        assert "Lockers by the north gate" not in client.get(rw.page()).get_data(as_text=True)  # not a platform
    finally:
        rw.close()


# -- presence codes from the gate screen ---------------------------------------------------


@pytest.fixture
def presence_world(tmp_path):
    rw = build_rider_world(tmp_path, CommunityPolicy(require_presence=True))
    yield rw
    rw.close()


def test_the_gate_screens_code_in_the_url_proves_presence(presence_world):
    rw = presence_world
    client = rw.app.test_client()
    code = rw.world.engine.presence.current("g1", rw.world.clock.now())

    page = client.get(f"{rw.page()}?p={code}").get_data(as_text=True)
    assert f'name="p" value="{code}"' in page
    reply = client.post(
        rw.page(),
        data={"csrf": form_token(page), "connection": "plat", "kind": "typed_code", "code": "tok-1", "p": code},
    )

    entry = rw.world.store.get_entry(reply.headers["Location"].rsplit("/", 1)[1])
    assert entry.decision is Decision.GRANTED


def test_without_the_screens_code_the_page_asks_for_it_and_the_policy_refuses(presence_world):
    rw = presence_world
    client = rw.app.test_client()

    page = client.get(rw.page(), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Code on the gate screen" in page
    html = answer(client, submit(client, rw.page()))

    assert "You cannot enter" in html
    entry = rw.world.store.get_entry(_last_entry_id(rw))
    assert [r.code for r in entry.reasons] == ["presence_required"]


def _last_entry_id(rw) -> str:
    with rw.world.store.transaction() as session:
        return session.scalars(select(EntryRow.id).order_by(EntryRow.created_at.desc())).first()


def test_a_wrong_screen_code_does_not_prove_presence(presence_world):
    rw = presence_world
    client = rw.app.test_client()
    html = answer(client, submit(client, rw.page(), p="000000"))
    assert "You cannot enter" in html


# -- languages ----------------------------------------------------------------------------


def test_the_browsers_language_picks_the_pages_language(client, rw):
    chinese = client.get(rw.page(), headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    english = client.get(rw.page(), headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    unknown = client.get(rw.page(), headers={"Accept-Language": "fr"}).get_data(as_text=True)

    assert '<html lang="zh-CN">' in chinese and "申请进门" in chinese and ">English</a>" in chinese
    assert '<html lang="en">' in english and "Ask to enter" in english and ">中文</a>" in english
    assert '<html lang="zh-CN">' in unknown


def test_the_language_switch_wins_and_is_remembered(client, rw):
    switched = client.get(f"{rw.page()}?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "Ask to enter" in switched.get_data(as_text=True)
    assert f"{COOKIE}=en" in switched.headers["Set-Cookie"]

    later = client.get(rw.page(), headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Ask to enter" in later


def test_the_switch_keeps_the_screens_code(client, rw):
    html = client.get(f"{rw.page()}?p=123456", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'href="{rw.page()}?p=123456&amp;lang=zh"' in html


# -- what is not found ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/g/north-code",  # unsigned
        "/g/north-code.forgedsignature",
        "/g/" + "x" * 300,
    ],
)
def test_a_forged_or_unsigned_gate_code_gets_the_not_found_page_in_both_languages(client, path):
    reply = client.get(path)
    assert reply.status_code == 404
    html = reply.get_data(as_text=True)
    assert "找不到此页面" in html and "Page not found" in html
    assert client.post(path, data={"code": "tok-1"}).status_code == 404


def test_a_validly_signed_code_of_a_deleted_or_unknown_gate_is_not_found(client, rw):
    assert client.get(rw.page("no-such-gate")).status_code == 404


def test_a_code_signed_with_another_key_is_not_found(client):
    from hub.core.tokens import GateCodes

    assert GATE_KEY != "another key"
    assert client.get("/g/" + GateCodes("another key").sign("north-code")).status_code == 404


def test_an_entry_is_shown_only_under_its_own_gate(client, rw):
    entry = rw.world.engine.decide(request(gate="east-code"))

    assert client.get(f"{rw.page('east-code')}/entries/{entry.id}").status_code == 200
    assert client.get(f"{rw.page()}/entries/{entry.id}").status_code == 404
    assert client.get(f"{rw.page()}/entries/{entry.id}.json").status_code == 404
    assert client.get(f"{rw.page()}/entries/no-such-entry").status_code == 404
    missing = client.get(f"{rw.page()}/entries/no-such-entry.json")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


# -- bad input: the form again, nothing written --------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"connection": None}, "Choose your delivery platform."),
        ({"connection": ""}, "Choose your delivery platform."),
        ({"code": "   "}, "Type the code from your rider app."),
        ({"code": "9" * 65}, "This code is too long."),
        ({"kind": "entry_code", "code": "e" * 2049}, "This code is too long."),
        ({"kind": "token"}, "Choose the kind of code you have."),
        ({"connection": "gatectl"}, "This platform does not serve this community."),
        ({"connection": "elsewhere"}, "This platform does not serve this community."),
        ({"csrf": "forged"}, "This page was open too long."),
    ],
)
def test_bad_input_shows_the_form_again_with_a_message_and_writes_nothing(client, rw, fields, message):
    before = audit_count(rw)

    reply = submit(client, rw.page(), **fields)

    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert '<p class="error" role="alert">' in html and message in html
    assert 'name="csrf"' in html  # a fresh form to send again
    assert entry_count(rw) == 0
    assert audit_count(rw) == before
    assert rw.world.platform.calls.upstream == 0


def test_a_platform_of_another_community_is_refused(tmp_path):
    rw = build_rider_world(tmp_path, extra_plugins=[FakePlatform("otherplatform")])
    try:
        store = rw.world.store
        store.add_community(Community("c2", "Moon Court"))
        store.add_connection(Connection("moon-plat", "otherplatform", "Moon Express"), (), ["c2"])
        store.add_gate(Gate("m1", "c2", "Moon gate", "moon-code"))
        client = rw.app.test_client()

        reply = submit(client, rw.page(), connection="moon-plat")

        assert reply.status_code == 400
        assert "This platform does not serve this community." in reply.get_data(as_text=True)
        assert entry_count(rw) == 0
    finally:
        rw.close()


def test_the_form_message_speaks_the_riders_language(client, rw):
    reply = submit(client, rw.page(), lang="zh-CN", code="")
    assert "请输入骑手App中的验证码。" in reply.get_data(as_text=True)


def test_a_form_kept_open_too_long_must_be_sent_again(client, rw):
    page = client.get(rw.page()).get_data(as_text=True)
    rw.world.clock.advance(seconds=FORM_MAX_AGE_S + 1)

    reply = client.post(
        rw.page(), data={"csrf": form_token(page), "connection": "plat", "kind": "typed_code", "code": "tok-1"}
    )

    assert reply.status_code == 400
    assert entry_count(rw) == 0
    again = form_token(reply.get_data(as_text=True))
    sent = client.post(rw.page(), data={"csrf": again, "connection": "plat", "kind": "typed_code", "code": "tok-1"})
    assert sent.status_code == 303
    assert entry_count(rw) == 1


def test_a_form_of_another_gate_is_refused(client, rw):
    east = client.get(rw.page("east-code")).get_data(as_text=True)
    reply = client.post(
        rw.page(), data={"csrf": form_token(east), "connection": "plat", "kind": "typed_code", "code": "tok-1"}
    )
    assert reply.status_code == 400
    assert entry_count(rw) == 0


def test_a_form_sent_again_with_other_answers_is_refused(client, rw):
    page = client.get(rw.page()).get_data(as_text=True)
    data = {"csrf": form_token(page), "connection": "plat", "kind": "typed_code", "code": "tok-1"}
    assert client.post(rw.page(), data=data).status_code == 303

    reply = client.post(rw.page(), data={**data, "code": "tok-9"}, headers={"Accept-Language": "en"})

    assert reply.status_code == 400
    assert "This page was open too long." in reply.get_data(as_text=True)
    assert entry_count(rw) == 1


def test_the_entry_page_is_never_cached(client, rw):
    location = submit(client, rw.page()).headers["Location"]
    reply = client.get(location)
    assert reply.headers["Cache-Control"] == "no-store"
    assert client.get(location + ".json").headers["Cache-Control"] == "no-store"
