"""The console's dashboard and guard queue for every role: what each user sees, that
another community's objects answer 404 by any URL, and the guard's decisions."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest

from hub.core.errors import UpstreamError
from hub.core.model import Decision, Reason
from hub.core.reports import local_day, summarise_day
from tests.console_world import csrf_of, waiting
from tests.engine_fakes import request
from tests.storage.builders import make_entry, save

NO_ORDER = Reason("no_active_order", "未找到订单", "No order for this community")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def entry(store, entry_id: str, at: datetime, decision=Decision.GRANTED, ms: float = 10, **overrides):
    reasons = (NO_ORDER,) if decision is Decision.DENIED else ()
    values = {"id": entry_id, "created_at": at, "decision": decision, "decision_ms": ms, "reasons": reasons}
    if decision is not Decision.GRANTED:
        values["access_pass"] = None
    return save(store, make_entry(**{**values, **overrides}), orders=[])


@pytest.fixture
def today(cw):
    """The clock says 12:00 on 5 January in Shanghai (04:00 UTC)."""
    store = cw.store
    entry(store, "a1", utc(5, 4), ms=10)  # 12:00 local
    entry(store, "a2", utc(5, 3, 10), ms=30)  # 11:10
    entry(store, "a3", utc(5, 3, 20), Decision.DENIED, ms=20)  # 11:20
    entry(store, "a4", utc(4, 16, 30), Decision.DENIED, ms=40)  # 00:30 today, local
    entry(store, "a5", utc(5, 3, 50), Decision.MANUAL_CHECK, ms=50)  # 11:50, waiting
    entry(store, "a6", utc(5, 3, 40), Decision.MANUAL_CHECK, ms=60)  # 11:40, a guard turns away at 12:00
    store.record_guard_decision("a6", Decision.DENIED, "user:gus", reason="no helmet")
    entry(store, "y1", utc(4, 15, 30))  # 23:30 yesterday, local
    entry(store, "b1", utc(5, 4), community_id="c2", gate_id="g9", connection_id="plat2", access_pass=None)


def html_of(reply) -> str:
    return unescape(reply.get_data(as_text=True))


def figures(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="(\w+)"[^>]*>([^<]*)<', html))


def chart(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="per-hour-data">(.*?)</script>', html, re.S)[1])


def nav(html: str) -> list[str]:
    block = re.search(r"<nav[^>]*>(.*?)</nav>", html, re.S)
    return re.findall(r'<a href="([^"]+)"', block[1]) if block else []


# -- the day's figures, in the core --------------------------------------------------------


def test_a_communitys_day_runs_midnight_to_midnight_in_its_timezone():
    start, end = local_day(datetime(2026, 1, 5).date(), "Asia/Shanghai")

    assert (start.astimezone(UTC), end.astimezone(UTC)) == (utc(4, 16), utc(5, 16))


def test_an_empty_day_has_no_medians():
    summary = summarise_day([], {})

    assert (summary.total, summary.median_decision_ms, summary.per_hour) == (0, None, (0,) * 24)


# -- the dashboard -------------------------------------------------------------------------


def test_a_manager_sees_today_at_their_community(cw, today):
    html = html_of(cw.sign_in("anna").get("/admin/"))

    assert figures(html) == {"granted": "2", "denied": "3", "manual": "2", "waiting": "1 waiting", "median": "35 ms"}
    assert "Guards: 20 min 0 s" in html
    counts = chart(html)["counts"]
    assert (counts[0], counts[11], counts[12], sum(counts)) == (1, 4, 1, 6)
    reasons = re.findall(r'data-reason="(\w+)"><td>([^<]*)<small[^>]*>\w+</small></td><td class="num">(\d+)', html)
    assert reasons == [
        ("no_active_order", "No order for this community ", "2"),
        ("guard_denied", "The guard did not let you in: no helmet ", "1"),
    ]


def test_the_dashboard_speaks_chinese(cw, today):
    html = html_of(cw.sign_in("anna").get("/admin/?lang=zh"))

    assert '<html lang="zh-CN">' in html
    assert "未找到订单" in html
    assert chart(html)["label"] == "进门记录"


def test_an_operator_sees_every_community_or_one(cw, today):
    olga = cw.sign_in("olga")

    assert figures(html_of(olga.get("/admin/")))["granted"] == "3"
    assert figures(html_of(olga.get("/admin/?community=c2")))["granted"] == "1"


def test_another_manager_sees_only_their_own(cw, today):
    html = html_of(cw.sign_in("bert").get("/admin/"))

    assert figures(html)["granted"] == "1" and figures(html)["denied"] == "0"
    assert re.findall(r'data-connection="([^"]+)"', html) == ["plat2"]


@pytest.mark.parametrize("community", ["c2", "nope"])
def test_another_communitys_dashboard_answers_404(cw, today, community):
    reply = cw.sign_in("anna").get(f"/admin/?community={community}")

    assert reply.status_code == 404


def test_a_guard_is_sent_to_their_queue(cw):
    reply = cw.sign_in("gus").get("/admin/")

    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/guard"


def test_connections_show_their_circuit_and_last_hours_calls(cw):
    cw.rw.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")
    for n in range(5):
        cw.rw.world.engine.decide(request(f"tok-x{n}"))

    html = html_of(cw.sign_in("anna").get("/admin/"))

    rows = dict(re.findall(r'data-connection="([^"]+)" data-circuit="(\w+)"', html))
    assert rows == {"door": "closed", "gatectl": "closed", "plat": "open"}
    plat = re.search(r'data-connection="plat".*?</tr>', html, re.S)[0]
    assert "Paused after failures" in plat and re.search(r"Failing: 5 of \d+ calls failed", plat)
    assert "No calls in the last hour" in re.search(r'data-connection="door".*?</tr>', html, re.S)[0]


def test_the_dashboard_loads_the_vendored_chart_library_only_from_the_hub(cw, today):
    html = html_of(cw.sign_in("olga").get("/admin/"))

    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == ["/static/admin.js", "/static/vendor/chart.umd.js"]
    library = cw.client().get("/static/vendor/chart.umd.js")
    assert library.status_code == 200 and b"Chart.js v4" in library.data[:200]


# -- navigation ----------------------------------------------------------------------------


def test_each_role_sees_the_links_it_may_follow(cw):
    guard = nav(html_of(cw.sign_in("gus").get("/admin/guard")))
    manager = nav(html_of(cw.sign_in("anna").get("/admin/guard")))
    operator = nav(html_of(cw.sign_in("olga").get("/admin/guard")))

    assert guard == ["/admin/guard"]
    assert manager[:2] == ["/admin/", "/admin/guard"] and "/admin/audit" not in manager
    assert set(manager) < set(operator)
    for link in operator:
        assert cw.sign_in("olga").get(link).status_code == 200, link


# -- the guard queue -----------------------------------------------------------------------


@pytest.fixture
def queue(cw):
    waiting(cw.store, "n-1", "g1", created_at=utc(5, 3, 50))
    waiting(cw.store, "e-1", "g2", created_at=utc(5, 3, 55), order_refs=("O7", "O8"))
    waiting(cw.store, "w-1", "g3", created_at=utc(5, 3, 40))
    waiting(cw.store, "s-1", "g9", created_at=utc(5, 3, 58))
    waiting(cw.store, "old", "g1", created_at=utc(4, 15, 0))  # 13 hours ago
    entry(cw.store, "done", utc(5, 3, 59))


def listed(html: str) -> list[str]:
    return re.findall(r'<article class="check" data-entry="([^"]+)"', html)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("gus", ["e-1", "n-1", "w-1"]),
        ("gina", ["e-1"]),
        ("rita", ["s-1"]),
        ("anna", ["e-1", "n-1", "w-1"]),
        ("olga", ["s-1", "e-1", "n-1", "w-1"]),
    ],
)
def test_each_user_sees_the_waiting_checks_of_their_gates_newest_first(cw, queue, who, expected):
    assert listed(html_of(cw.sign_in(who).get("/admin/guard"))) == expected


def test_a_check_shows_the_riders_masked_identity_platform_orders_and_why(cw, queue):
    html = html_of(cw.sign_in("gina").get("/admin/guard"))

    card = re.search(r'data-entry="e-1".*?</article>', html, re.S)[0]
    assert "王*" in card and "138****5678" in card
    assert "Fake platform" in card and "O7, O8" in card
    assert "The platform did not answer in time" in card
    assert "11:55" in card and "East gate" in card
    assert "平台暂时无法确认" in html_of(cw.sign_in("gina").get("/admin/guard?lang=zh"))


def test_only_gates_that_open_on_request_offer_to_open(cw, queue):
    html = html_of(cw.sign_in("gus").get("/admin/guard"))

    offers = {
        entry_id: 'name="open"' in card
        for entry_id, card in re.findall(r'data-entry="([^"]+)"(.*?)</article>', html, re.S)
    }
    assert offers == {"e-1": False, "n-1": False, "w-1": True}


def test_showing_riders_to_a_guard_is_audited_once_per_new_list(cw, queue):
    gus = cw.sign_in("gus")
    gus.get("/admin/guard")
    gus.get("/admin/guard/list")
    viewed = [r for r in cw.store.list_audit(limit=100) if r.action == "personal_data.viewed"]
    assert [(r.actor, r.data["entries"]) for r in viewed] == [("user:gus", ["e-1", "n-1", "w-1"])]

    waiting(cw.store, "n-2", "g1", created_at=utc(5, 3, 59))
    gus.get("/admin/guard/list")

    assert len([r for r in cw.store.list_audit(limit=100) if r.action == "personal_data.viewed"]) == 2


def test_the_list_alone_is_what_the_page_refreshes_with(cw, queue):
    html = html_of(cw.sign_in("gus").get("/admin/guard/list"))

    assert listed(html) == ["e-1", "n-1", "w-1"]
    assert "<html" not in html and 'data-ids="e-1,n-1,w-1"' in html


def decide(client, entry_id: str, action: str, **form: str):
    token = csrf_of(client.get("/admin/guard").get_data(as_text=True))
    return client.post(f"/admin/guard/{entry_id}/{action}", data={"csrf_token": token, **form})


def test_letting_a_rider_in_grants_the_entry_and_audits_the_guard(cw, queue):
    gus = cw.sign_in("gus")

    reply = decide(gus, "n-1", "approve")

    assert reply.status_code == 303 and reply.headers["Location"] == "/admin/guard"
    assert cw.store.get_entry("n-1").decision is Decision.GRANTED
    record = next(r for r in cw.store.list_audit(limit=100) if r.action == "entry.guard_decided")
    assert (record.actor, record.subject, record.data["decision"]) == ("user:gus", "n-1", "granted")
    html = html_of(gus.get("/admin/guard"))
    assert "Let in at North gate." in html and listed(html) == ["e-1", "w-1"]
    status = cw.client().get(f"{cw.rw.page()}/entries/n-1.json")
    assert status.json == {"decision": "granted"}


def test_letting_in_can_open_the_gate_at_once(cw, queue):
    gus = cw.sign_in("gus")

    decide(gus, "w-1", "approve", open="1")

    assert [gate for gate, _reason in cw.door.opened] == ["g3"]
    assert "gus" in cw.door.opened[0][1]
    assert cw.store.get_entry("w-1").decision is Decision.GRANTED
    opened = next(r for r in cw.store.list_audit(limit=100) if r.action == "door.opened")
    assert (opened.actor, opened.subject, opened.data["entry"], opened.data["connection"]) == (
        "user:gus",
        "g3",
        "w-1",
        "door",
    )
    assert "West gate is opening." in html_of(gus.get("/admin/guard"))


def test_a_gate_that_does_not_open_is_said_and_audited(cw, queue):
    cw.door.fail = RuntimeError("relay stuck")
    gus = cw.sign_in("gus")

    decide(gus, "w-1", "approve", open="1")

    assert cw.store.get_entry("w-1").decision is Decision.GRANTED
    assert "West gate did not open. Open it by hand." in html_of(gus.get("/admin/guard"))
    assert any(r.action == "door.opened.failed" for r in cw.store.list_audit(limit=100))


def test_turning_a_rider_away_tells_them_why(cw, queue):
    gus = cw.sign_in("gus")

    decide(gus, "n-1", "deny", reason="  no   order for building 9 ")

    decided = cw.store.get_entry("n-1")
    assert decided.decision is Decision.DENIED
    assert [r.en for r in decided.reasons] == ["The guard did not let you in: no order for building 9"]
    assert "Turned away." in html_of(gus.get("/admin/guard"))


def test_the_second_guard_to_decide_is_told(cw, queue):
    gus, anna = cw.sign_in("gus"), cw.sign_in("anna")
    decide(anna, "n-1", "deny")

    decide(gus, "n-1", "approve")

    assert cw.store.get_entry("n-1").decision is Decision.DENIED
    assert "Someone else has already decided this check." in html_of(gus.get("/admin/guard"))


@pytest.mark.parametrize(
    ("who", "entry_id"),
    [("gina", "n-1"), ("gus", "s-1"), ("bert", "n-1"), ("rita", "w-1"), ("gus", "no-such-entry")],
)
@pytest.mark.parametrize("action", ["approve", "deny"])
def test_another_gates_check_answers_404(cw, queue, who, entry_id, action):
    reply = decide(cw.sign_in(who), entry_id, action, open="1")

    assert reply.status_code == 404
    if entry_id != "no-such-entry":
        assert cw.store.get_entry(entry_id).decision is Decision.MANUAL_CHECK
    assert cw.door.opened == []


# -- packaging -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _package_data() -> dict[str, list[str]]:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no package_data")


@pytest.mark.parametrize(
    ("package", "shipped"),
    [
        ("hub.web", "static/admin.css"),
        ("hub.web", "static/admin.js"),
        ("hub.web", "static/vendor/chart.umd.js"),
        ("hub.web", "static/vendor/chart.js.LICENSE.md"),
        ("hub.web.admin", "templates/admin/base.html"),
        ("hub.web.admin", "templates/admin/dashboard.html"),
        ("hub.web.admin", "templates/admin/_guard_list.html"),
    ],
)
def test_the_package_ships_the_consoles_files(package, shipped):
    folder = ROOT.joinpath(*package.split("."))
    assert (folder / shipped).is_file()
    assert any(folder / shipped in set(folder.glob(pattern)) for pattern in _package_data()[package])
