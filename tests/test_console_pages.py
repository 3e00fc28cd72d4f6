"""The console's entries, audit log, plugins and jobs pages, for every role: operator,
the manager of community A (``c1``), the manager of community B (``c2``), a guard, and
someone not signed in. Each signs in through the real sign-in form."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.core.model import Decision, Reason
from hub.core.outbox import OutboxItem, enqueue
from hub.core.plugins import LoadFailure
from tests.console_world import csrf_of
from tests.engine_fakes import request
from tests.storage.builders import make_entry, save

PAGES = ["/admin/entries", "/admin/audit", "/admin/plugins", "/admin/jobs"]


@pytest.fixture
def rw(cw):
    return cw.rw


def page(client, url: str, status: int = 200) -> str:
    reply = client.get(url, headers={"Accept-Language": "en"})
    assert reply.status_code == status, (url, reply.status_code)
    return reply.get_data(as_text=True)


def listed(html: str, attribute: str = "data-entry") -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', html)


def audit_actions(store) -> list[tuple[str, str, str]]:
    return [(r.actor, r.action, r.subject) for r in store.list_audit(limit=1000)]


def b_entry(store, entry_id: str = "b-1", **overrides):
    values = {"community_id": "c2", "gate_id": "g9", "connection_id": "plat2", "access_pass": None}
    return save(store, make_entry(id=entry_id, **{**values, **overrides}), orders=[])


# -- who may open what -------------------------------------------------------------------


@pytest.mark.parametrize("url", [*PAGES, "/admin/entries/some-entry"])
def test_someone_not_signed_in_is_sent_to_sign_in(rw, url):
    reply = rw.app.test_client().get(url)

    assert reply.status_code in (302, 303)
    assert reply.headers["Location"].startswith("/admin/login")
    assert "next=" in reply.headers["Location"]


@pytest.mark.parametrize("url", [*PAGES, "/admin/entries/some-entry"])
def test_guards_may_not_open_these_pages(rw, sign_in, store, url):
    save(store, make_entry(id="some-entry"))

    page(sign_in("guard"), url, 403)


@pytest.mark.parametrize("who", ["manager_a", "manager_b"])
def test_the_audit_log_is_for_operators_only(rw, sign_in, who):
    page(sign_in(who), "/admin/audit", 403)


@pytest.mark.parametrize("who", ["operator", "manager_a", "manager_b"])
@pytest.mark.parametrize("url", ["/admin/entries", "/admin/plugins", "/admin/jobs"])
def test_operators_and_managers_open_entries_plugins_and_jobs(rw, sign_in, who, url):
    page(sign_in(who), url)


# -- entries -----------------------------------------------------------------------------


def test_a_manager_sees_only_their_communitys_entries(rw, sign_in, store):
    save(store, make_entry(id="a-1"))
    b_entry(store, "b-1")

    assert listed(page(sign_in("manager_a"), "/admin/entries")) == ["a-1"]
    assert listed(page(sign_in("manager_b"), "/admin/entries")) == ["b-1"]
    assert set(listed(page(sign_in("operator"), "/admin/entries"))) == {"a-1", "b-1"}


def test_another_communitys_entries_answer_404_by_filter_and_by_url(rw, sign_in, store):
    save(store, make_entry(id="a-1"))
    b_entry(store, "b-1")
    anna = sign_in("manager_a")

    page(anna, "/admin/entries?community=c2", 404)
    page(anna, "/admin/entries/b-1", 404)
    page(anna, "/admin/entries/no-such-entry", 404)
    page(sign_in("manager_b"), "/admin/entries/a-1", 404)
    page(sign_in("operator"), "/admin/entries/b-1")


def test_entries_filter_by_community_gate_platform_and_decision(rw, sign_in, store):
    save(store, make_entry(id="a-north"))
    save(store, make_entry(id="a-east", gate_id="g2", decision=Decision.DENIED, access_pass=None))
    b_entry(store, "b-1", decision=Decision.MANUAL_CHECK)
    olga = sign_in("operator")

    assert set(listed(page(olga, "/admin/entries?community=c1"))) == {"a-north", "a-east"}
    assert listed(page(olga, "/admin/entries?gate=g2")) == ["a-east"]
    assert listed(page(olga, "/admin/entries?platform=plat2")) == ["b-1"]
    assert listed(page(olga, "/admin/entries?decision=denied")) == ["a-east"]
    assert listed(page(olga, "/admin/entries?decision=manual_check")) == ["b-1"]
    assert listed(page(olga, "/admin/entries?community=c1&decision=manual_check")) == []


def test_the_filters_offer_the_users_gates_and_platforms_only(rw, sign_in):
    def options(html, name):
        select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option value="([^"]+)"', select)

    olga = page(sign_in("operator"), "/admin/entries")
    anna = page(sign_in("manager_a"), "/admin/entries")

    assert options(olga, "platform") == ["plat", "plat2"]  # not the gate and door controllers
    assert {"g1", "g2", "g9"} <= set(options(olga, "gate"))
    assert options(anna, "platform") == ["plat"]
    assert {"g1", "g2"} <= set(options(anna, "gate")) and "g9" not in options(anna, "gate")
    assert options(anna, "community") == ["c1"]


def test_a_manager_cannot_filter_by_another_communitys_gate_or_platform(rw, sign_in, store):
    anna = sign_in("manager_a")

    page(anna, "/admin/entries?gate=g9", 400)
    page(anna, "/admin/entries?platform=plat2", 400)
    page(anna, "/admin/entries?decision=maybe", 400)
    page(anna, "/admin/entries?from=yesterday", 400)


def test_the_date_range_is_in_the_communitys_time_zone(rw, sign_in, store):
    # 2026-01-05 23:30 and 2026-01-06 00:30 in Shanghai (UTC+8).
    late = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
    save(store, make_entry(id="late-on-the-5th", created_at=late))
    save(store, make_entry(id="early-on-the-6th", created_at=late + timedelta(hours=1)))
    olga = sign_in("operator")

    assert listed(page(olga, "/admin/entries?community=c1&from=2026-01-05&to=2026-01-05")) == ["late-on-the-5th"]
    assert listed(page(olga, "/admin/entries?community=c1&from=2026-01-06")) == ["early-on-the-6th"]
    html = page(olga, "/admin/entries?community=c1&to=2026-01-06")
    assert listed(html) == ["early-on-the-6th", "late-on-the-5th"]
    assert "Asia/Shanghai" in html
    assert "2026-01-05 23:30:00" in html


def test_entries_are_newest_first_and_paged(rw, sign_in, store):
    start = datetime(2026, 1, 4, 0, 0, tzinfo=UTC)
    for n in range(120):
        save(store, make_entry(id=f"e{n:03d}", created_at=start + timedelta(minutes=n), access_pass=None))
    olga = sign_in("operator")

    seen, url, pages = [], "/admin/entries?community=c1", 0
    while url:
        html = page(olga, url)
        seen.extend(listed(html))
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = unescape(found.group(1)) if found else None
        if found:
            assert "community=c1" in url  # the filters stay on every page

    assert pages == 3
    assert seen == [f"e{n:03d}" for n in range(119, -1, -1)]


def test_an_entry_shows_decision_reasons_rider_orders_pass_and_calls(rw, sign_in, store):
    entry = rw.world.engine.decide(request())
    assert entry.decision is Decision.GRANTED

    html = page(sign_in("manager_a"), f"/admin/entries/{entry.id}")

    assert 'data-decision="granted"' in html
    for reason in entry.reasons:
        assert reason.zh in html and reason.en in html
    assert "王*" in html and "138****5678" in html
    assert "O1" in html
    assert "qr" in html and entry.access_pass.value not in html  # the pass value stays secret
    hooks = set(listed(html, "data-hook"))
    assert {"hub_verify_rider", "hub_grant_access"} <= hooks
    assert html.count("<meter") == len(entry.hook_calls)


def test_reading_an_entry_is_audited(rw, sign_in, store):
    save(store, make_entry(id="a-1"))

    page(sign_in("manager_a"), "/admin/entries/a-1")

    assert ("user:anna", "entry.viewed", "a-1") in audit_actions(store)


def test_hook_call_bars_are_scaled_to_the_slowest_call(rw, sign_in, store):
    save(store, make_entry(id="a-1"))  # calls of 41.0 and 30.5 ms

    html = page(sign_in("operator"), "/admin/entries/a-1")

    meters = re.findall(r'<meter[^>]*max="([^"]+)"[^>]*value="([^"]+)"', html)
    assert [(float(m), float(v)) for m, v in meters] == [(41.0, 41.0), (41.0, 30.5)]


def test_an_entry_without_rider_pass_or_calls_still_shows(rw, sign_in, store):
    entry = make_entry(id="bare", rider_ref="", access_pass=None, hook_calls=(), order_refs=())
    save(store, entry, rider=None, orders=[])

    html = page(sign_in("operator"), "/admin/entries/bare")

    assert "No rider is stored" in html and "No pass was issued" in html


def test_the_entries_page_speaks_chinese(rw, sign_in, store):
    save(store, make_entry(id="a-1", reasons=(Reason("order_active", "订单配送中", "Order is being delivered"),)))
    anna = sign_in("manager_a")

    html = anna.get("/admin/entries?lang=zh").get_data(as_text=True)

    assert "订单配送中" in html and "Order is being delivered" not in html
    assert "放行" in html  # the decision, in Chinese


# -- audit log ---------------------------------------------------------------------------


def test_the_audit_log_lists_newest_first_and_says_the_chain_verifies(rw, sign_in, store):
    store.audit("user:olga", "job.run", "outbox.deliver")
    store.audit("api", "apikey.created", "7")

    html = page(sign_in("operator"), "/admin/audit")

    actions = listed(html, "data-action")
    assert actions.index("apikey.created") < actions.index("job.run")
    assert 'data-chain="ok"' in html


def test_the_audit_log_filters_by_action_prefix_actor_and_day(rw, sign_in, store):
    store.audit("user:olga", "job.run", "outbox.deliver")
    store.audit("api", "apikey.created", "7")
    store.audit("api", "apikey.revoked", "7")
    olga = sign_in("operator")

    def actions(url):
        return listed(page(olga, url), "data-action")

    assert actions("/admin/audit?action=apikey.") == ["apikey.revoked", "apikey.created"]
    by_olga = actions("/admin/audit?actor=user:olga")
    assert "job.run" in by_olga and not any(a.startswith("apikey.") for a in by_olga)
    assert actions("/admin/audit?actor=user:olga&action=job.") == ["job.run"]
    assert actions("/admin/audit?from=2026-01-06") == []
    assert set(actions("/admin/audit?from=2026-01-05&to=2026-01-05")) >= {"job.run", "apikey.created"}


def test_the_audit_log_is_paged(rw, sign_in, store):
    for n in range(60):
        store.audit("api", "thing.done", f"s{n}")
    olga = sign_in("operator")

    first = page(olga, "/admin/audit?action=thing.")
    more = re.search(r'href="([^"]+)" rel="next"', first)
    second = page(olga, unescape(more.group(1)))

    ids = listed(first, "data-record") + listed(second, "data-record")
    assert len(ids) == 60 and len(set(ids)) == 60
    assert [int(i) for i in ids] == sorted((int(i) for i in ids), reverse=True)
    assert 'rel="next"' not in second


def test_a_broken_chain_is_shown_with_the_record_it_breaks_at(rw, sign_in, store):
    store.audit("api", "thing.done", "first")
    store.audit("api", "thing.done", "second")
    [second, _first] = store.list_audit(action_prefix="thing.")
    with store.transaction() as session:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text(f"UPDATE audit_log SET subject = 'forged' WHERE id = {second.id}"))

    html = page(sign_in("operator"), "/admin/audit")

    assert 'data-chain="broken"' in html
    assert re.search(rf'data-record="{second.id}"[^>]* class="broken"', html)


# -- plugins -----------------------------------------------------------------------------


def test_the_plugins_page_lists_plugins_and_load_failures(rw, sign_in):
    rw.world.hub._registry.failures.append(LoadFailure("vendorx", "vendorx-dist", "ImportError('no sdk')"))

    html = page(sign_in("manager_a"), "/admin/plugins")

    assert {"fakeplatform", "fakegate", "builtin-jobs"} <= set(listed(html, "data-plugin"))
    assert listed(html, "data-failure") == ["vendorx"]
    assert "vendorx-dist" in html and "no sdk" in html
    assert "hub_verify_rider" in html and "1.0" in html


# -- jobs --------------------------------------------------------------------------------


def _dead_items(store):
    with store.transaction() as session:
        enqueue(
            session,
            [OutboxItem("notify_rider", conn, {}, f"k-{conn}") for conn in ("plat", "plat2")],
            store.clock.now(),
        )
    for item in store.lease_outbox(10, 30):
        store.settle_outbox(item.id, error=f"HTTP 500 from {item.connection_id}")


def test_the_jobs_page_lists_jobs_with_schedule_history_and_next_run(rw, sign_in, store):
    run = store.start_job_run("outbox.deliver")
    store.finish_job_run(run, items=4)
    started = store.clock.now()

    html = page(sign_in("operator"), "/admin/jobs")

    assert "outbox.deliver" in listed(html, "data-job")
    assert "interval seconds=15" in html
    assert listed(html, "data-run") == [str(run)]
    # The next run comes from the schedule and the last run, as in 'last100 jobs list',
    # though no scheduler runs in this process.
    [next_run] = re.findall(r'id="job-outbox.deliver".*?data-next-run="([^"]*)"', html, re.S)
    assert next_run == (started + timedelta(seconds=15)).isoformat()
    assert listed(html, "data-scheduler") == [] and "No scheduler holds the lock" in html


def test_the_jobs_page_names_the_scheduler_holding_the_lock(rw, sign_in, store):
    lock = store.scheduler_lock(holder="sched-host:4242")
    assert lock.try_acquire()
    try:
        html = page(sign_in("operator"), "/admin/jobs")
    finally:
        lock.release()

    assert listed(html, "data-scheduler") == ["sched-host:4242"]
    assert "Scheduler: sched-host:4242, running since" in html
    assert "No scheduler holds the lock" in page(sign_in("operator"), "/admin/jobs")


def test_the_outbox_counts_and_dead_items_are_shown_scoped_for_managers(rw, sign_in, store):
    _dead_items(store)

    olga = page(sign_in("operator"), "/admin/jobs")
    anna = page(sign_in("manager_a"), "/admin/jobs")

    assert re.search(r'data-outbox="dead">2<', olga)
    assert len(listed(olga, "data-dead")) == 2 and "HTTP 500 from plat2" in olga
    assert len(listed(anna, "data-dead")) == 1 and "HTTP 500 from plat2" not in anna


def test_only_operators_get_the_run_now_button(rw, sign_in):
    assert "Run now" in page(sign_in("operator"), "/admin/jobs")
    assert "Run now" not in page(sign_in("manager_a"), "/admin/jobs")


def test_run_now_without_the_csrf_token_is_refused_and_runs_nothing(rw, sign_in, store):
    olga = sign_in("operator")

    reply = olga.post("/admin/jobs/outbox.deliver/run")

    assert reply.status_code == 400
    assert store.job_runs("outbox.deliver") == []


def test_run_now_with_the_csrf_token_runs_records_and_shows_the_job(rw, sign_in, store):
    olga = sign_in("operator")
    token = csrf_of(page(olga, "/admin/jobs"))

    reply = olga.post("/admin/jobs/outbox.deliver/run", data={"csrf_token": token})

    assert reply.status_code == 303
    [run] = store.job_runs("outbox.deliver")
    assert run["ended_at"] is not None and run["error"] is None
    assert ("user:olga", "job.run", "outbox.deliver") in audit_actions(store)
    html = page(olga, reply.headers["Location"])
    assert 'data-ran="outbox.deliver"' in html and "0 item(s)" in html


def test_a_run_with_failed_items_says_how_many(rw, sign_in, store):
    run_id = store.start_job_run("outbox.deliver")
    store.finish_job_run(run_id, items=7, errors=3)

    html = page(sign_in("operator"), "/admin/jobs")

    assert "7 item(s), 3 failed" in html


def test_run_now_is_for_operators_and_known_jobs_only(rw, sign_in, store):
    anna = sign_in("manager_a")
    token = csrf_of(page(anna, "/admin/entries"))
    assert anna.post("/admin/jobs/outbox.deliver/run", data={"csrf_token": token}).status_code == 403
    assert store.job_runs("outbox.deliver") == []

    olga = sign_in("operator")
    token = csrf_of(page(olga, "/admin/jobs"))
    assert olga.post("/admin/jobs/no.such.job/run", data={"csrf_token": token}).status_code == 404
    anonymous = rw.app.test_client().post("/admin/jobs/outbox.deliver/run")
    assert anonymous.status_code in (302, 303, 400)
    assert store.job_runs("outbox.deliver") == []


@pytest.mark.parametrize("name", ["entries", "entry_detail", "audit_log", "plugins", "jobs"])
def test_the_package_ships_the_pages_templates(name):
    root = Path(__file__).resolve().parents[1]
    admin = root / "hub" / "web" / "admin"
    tree = ast.parse((root / "setup.py").read_text(encoding="utf-8"))
    [package_data] = [
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "package_data"
    ]
    template = admin / "templates" / "admin" / f"{name}.html"
    assert template.is_file()
    assert any(template in set(admin.glob(pattern)) for pattern in package_data["hub.web.admin"])
