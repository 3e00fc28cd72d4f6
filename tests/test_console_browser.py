"""The console in a real browser: Debian's chromium, driven by Playwright, against the
real app served on loopback — signing in, a guard letting a rider in, and the
dashboard's chart. Same launch options, skip rules (``LAST100_CHROMIUM``,
``LAST100_REQUIRE_BROWSER``) and screenshots (``LAST100_ARTIFACTS``) as the rider
page's browser tests."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from hub.core.errors import UpstreamError
from hub.core.model import Decision
from hub.web.admin import guard
from tests.console_world import PASSWORD, ConsoleWorld, build_console_world, waiting
from tests.engine_fakes import request
from tests.test_console_dashboard import entry, utc

DESK = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1180}


class LiveConsole:
    def __init__(self, cw: ConsoleWorld) -> None:
        self.cw = cw
        self.server = make_server("127.0.0.1", 0, cw.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live(tmp_path, monkeypatch) -> Iterator[LiveConsole]:
    monkeypatch.setattr(guard, "REFRESH_S", 3)
    cw = build_console_world(tmp_path)
    served = LiveConsole(cw)
    yield served
    served.stop()
    cw.close()


@pytest.fixture
def screen(browser):
    """A new browser window (its own cookies) whose console errors the test can check."""
    contexts = []

    def open_screen(locale: str = "en-US", viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or DESK, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda message: message.type == "error" and page.errors.append(message.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield open_screen
    for context in contexts:
        context.close()


def sign_in(page, live: LiveConsole, username: str, start: str = "/admin/") -> None:
    page.goto(live.url + start)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("load")


def test_signing_in_opens_the_dashboard_and_signing_out_closes_it(live, screen, artifacts):
    page = screen("zh-CN")
    page.goto(live.url + "/admin/")
    assert page.url == live.url + "/admin/login?next=/admin/"
    assert page.locator("h1").inner_text() == "登录管理后台"
    page.screenshot(path=artifacts / "sign-in-zh.png", full_page=True)

    page.fill("#username", "olga")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")

    page.wait_for_url(live.url + "/admin/")
    assert page.locator("h1").inner_text() == "今日"
    assert page.locator(".who .user").inner_text() == "olga · 运维人员"
    page.click("a.lang")
    assert page.locator("h1").inner_text() == "Today"
    page.screenshot(path=artifacts / "dashboard-en.png", full_page=True)

    page.click(".logout button")
    page.wait_for_url(live.url + "/admin/login")
    assert page.locator(".flash").inner_text() == "You have signed out."
    page.goto(live.url + "/admin/")
    assert "/admin/login" in page.url
    assert page.errors == []


def test_a_wrong_password_says_so_in_the_form(live, screen, artifacts):
    page = screen()
    page.goto(live.url + "/admin/login")
    page.fill("#username", "olga")
    page.fill("#password", "not the password")
    page.click("button[type=submit].primary")

    assert page.locator(".flash-error").inner_text() == "Wrong username or password."
    assert page.locator("#username").input_value() == "olga"
    page.screenshot(path=artifacts / "wrong-password.png", full_page=True)


def test_a_guard_sees_a_new_check_arrive_and_lets_the_rider_in_opening_the_gate(live, screen, artifacts):
    cw = live.cw
    waiting(cw.store, "e-1", "g2", created_at=utc(5, 3, 50))
    page = screen(viewport=TABLET)
    sign_in(page, live, "gus")
    assert page.url == live.url + "/admin/guard"
    assert page.locator("article.check").count() == 1

    # A rider at the west gate whose platform cannot say what they deliver: a manual check.
    cw.rw.world.platform.fail["hub_active_orders"] = UpstreamError("orders are down")
    arrived = cw.rw.world.engine.decide(request("tok-1", gate="west-code"))
    assert arrived.decision is Decision.MANUAL_CHECK

    newest = page.locator("article.check").first
    newest.wait_for(state="attached", timeout=15_000)
    page.wait_for_selector(f'article.check[data-entry="{arrived.id}"]', timeout=15_000)
    assert newest.get_attribute("data-entry") == arrived.id
    assert "王*" in newest.locator("h2").inner_text()
    assert newest.locator("input[name=open]").is_checked()
    page.screenshot(path=artifacts / "guard-queue.png", full_page=True)

    newest.locator("button.primary").click()

    page.wait_for_selector(".flash-success")
    assert page.locator(".flash-success").inner_text() == "Let in. West gate is opening."
    assert [a.get_attribute("data-entry") for a in page.locator("article.check").all()] == ["e-1"]
    assert cw.store.get_entry(arrived.id).decision is Decision.GRANTED
    assert [gate for gate, _reason in cw.door.opened] == ["g3"]
    page.screenshot(path=artifacts / "guard-let-in.png", full_page=True)
    assert page.errors == []


def test_a_guard_turns_a_rider_away_with_a_reason(live, screen):
    cw = live.cw
    waiting(cw.store, "e-1", "g2", created_at=utc(5, 3, 50))
    page = screen(viewport=TABLET)
    sign_in(page, live, "gina")

    page.fill("#reason-e-1", "no order for building 9")
    page.click("article.check button.danger")

    page.wait_for_selector(".flash-success")
    assert page.locator(".empty").inner_text().startswith("No rider is waiting")
    assert [r.en for r in cw.store.get_entry("e-1").reasons] == [
        "The guard did not let you in: no order for building 9"
    ]


def test_the_dashboard_draws_entries_per_hour_with_chart_js(live, screen, artifacts):
    cw = live.cw
    for n in range(3):
        entry(cw.store, f"a{n}", utc(5, 1, 10 * n), ms=20 + n)  # 09:00-09:20 local
    entry(cw.store, "d1", utc(5, 3, 30), Decision.DENIED)  # 11:30 local
    page = screen()
    sign_in(page, live, "anna")

    canvas = page.locator("canvas#per-hour")
    page.wait_for_selector("canvas#per-hour[data-rendered]")
    assert canvas.get_attribute("data-rendered") == "4"
    drawn = page.evaluate("Chart.getChart(document.getElementById('per-hour')).data.datasets[0].data")
    assert drawn[9] == 3 and drawn[11] == 1 and sum(drawn) == 4
    painted = page.evaluate(
        """() => {
          const c = document.getElementById('per-hour');
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let blue = 0;
          for (let i = 0; i < px.length; i += 4) if (px[i + 2] > 180 && px[i] < 80 && px[i + 3] > 0) blue++;
          return blue;
        }"""
    )
    assert painted > 500  # the bars are drawn, not just an empty canvas
    assert re.fullmatch(r"\d+ ms", page.locator('[data-figure="median"]').inner_text())
    assert page.locator('[data-figure="granted"]').inner_text() == "3"
    canvas.screenshot(path=artifacts / "per-hour-chart.png")
    page.screenshot(path=artifacts / "dashboard.png", full_page=True)
    assert page.errors == []
