"""Signing in to the console and staying signed in: sessions, timeouts, sign-out, CSRF,
the sign-in limits, TOTP and disabled users, with the hub's ManualClock for time."""

from __future__ import annotations

import re

import pyotp
import pytest

from hub.core.errors import UpstreamError
from hub.core.secrets import generate_key
from hub.core.users import hash_password
from hub.web import create_app
from hub.web.admin import SECURITY_HEADERS
from hub.web.admin.auth import POLL_HEADER
from hub.web.admin.sessions import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER
from tests.console_world import PASSWORD, build_console_world, csrf_of, login, waiting


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    yield world
    world.close()


def actions(store, *names: str) -> list[tuple[str, str, str, dict]]:
    return [
        (r.actor, r.action, r.subject, r.data)
        for r in reversed(store.list_audit(limit=1000))
        if not names or r.action in names
    ]


def cookie(client) -> str:
    return client.get_cookie("last100_session").value


def is_signed_in(client) -> bool:
    reply = client.get("/admin/guard")
    return reply.status_code == 200


# -- signing in and out ----------------------------------------------------------------


def test_a_page_behind_sign_in_sends_you_to_sign_in_and_back(cw):
    client = cw.client()

    reply = client.get("/admin/guard?x=1")

    assert reply.status_code == 302
    assert reply.headers["Location"] == "/admin/login?next=/admin/guard?x%3D1"
    back = login(client, "gus", PASSWORD, next="/admin/guard?x=1")
    assert back.status_code == 303 and back.headers["Location"] == "/admin/guard?x=1"


@pytest.mark.parametrize("target", ["https://evil.example/admin", "//evil.example/admin", "/g/x", "/admin\\@evil"])
def test_signing_in_never_sends_you_off_the_console(cw, target):
    reply = login(cw.client(), "olga", PASSWORD, next=target)

    assert reply.headers["Location"] == "/admin/"


def test_signing_in_starts_a_new_session_and_audits_it(cw):
    client = cw.client()
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    client.get("/admin/login")
    with client.session_transaction() as anonymous:
        anonymous_token = anonymous["csrf_token"]

    cw.sign_in("anna", client=client)

    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") != anonymous_token
        assert set(after) == {"console_session"}
    [(actor, _action, subject, data)] = actions(cw.store, "console.signed_in")
    assert (actor, subject) == ("user:anna", "anna")
    assert data["address"] == "127.0.0.1" and len(data["session"]) == 12


def test_the_session_cookie_is_http_only_and_same_site_lax(cw):
    client = cw.client()
    reply = login(client, "olga", PASSWORD)

    set_cookie = reply.headers["Set-Cookie"]
    assert set_cookie.startswith("last100_session=")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie  # the test hub is served over plain HTTP


def test_under_https_the_cookie_is_secure_and_pages_ask_for_hsts(tmp_path):
    app = create_app(
        {
            "instance_path": tmp_path,
            "secret_keys": [generate_key()],
            "secret_key": "test",
            "public_url": "https://hub.example",
        }
    )
    rt = app.extensions["last100"]
    rt.store.upgrade()
    rt.store.add_user("olga", hash_password(PASSWORD), "operator")
    client = app.test_client()
    try:
        page = client.get("/admin/login", base_url="https://hub.example")
        reply = client.post(
            "/admin/login",
            base_url="https://hub.example",
            headers={"Referer": "https://hub.example/admin/login"},
            data={"username": "olga", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))},
        )
        assert reply.status_code == 303
        assert "Secure" in reply.headers["Set-Cookie"]
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        rt.close()


def test_a_wrong_password_is_refused_and_audited(cw):
    reply = login(cw.client(), "anna", "not the password")

    assert reply.status_code == 401
    assert "Wrong username or password." in reply.get_data(as_text=True)
    [(actor, _action, subject, data)] = actions(cw.store, "console.sign_in_failed")
    assert (actor, subject, data["reason"]) == ("anonymous", "anna", "password")


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(cw):
    unknown = login(cw.client(), "nobody", PASSWORD)
    wrong = login(cw.client(), "anna", "not the password")

    assert unknown.status_code == wrong.status_code == 401
    text = lambda reply: re.sub(r'value="[^"]*"', "", reply.get_data(as_text=True))  # noqa: E731
    assert text(unknown).replace("nobody", "anna") == text(wrong)
    assert [d["reason"] for *_rest, d in actions(cw.store, "console.sign_in_failed")] == ["unknown_user", "password"]


