"""The console's feedback pages for every role: the operator (every community), the
manager of ``c1`` (anna), the manager of ``c2`` (bert), a guard (403) and someone not
signed in; another community's report answers 404 by any URL and changes nothing;
invalid forms change nothing; every change is audited."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import text

from hub.core.model import FeedbackCategory, FeedbackSource, FeedbackStatus
from hub.web.admin.feedback import PAGE_SIZE
from tests.console_world import csrf_of

PHONE = "13812345678"
TABLES = ("feedback", "feedback_responses")


def page(client, url: str, status: int = 200) -> str:
    reply = client.get(url)
    assert reply.status_code == status, (url, reply.status_code)
    return reply.get_data(as_text=True)


def listed(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-feedback="(\d+)"', html)]


def report(store, community_id: str = "c1", **changes):
    values = {
        "source": "resident",
        "category": "parking",
        "body": "E-bikes block the fire lane",
        "contact": "王小明 " + PHONE,
        "actor": "user:olga",
    }
    return store.add_feedback(community_id, **{**values, **changes})[0]


def state(store) -> dict[str, list]:
    """Everything a refused request must leave alone: the reports, their answers and the
    audit log's feedback records (signing in is audited too)."""
    with store.transaction() as session:
        found = {table: session.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() for table in TABLES}
        found["audit"] = session.execute(text("SELECT * FROM audit_log WHERE action LIKE 'feedback.%'")).all()
        return found


def audited(store, action: str):
    return [r for r in store.list_audit(limit=500) if r.action == action]


def post(client, url: str, data: dict, *, token_from: str = "/admin/feedback"):
    token = csrf_of(page(client, token_from))
    return client.post(url, data={"csrf_token": token, **data})


def new_form(**changes):
    data = {
        "community": "c1",
        "source": "resident",
        "category": "safety",
        "gate": "g1",
        "body": "A rider rode on the pavement\r\nnear building 3.",
        "contact": PHONE,
    }
    data.update(changes)
    return data


# -- who may open what -------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/feedback", "/admin/feedback/new", "/admin/feedback/1"])
def test_someone_not_signed_in_is_sent_to_sign_in(cw, store, url):
    report(store)

    reply = cw.client().get(url)

    assert reply.status_code in (302, 303)
    assert reply.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize("url", ["/admin/feedback", "/admin/feedback/new", "/admin/feedback/1"])
def test_guards_may_not_open_the_feedback_pages(sign_in, store, url):
    report(store)

    page(sign_in("guard"), url, 403)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/admin/feedback/new", new_form()),
        ("/admin/feedback/1/respond", {"body": "Hello"}),
        ("/admin/feedback/1/status", {"status": "closed"}),
    ],
)
def test_guards_may_not_change_feedback(sign_in, store, url, data):
    report(store)
    before = state(store)

    reply = post(sign_in("guard"), url, data, token_from="/admin/guard")

    assert reply.status_code == 403
    assert state(store) == before


@pytest.mark.parametrize("who", ["operator", "manager_a", "manager_b"])
def test_operators_and_managers_open_the_list_and_the_form_and_see_it_in_the_navigation(sign_in, who):
    client = sign_in(who)

    html = page(client, "/admin/feedback")
    page(client, "/admin/feedback/new")

    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert 'href="/admin/feedback"' in nav
    assert nav.index('href="/admin/entries"') < nav.index('href="/admin/feedback"')


def test_guards_do_not_see_feedback_in_the_navigation(sign_in):
    html = page(sign_in("guard"), "/admin/guard")

    assert 'href="/admin/feedback"' not in html


# -- the list ----------------------------------------------------------------------------


def test_each_manager_sees_only_their_communitys_reports_and_the_operator_all(sign_in, store, cw):
    a = report(store)
    cw.clock.advance(minutes=1)
    b = report(store, "c2")

    assert listed(page(sign_in("manager_a"), "/admin/feedback")) == [a.id]
    assert listed(page(sign_in("manager_b"), "/admin/feedback")) == [b.id]
    assert listed(page(sign_in("operator"), "/admin/feedback")) == [b.id, a.id]


