"""The rider page's "Report a problem at this gate": the form, its signed token, what is
stored, the limit per client address, and what a wrong request gets instead."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from hub.core.model import FeedbackCategory, FeedbackSource, FeedbackStatus
from hub.web.rider import FORM_MAX_AGE_S
from hub.web.rider_report import REPORTS_PER_HOUR
from tests.rider_world import build_rider_world, form_token

PHONE = "13912345678"


@pytest.fixture
def rw(tmp_path):
    world = build_rider_world(tmp_path)
    yield world
    world.close()


@pytest.fixture
def client(rw):
    return rw.app.test_client()


def report_url(rw, gate_code: str = "north-code") -> str:
    return rw.page(gate_code) + "/report"


def stored(rw) -> int:
    with rw.world.store.transaction() as session:
        return session.execute(text("SELECT count(*) FROM feedback")).scalar_one()


def send(client, url: str, lang: str = "en", address: str = "10.1.2.3", **fields):
    html = client.get(url, headers={"Accept-Language": lang}).get_data(as_text=True)
    data = {"csrf": form_token(html), "category": "access", "body": "The barrier hit my e-bike.", **fields}
    return client.post(
        url,
        data={k: v for k, v in data.items() if v is not None},
        headers={"Accept-Language": lang},
        environ_base={"REMOTE_ADDR": address},
    )


def test_the_gate_page_and_the_answer_page_link_to_the_report_form(client, rw):
    gate_page = client.get(rw.page(), headers={"Accept-Language": "en"}).get_data(as_text=True)
    data = {"csrf": form_token(gate_page), "connection": "plat", "kind": "typed_code", "code": "tok-1"}
    entry = client.post(rw.page(), data=data)
    answer_page = client.get(entry.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)

    link = f'href="{report_url(rw)}">Report a problem at this gate</a>'
    assert link in gate_page
    assert "You may enter" in answer_page and link in answer_page


def test_the_form_names_the_gate_and_offers_every_category(client, rw):
    reply = client.get(report_url(rw), headers={"Accept-Language": "en"})

    assert reply.status_code == 200
    html = reply.get_data(as_text=True)
    assert "<h1>Report a problem at this gate</h1>" in html
    assert "North gate · Sunny Garden" in html
    assert re.findall(r'name="category" value="(\w+)"', html) == [c.value for c in FeedbackCategory]
    assert reply.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]


def test_a_report_is_stored_for_the_gates_community_and_thanked_for(client, rw):
    reply = send(client, report_url(rw), category="parking", body="No room\r\nto park.", contact=" 李雷 " + PHONE)

    assert reply.status_code == 303
    assert reply.headers["Location"] == report_url(rw) + "/sent"
    thanks = client.get(reply.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your report was sent to the management of Sunny Garden." in thanks
    store = rw.world.store
    [report] = store.list_feedback()
    assert (report.community_id, report.gate_id, report.source, report.category, report.status) == (
        "c1",
        "g1",
        FeedbackSource.RIDER,
        FeedbackCategory.PARKING,
        FeedbackStatus.OPEN,
    )
    assert report.body == "No room\nto park."
    assert report.masked_contact == "139****5678"
    assert store.feedback_contact(report.id) == "李雷 " + PHONE
    [record] = [r for r in store.list_audit() if r.action == "feedback.created"]
    assert (record.actor, record.data["gate"], record.data["address"]) == ("rider-page", "g1", "10.1.2.3")


def test_the_contact_is_optional(client, rw):
    assert send(client, report_url(rw)).status_code == 303
    assert rw.world.store.list_feedback()[0].masked_contact == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": None}, "Choose what the problem is about."),
        ({"category": "noise"}, "Choose what the problem is about."),
        ({"body": "   "}, "Describe the problem."),
        ({"body": "x" * 1001}, "This is too long. Please shorten it."),
        ({"contact": "x" * 101}, "This is too long. Please shorten it."),
        ({"body": "nul\x00"}, "Please send plain text."),
        ({"contact": "two\nlines"}, "Please send plain text."),
    ],
)
def test_an_incomplete_report_is_shown_again_with_its_problem_and_nothing_is_stored(client, rw, fields, message):
    reply = send(client, report_url(rw), **fields)

    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert f'<p class="error" role="alert">{message}</p>' in html
    assert stored(rw) == 0


@pytest.mark.parametrize("token", ["", "forged", None])
def test_a_form_without_a_valid_token_stores_nothing(client, rw, token):
    data = {"category": "access", "body": "x"}
    if token is not None:
        data["csrf"] = token

    reply = client.post(report_url(rw), data=data, headers={"Accept-Language": "en"})

    assert reply.status_code == 400
    assert "This page was open too long" in reply.get_data(as_text=True)
    assert stored(rw) == 0


def test_a_token_of_another_gate_or_too_old_stores_nothing(client, rw):
    east = form_token(client.get(report_url(rw, "east-code")).get_data(as_text=True))
    north = form_token(client.get(report_url(rw)).get_data(as_text=True))

    other_gate = client.post(report_url(rw), data={"csrf": east, "category": "access", "body": "x"})
    rw.world.clock.advance(seconds=FORM_MAX_AGE_S + 1)
    too_old = client.post(report_url(rw), data={"csrf": north, "category": "access", "body": "x"})

    assert (other_gate.status_code, too_old.status_code) == (400, 400)
    assert stored(rw) == 0


def test_one_address_may_send_a_few_reports_an_hour(client, rw):
    for _ in range(REPORTS_PER_HOUR):
        assert send(client, report_url(rw)).status_code == 303

    refused = send(client, report_url(rw))
    other_address = send(client, report_url(rw), address="10.9.9.9")
    rw.world.clock.advance(hours=1, seconds=1)
    an_hour_later = send(client, report_url(rw))

    assert refused.status_code == 429
    assert "You have sent several reports in the last hour." in refused.get_data(as_text=True)
    assert (other_address.status_code, an_hour_later.status_code) == (303, 303)
    assert stored(rw) == REPORTS_PER_HOUR + 2


@pytest.mark.parametrize("suffix", ["/report", "/report/sent"])
def test_an_unknown_or_forged_gate_code_answers_404(client, suffix):
    assert client.get(f"/g/forged.code{suffix}").status_code == 404
    assert client.post("/g/forged.code/report", data={"body": "x"}).status_code == 404


def test_the_form_speaks_chinese(client, rw):
    html = client.get(report_url(rw), headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)

    assert "报告此门岗的问题" in html
    assert "发送报告" in html