def test_signing_out_is_a_post_that_ends_the_session_for_good(cw):
    client = cw.sign_in("olga")
    stolen = cookie(client)
    assert client.get("/admin/logout").status_code == 405

    page = client.get("/admin/guard").get_data(as_text=True)
    reply = client.post("/admin/logout", data={"csrf_token": csrf_of(page)})

    assert reply.status_code == 303 and reply.headers["Location"] == "/admin/login"
    assert "You have signed out." in client.get("/admin/login").get_data(as_text=True)
    assert not is_signed_in(client)
    replay = cw.client()
    replay.set_cookie("last100_session", stolen)
    assert not is_signed_in(replay)
    [(actor, _action, _subject, data)] = actions(cw.store, "console.signed_out")
    assert actor == "user:olga" and data["reason"] == "signed_out"


def test_a_disabled_user_cannot_sign_in_and_their_sessions_end(cw):
    client = cw.sign_in("anna")

    assert cw.store.set_user_disabled("anna", True, actor="cli") == 1

    assert not is_signed_in(client)
    reply = login(cw.client(), "anna", PASSWORD)
    assert reply.status_code == 403
    assert "This account is disabled" in reply.get_data(as_text=True)
    assert actions(cw.store, "console.sign_in_failed")[-1][3]["reason"] == "disabled"
    cw.store.set_user_disabled("anna", False, actor="cli")
    assert is_signed_in(cw.sign_in("anna"))


def test_a_password_reset_ends_every_session_of_the_user(cw):
    laptop, tablet, other = cw.sign_in("gus"), cw.sign_in("gus"), cw.sign_in("gina")

    assert cw.store.set_password("gus", hash_password("a brand new password"), actor="cli") == 2

    assert not is_signed_in(laptop) and not is_signed_in(tablet)
    assert is_signed_in(other)
    assert login(cw.client(), "gus", PASSWORD).status_code == 401
    assert is_signed_in(cw.sign_in("gus", "a brand new password"))


# -- timeouts ----------------------------------------------------------------------------


def test_thirty_idle_minutes_end_the_session(cw):
    client = cw.sign_in("gus")
    cw.clock.advance(minutes=29)
    assert is_signed_in(client)

    cw.clock.advance(minutes=30)

    reply = client.get("/admin/guard")
    assert reply.status_code == 302 and reply.headers["Location"].startswith("/admin/login")
    assert "30 minutes without activity" in client.get("/admin/login").get_data(as_text=True)
    [(_actor, _action, _subject, data)] = actions(cw.store, "console.session_ended")
    assert data["reason"] == "idle"


def test_twelve_hours_end_even_a_busy_session(cw):
    client = cw.sign_in("gus")
    for _ in range(11 * 3):
        cw.clock.advance(minutes=20)
        assert is_signed_in(client)

    cw.clock.advance(minutes=61)

    assert not is_signed_in(client)
    assert actions(cw.store, "console.session_ended")[-1][3]["reason"] == "expired"


def test_the_guard_queues_refresh_is_not_activity(cw):
    client = cw.sign_in("gus")
    for minutes in (10, 10, 9):
        cw.clock.advance(minutes=minutes)
        assert client.get("/admin/guard/list", headers={POLL_HEADER: "1"}).status_code == 200

    cw.clock.advance(minutes=1)

    assert client.get("/admin/guard/list", headers={POLL_HEADER: "1"}).status_code == 401
    assert not is_signed_in(client)


# -- the sign-in limits ------------------------------------------------------------------


def test_five_failures_for_a_username_pause_its_sign_in_for_fifteen_minutes(cw):
    for _ in range(MAX_FAILURES_PER_USER):
        assert login(cw.client(), "anna", "wrong password!").status_code == 401

    paused = login(cw.client(), "anna", PASSWORD)

    assert paused.status_code == 429
    assert "Too many failed sign-ins. Wait 15 minutes" in paused.get_data(as_text=True)
    assert paused.headers["Retry-After"] == "900"
    assert actions(cw.store, "console.sign_in_throttled")[-1][:3] == ("anonymous", "console.sign_in_throttled", "anna")
    assert login(cw.client(), "bert", PASSWORD).status_code == 303  # other users are not affected
    cw.clock.advance(minutes=14)
    assert login(cw.client(), "anna", PASSWORD).status_code == 429
    cw.clock.advance(minutes=1)
    assert login(cw.client(), "anna", PASSWORD).status_code == 303


def test_a_successful_sign_in_starts_the_count_again(cw):
    for _ in range(MAX_FAILURES_PER_USER - 1):
        login(cw.client(), "anna", "wrong password!")
    assert login(cw.client(), "anna", PASSWORD).status_code == 303

    for _ in range(MAX_FAILURES_PER_USER - 1):
        login(cw.client(), "anna", "wrong password!")

    assert login(cw.client(), "anna", PASSWORD).status_code == 303


def test_many_failures_from_one_address_pause_sign_in_from_it(cw):
    office = {"REMOTE_ADDR": "10.1.2.3"}
    for n in range(MAX_FAILURES_PER_ADDRESS):
        assert login(cw.client(**office), f"guess{n}", "wrong password!").status_code == 401

    assert login(cw.client(**office), "olga", PASSWORD).status_code == 429
    assert login(cw.client(REMOTE_ADDR="10.9.9.9"), "olga", PASSWORD).status_code == 303