def test_the_list_counts_each_status_within_the_users_communities(sign_in, store):
    first = report(store)
    report(store)
    report(store, "c2")
    store.set_feedback_status(first.id, "in_progress", actor="user:olga")

    html = page(sign_in("manager_a"), "/admin/feedback")

    counts = dict(re.findall(r'data-count="(\w+)">\s*<a [^>]*><span class="value">(\d+)</span>', html))
    assert counts == {"open": "1", "in_progress": "1", "resolved": "0", "closed": "0"}
    operator = page(sign_in("operator"), "/admin/feedback")
    assert re.search(r'data-count="open">\s*<a [^>]*><span class="value">2</span>', operator)


def test_the_list_filters_by_community_status_and_source(sign_in, store, cw):
    resident = report(store)
    cw.clock.advance(minutes=1)
    guard = report(store, source="guard")
    cw.clock.advance(minutes=1)
    other = report(store, "c2")
    store.set_feedback_status(resident.id, "resolved", actor="user:olga")
    olga = sign_in("operator")

    assert listed(page(olga, "/admin/feedback?community=c2")) == [other.id]
    assert listed(page(olga, "/admin/feedback?status=resolved")) == [resident.id]
    assert listed(page(olga, "/admin/feedback?source=guard")) == [guard.id]
    assert listed(page(olga, "/admin/feedback?community=c1&status=open")) == [guard.id]
    page(olga, "/admin/feedback?status=snoozed", 400)
    page(olga, "/admin/feedback?source=neighbour", 400)
    page(olga, "/admin/feedback?before=yesterday", 400)


def test_another_communitys_filter_answers_404(sign_in, store):
    report(store, "c2")

    page(sign_in("manager_a"), "/admin/feedback?community=c2", 404)
    page(sign_in("manager_a"), "/admin/feedback?community=nowhere", 404)


def test_the_list_pages_newest_first_by_keyset(sign_in, store, cw):
    made = []
    for _ in range(PAGE_SIZE + 3):
        made.append(report(store).id)
        cw.clock.advance(seconds=1)
    anna = sign_in("manager_a")

    first = page(anna, "/admin/feedback")
    older = unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))
    second = page(anna, older)

    assert listed(first) == made[::-1][:PAGE_SIZE]
    assert listed(second) == made[::-1][PAGE_SIZE:]
    assert 'rel="next"' not in second and 'rel="first"' in second


def test_the_reporters_contact_is_never_shown_whole(sign_in, store):
    stored = report(store)
    olga = sign_in("operator")

    html = page(olga, "/admin/feedback") + page(olga, f"/admin/feedback/{stored.id}")

    assert PHONE not in html and "王小明" not in html
    assert re.search(r"data-contact>138\*\*\*\*5678<", html)


# -- one report: another community's -----------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/respond", "/status"])
def test_another_communitys_report_answers_404_and_changes_nothing(sign_in, store, suffix):
    theirs = report(store, "c2")
    before = state(store)
    anna = sign_in("manager_a")
    url = f"/admin/feedback/{theirs.id}{suffix}"

    if suffix:
        reply = post(anna, url, {"body": "Mine now", "shared": "on", "status": "closed"})
        assert reply.status_code == 404
    else:
        page(anna, url, 404)

    assert state(store) == before


@pytest.mark.parametrize("feedback_id", ["999", "99999999999999999999", "abc", "-1"])
def test_unknown_reports_answer_404(sign_in, feedback_id):
    anna = sign_in("manager_a")

    page(anna, f"/admin/feedback/{feedback_id}", 404)
    assert post(anna, f"/admin/feedback/{feedback_id}/status", {"status": "closed"}).status_code == 404


