"""The rider page in a real browser: Debian's chromium, driven by Playwright, on a phone-
sized screen, against the real app served on loopback.

The ``browser`` and ``artifacts`` fixtures (which chromium, when the tests skip, where
screenshots go) are in ``tests/conftest.py``, shared with the console's browser tests.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator

import pytest
from PIL import Image
from werkzeug.serving import make_server

from hub.core.errors import UpstreamError
from hub.core.model import Decision, RiderIdentity
from hub.web import gateqr
from tests.rider_world import RiderWorld, build_rider_world

PHONE = {"width": 390, "height": 844}


class Live:
    """The app of a rider world, served by werkzeug on a free loopback port."""

    def __init__(self, rw: RiderWorld) -> None:
        self.rw = rw
        self.server = make_server("127.0.0.1", 0, rw.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page_url(self, gate_code: str = "north-code") -> str:
        return self.url + self.rw.page(gate_code)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live(tmp_path) -> Iterator[Live]:
    rw = build_rider_world(tmp_path)
    rw.world.platform.riders["tok-2"] = RiderIdentity("R2", "李*")  # verified, but no order
    served = Live(rw)
    yield served
    served.stop()
    rw.close()


@pytest.fixture
def phone(browser):
    """A new phone (its own cookies), speaking the language the test asks for."""
    contexts = []

    def open_phone(locale: str = "en-US", **options):
        context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True, **options)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


def decode(png: bytes) -> list[str]:
    import zxingcpp

    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def ask(page, code: str) -> None:
    page.fill("#code", code)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/entries/[0-9a-f-]+$"))


def test_a_rider_with_an_order_is_shown_a_pass_the_gates_scanner_can_read(live, phone, artifacts):
    page = phone("en-US")
    page.goto(live.page_url())
    assert page.locator("h1").inner_text() == "North gate"
    assert page.locator(".place").inner_text() == "Sunny Garden"
    assert page.is_checked("input[name=connection][value=plat]")
    page.fill("#code", "tok-1")
    page.screenshot(path=artifacts / "form-en.png", full_page=True)

    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/entries/[0-9a-f-]+$"))

    assert page.locator(".verdict").inner_text() == "You may enter"
    assert page.locator(".until").inner_text() == "Valid until 12:15"
    page.screenshot(path=artifacts / "granted-en.png", full_page=True)
    assert decode(page.locator(".pass").screenshot()) == ["QR-1"]
    box = page.locator(".pass svg").bounding_box()
    assert box["width"] >= 200 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_a_rider_without_an_order_reads_why_in_chinese(live, phone, artifacts):
    page = phone("zh-CN")
    page.goto(live.page_url())
    assert page.locator("button[type=submit]").inner_text() == "申请进门"

    ask(page, "tok-2")

    assert page.locator(".verdict").inner_text() == "暂不能进入"
    assert page.locator(".reasons li").all_inner_texts() == ["未找到您正在配送到本小区的订单"]
    page.screenshot(path=artifacts / "denied-zh.png", full_page=True)
    page.click("text=重试")
    assert page.locator("#code").input_value() == ""
    assert page.url == live.page_url()


def test_a_manual_check_page_turns_into_a_grant_when_the_guard_decides(live, phone, artifacts):
    live.rw.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    page = phone("en-US")
    page.goto(live.page_url())
    ask(page, "tok-1")
    assert page.locator(".verdict").inner_text() == "Please wait"
    assert page.locator(".message").inner_text() == "The guard will check you"
    page.screenshot(path=artifacts / "manual-en.png", full_page=True)
    entry_id = page.url.rsplit("/", 1)[1]
    assert live.rw.world.store.get_entry(entry_id).decision is Decision.MANUAL_CHECK

    time.sleep(0.5)  # let the page start polling with the entry still waiting
    live.rw.world.store.record_guard_decision(entry_id, Decision.GRANTED, "guard:li")

    page.wait_for_selector(".answer.granted", timeout=15_000)
    assert page.locator(".verdict").inner_text() == "You may enter"
    assert page.locator(".message").inner_text() == "The guard lets you in"
    page.screenshot(path=artifacts / "manual-then-granted-en.png", full_page=True)


def test_the_language_switch_changes_the_page_and_is_remembered(live, phone, artifacts):
    page = phone("zh-CN")
    page.goto(live.page_url())
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("legend").first.inner_text() == "您的配送平台"
    page.screenshot(path=artifacts / "form-zh.png", full_page=True)

    page.click("a.lang")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("legend").first.inner_text() == "Your delivery platform"
    page.goto(live.page_url())  # no ?lang: the cookie remembers
    assert page.locator("a.lang").inner_text() == "中文"
    ask(page, "tok-2")
    assert page.locator(".verdict").inner_text() == "You cannot enter"


def test_a_forged_gate_code_shows_the_not_found_page_in_both_languages(live, phone, artifacts):
    page = phone("en-US")
    reply = page.goto(live.url + "/g/north-code.forged")

    assert reply.status == 404
    assert page.locator("h1").all_inner_texts() == ["找不到此页面", "Page not found"]
    page.screenshot(path=artifacts / "not-found.png", full_page=True)


def test_an_empty_code_shows_the_form_again_with_a_message(live, phone, artifacts):
    page = phone("en-US")
    page.goto(live.page_url())
    page.click("button[type=submit]")

    assert page.locator(".error").inner_text() == "Type the code from your rider app."
    page.screenshot(path=artifacts / "empty-code-en.png", full_page=True)
    ask(page, "tok-1")  # the form that came back works
    assert page.locator(".verdict").inner_text() == "You may enter"


def test_the_page_is_light_and_loads_only_from_the_hub(live, phone):
    page = phone("en-US")
    loaded: list[tuple[str, int]] = []
    page.on("requestfinished", lambda request: loaded.append((request.url, request.sizes()["responseBodySize"])))
    page.goto(live.page_url(), wait_until="load")
    page.wait_for_load_state("networkidle")

    assert {url.split("/")[2] for url, _size in loaded} == {live.url.split("/")[2]}
    assert {url.rsplit("/", 1)[1] for url, _size in loaded if "/static/" in url} == {"rider.css", "rider.js"}
    assert sum(size for _url, size in loaded) < 15_000


def test_without_barcode_detector_there_is_no_scan_button(live, phone):
    page = phone("en-US")
    page.goto(live.page_url())
    assert page.evaluate("'BarcodeDetector' in window") is False
    assert page.locator("#scan").is_hidden()


FAKE_SCANNER = """
window.BarcodeDetector = class {
  async detect() { return [{ rawValue: "ENTRY-CODE-1" }]; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.getContext("2d").fillRect(0, 0, 10, 10);
  return canvas.captureStream();
};
"""


def test_where_the_browser_reads_qr_codes_scanning_fills_in_an_entry_code(live, phone, artifacts):
    from playwright.sync_api import expect

    live.rw.world.platform.codes["ENTRY-CODE-1"] = RiderIdentity("R1", "王*", order_refs=("O1",))
    page = phone("en-US")
    page.add_init_script(FAKE_SCANNER)
    page.goto(live.page_url())

    page.click("#scan")
    expect(page.locator("#code")).to_have_value("ENTRY-CODE-1")

    assert page.is_checked("input[name=kind][value=entry_code]")
    page.screenshot(path=artifacts / "scanned-en.png", full_page=True)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/entries/[0-9a-f-]+$"))
    assert page.locator(".verdict").inner_text() == "You may enter"


def test_the_printed_gate_code_opens_the_gates_rider_page(live, phone, artifacts, tmp_path):
    svg = tmp_path / "north.svg"
    svg.write_text(gateqr.gate_qr_svg(gateqr.rider_url(live.url, live.rw.signed()), "North gate"), encoding="utf-8")
    page = phone("en-US")
    page.goto(svg.as_uri())
    printed = page.screenshot(path=artifacts / "printed-gate-code.png")

    [url] = decode(printed)
    page.goto(url)

    assert page.locator("h1").inner_text() == "North gate"