# -- TOTP --------------------------------------------------------------------------------


@pytest.fixture
def totp(cw):
    secret = pyotp.random_base32(32)
    cw.store.set_totp_secret("olga", secret, actor="cli")
    return pyotp.TOTP(secret)


def send_code(client, code: str):
    page = client.get("/admin/login/code").get_data(as_text=True)
    return client.post("/admin/login/code", data={"code": code, "csrf_token": csrf_of(page)})


def test_with_totp_the_password_alone_does_not_sign_in(cw, totp):
    client = cw.client()
    reply = login(client, "olga", PASSWORD)

    assert reply.status_code == 303 and reply.headers["Location"] == "/admin/login/code"
    assert not is_signed_in(client)
    done = send_code(client, totp.at(cw.clock.now()))

    assert done.status_code == 303 and done.headers["Location"] == "/admin/"
    assert is_signed_in(client)
    data = actions(cw.store, "console.signed_in")[-1][3]
    assert data["second_factor"] == "totp" and data["totp_step"] == totp.timecode(cw.clock.now())


def test_a_wrong_totp_code_is_refused_and_counted(cw, totp):
    client = cw.client()
    login(client, "olga", PASSWORD)

    reply = send_code(client, "000000" if totp.at(cw.clock.now()) != "000000" else "111111")

    assert reply.status_code == 401
    assert "This code is not right" in reply.get_data(as_text=True)
    assert actions(cw.store, "console.sign_in_failed")[-1][3]["reason"] == "totp"
    assert not is_signed_in(client)


def test_a_totp_code_works_once(cw, totp):
    code = totp.at(cw.clock.now())
    first = cw.client()
    login(first, "olga", PASSWORD)
    assert send_code(first, code).status_code == 303

    second = cw.client()
    login(second, "olga", PASSWORD)

    assert send_code(second, code).status_code == 401
    cw.clock.advance(seconds=30)
    assert send_code(second, totp.at(cw.clock.now())).status_code == 303


def test_the_code_step_waits_five_minutes(cw, totp):
    client = cw.client()
    login(client, "olga", PASSWORD)
    cw.clock.advance(minutes=6)

    reply = client.get("/admin/login/code")

    assert reply.status_code == 303 and reply.headers["Location"] == "/admin/login"
    assert not is_signed_in(client)


# -- CSRF --------------------------------------------------------------------------------


def _post_routes(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and "POST" in (rule.methods or ()):
            urls.append(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"\1-x", rule.rule))
    return sorted(urls)


def test_every_console_form_is_refused_without_its_csrf_token(cw):
    waiting(cw.store, "w-1")
    client = cw.sign_in("olga")
    urls = _post_routes(cw.app)
    assert {"/admin/login", "/admin/logout", "/admin/guard/entry_id-x/approve"} <= set(urls)

    for url in urls:
        reply = client.post(url, data={"username": "olga", "password": PASSWORD, "reason": "x"})
        assert reply.status_code == 400, url
        assert "did not come from the console" in reply.get_data(as_text=True), url
    forged = client.post("/admin/guard/w-1/approve", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert cw.store.get_entry("w-1").decision.value == "manual_check"
    assert is_signed_in(client)


def test_a_token_from_another_session_is_refused(cw):
    waiting(cw.store, "w-1")
    mine, theirs = cw.sign_in("gus"), cw.sign_in("gina")
    their_token = csrf_of(theirs.get("/admin/guard").get_data(as_text=True))

    reply = mine.post("/admin/guard/w-1/approve", data={"csrf_token": their_token})

    assert reply.status_code == 400


def test_the_api_and_rider_page_need_no_console_token(cw):
    cw.rw.world.platform.fail["hub_verify_rider"] = UpstreamError("down")
    page = cw.client().get(cw.rw.page())

    assert page.status_code == 200
    reply = cw.client().post(cw.rw.page(), data={"connection": "plat", "kind": "typed_code", "code": "x"})
    assert reply.status_code == 400  # the rider page's own token, not CSRFProtect's
    assert "did not come from the console" not in reply.get_data(as_text=True)


# -- headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/login", "/admin/guard", "/admin/", "/admin/no-such-page"])
def test_console_pages_carry_the_security_headers(cw, url):
    reply = cw.sign_in("olga").get(url)

    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name] == value, name
    csp = reply.headers["Content-Security-Policy"]
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
    assert reply.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in reply.headers


def test_an_unknown_console_page_is_the_consoles_404(cw):
    reply = cw.sign_in("olga").get("/admin/no-such-page")

    assert reply.status_code == 404
    assert "There is no such page" in reply.get_data(as_text=True)
    assert cw.client().get("/api/v1/no-such").json["error"]["code"] == "not_found"