def test_the_detail_shows_the_report_its_place_and_its_answers(sign_in, store):
    stored = report(store, gate_id="g1", category="access")
    store.respond_to_feedback(stored.id, "Guards will watch the lane.", shared_with_reporter=True, actor="user:anna")

    html = page(sign_in("manager_a"), f"/admin/feedback/{stored.id}")

    assert "E-bikes block the fire lane" in html
    assert "North gate" in html and "Sunny Garden" in html
    assert 'data-source="resident"' in html and 'data-category="access"' in html
    assert 'data-status="open"' in html
    assert "Guards will watch the lane." in html and "user:anna" in html
    assert "data-shared" in html


# -- answering ---------------------------------------------------------------------------


def test_a_manager_answers_a_report_shared_with_the_reporter_and_it_is_audited(sign_in, store):
    stored = report(store)
    anna = sign_in("manager_a")

    reply = post(
        anna, f"/admin/feedback/{stored.id}/respond", {"body": "  We moved the bikes.\r\nThanks.  ", "shared": "on"}
    )

    assert reply.status_code == 303
    assert reply.headers["Location"].endswith(f"/admin/feedback/{stored.id}#answers")
    [answer] = store.get_feedback(stored.id).responses
    assert (answer.author, answer.body, answer.shared_with_reporter) == (
        "user:anna",
        "We moved the bikes.\nThanks.",
        True,
    )
    [record] = audited(store, "feedback.responded")
    assert (record.actor, record.subject, record.data["shared_with_reporter"]) == ("user:anna", str(stored.id), True)
    assert "Your answer was saved." in page(anna, reply.headers["Location"])


def test_an_internal_answer_is_not_shared(sign_in, store):
    stored = report(store)

    post(sign_in("operator"), f"/admin/feedback/{stored.id}/respond", {"body": "Ask the vendor."})

    [answer] = store.get_feedback(stored.id).responses
    assert (answer.author, answer.shared_with_reporter) == ("user:olga", False)


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001, "bell\x07"])
def test_an_invalid_answer_is_refused_and_changes_nothing(sign_in, store, body):
    stored = report(store)
    before = state(store)

    reply = post(sign_in("manager_a"), f"/admin/feedback/{stored.id}/respond", {"body": body})

    assert reply.status_code == 400
    assert 'id="answer-problem"' in reply.get_data(as_text=True)
    assert state(store) == before


# -- the status --------------------------------------------------------------------------


def test_a_manager_changes_the_status_and_it_is_audited(sign_in, store):
    stored = report(store)
    anna = sign_in("manager_a")

    reply = post(anna, f"/admin/feedback/{stored.id}/status", {"status": "resolved"})

    assert reply.status_code == 303
    assert store.get_feedback(stored.id).status is FeedbackStatus.RESOLVED
    [record] = audited(store, "feedback.status_changed")
    assert (record.actor, record.subject) == ("user:anna", str(stored.id))
    assert record.data == {"community": "c1", "from": "open", "to": "resolved"}
    assert 'data-status="resolved"' in page(anna, reply.headers["Location"])


def test_setting_the_same_status_changes_and_audits_nothing(sign_in, store):
    stored = report(store)
    before = state(store)

    reply = post(sign_in("manager_a"), f"/admin/feedback/{stored.id}/status", {"status": "open"})

    assert reply.status_code == 303
    assert state(store) == before


@pytest.mark.parametrize("status", ["", "snoozed"])
def test_an_unknown_status_is_refused_and_changes_nothing(sign_in, store, status):
    stored = report(store)
    before = state(store)

    reply = post(sign_in("manager_a"), f"/admin/feedback/{stored.id}/status", {"status": status})

    assert reply.status_code == 400
    assert 'id="status-problem"' in reply.get_data(as_text=True)
    assert state(store) == before


def test_a_change_without_the_csrf_token_is_refused(sign_in, store):
    stored = report(store)
    before = state(store)
    anna = sign_in("manager_a")

    refused = [
        anna.post(f"/admin/feedback/{stored.id}/status", data={"status": "closed"}),
        anna.post(f"/admin/feedback/{stored.id}/respond", data={"body": "x"}),
        anna.post("/admin/feedback/new", data=new_form()),
    ]

    assert [r.status_code for r in refused] == [400, 400, 400]
    assert state(store) == before


# -- recording a report ------------------------------------------------------------------


def test_a_manager_records_a_residents_report_and_it_is_audited(sign_in, store):
    anna = sign_in("manager_a")

    reply = post(anna, "/admin/feedback/new", new_form(), token_from="/admin/feedback/new")

    assert reply.status_code == 303
    [stored] = store.list_feedback()
    assert reply.headers["Location"] == f"/admin/feedback/{stored.id}"
    assert (stored.community_id, stored.gate_id, stored.source, stored.category) == (
        "c1",
        "g1",
        FeedbackSource.RESIDENT,
        FeedbackCategory.SAFETY,
    )
    assert stored.body == "A rider rode on the pavement\nnear building 3."
    assert store.feedback_contact(stored.id) == PHONE
    [record] = audited(store, "feedback.created")
    assert (record.actor, record.subject, record.data["source"]) == ("user:anna", str(stored.id), "resident")
    html = page(anna, reply.headers["Location"])
    assert "The report was recorded." in html and PHONE not in html


def test_the_operator_records_a_guards_report_for_any_community_without_a_gate(sign_in, store):
    reply = post(
        sign_in("operator"),
        "/admin/feedback/new",
        new_form(community="c2", source="guard", gate="", contact=""),
        token_from="/admin/feedback/new",
    )

    assert reply.status_code == 303
    [stored] = store.list_feedback()
    assert (stored.community_id, stored.source, stored.gate_id, stored.masked_contact) == ("c2", "guard", None, "")


def test_a_manager_cannot_record_a_report_for_another_community(sign_in, store):
    before = state(store)

    reply = post(sign_in("manager_a"), "/admin/feedback/new", new_form(community="c2", gate="g9"))

    assert reply.status_code == 404
    assert state(store) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"community": ""}, "community"),
        ({"source": "platform"}, "source"),
        ({"source": "rider"}, "source"),
        ({"category": ""}, "category"),
        ({"category": "noise"}, "category"),
        ({"gate": "g9"}, "gate"),
        ({"gate": "nope"}, "gate"),
        ({"body": "  "}, "body"),
        ({"body": "x" * 2001}, "body"),
        ({"body": "nul\x00"}, "body"),
        ({"contact": "x" * 201}, "contact"),
        ({"contact": "two\nlines"}, "contact"),
    ],
)
def test_an_invalid_report_is_shown_again_with_its_error_and_nothing_is_stored(sign_in, store, changes, field):
    before = state(store)

    reply = post(sign_in("operator"), "/admin/feedback/new", new_form(**changes), token_from="/admin/feedback/new")

    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert f'id="problem-{field}"' in html
    assert "nothing was saved" in html
    assert state(store) == before


def test_the_form_for_another_community_answers_404(sign_in):
    anna = sign_in("manager_a")

    page(anna, "/admin/feedback/new?community=c2", 404)
    page(anna, "/admin/feedback/new?community=nowhere", 404)
    assert 'value="c1" selected' in page(anna, "/admin/feedback/new?community=c1")


def test_the_form_offers_only_the_users_communities_and_their_gates(sign_in):
    html = page(sign_in("manager_a"), "/admin/feedback/new")

    assert 'value="c1" selected' in html  # the only one: chosen already
    assert 'value="c2"' not in html and 'value="g9"' not in html
    assert 'value="g1"' in html
    assert re.findall(r'name="source".*?</select>', html, re.S)[0].count("<option") == 3


# -- in Chinese --------------------------------------------------------------------------


def test_the_pages_speak_chinese(cw, store):
    stored = report(store)
    client = cw.sign_in("olga", client=cw.client(HTTP_ACCEPT_LANGUAGE="zh-CN"))

    listing = page(client, "/admin/feedback")
    detail = page(client, f"/admin/feedback/{stored.id}")

    assert "反馈" in listing
    assert "待处理" in listing
    assert "保存答复" in detail
