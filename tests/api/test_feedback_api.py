"""``/api/v1/communities/<id>/feedback``: a platform forwards reports, sends them again
safely, and reads back their status and the answers meant for the reporter."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.core.model import FeedbackSource, FeedbackStatus

URL = "/api/v1/communities/c1/feedback"
PHONE = "13812345678"


def body(**changes):
    sent = {
        "connection": "plat",
        "external_ref": "fb-0042",
        "category": "access",
        "body": "The north gate scanner did not read my code.\nI waited 10 minutes.",
        "contact": "张三 " + PHONE,
    }
    sent.update(changes)
    return {k: v for k, v in sent.items() if v is not None}


def send(api, sent=None, *, url: str = URL, key: str | None = None):
    return api.client.post(url, json=body() if sent is None else sent, headers=api.headers(key))


def counts(api) -> dict[str, int]:
    with api.world.store.transaction() as session:
        return {
            t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("feedback", "feedback_responses", "audit_log")
        }


@pytest.fixture
def wide(api):
    """A key for every connection and community."""
    return api.new_key("wide", ("*",), ("*",))


# -- sending -----------------------------------------------------------------------------


def test_a_new_report_is_stored_for_the_community_and_answered_201(api):
    reply = send(api)

    assert reply.status_code == 201
    assert reply.headers["Location"] == "/api/v1/communities/c1/feedback/plat/fb-0042"
    assert reply.json == {
        "community": "c1",
        "connection": "plat",
        "external_ref": "fb-0042",
        "category": "access",
        "body": "The north gate scanner did not read my code.\nI waited 10 minutes.",
        "status": "open",
        "created_at": "2026-01-05T04:00:00+00:00",
        "updated_at": "2026-01-05T04:00:00+00:00",
        "responses": [],
    }
    assert PHONE not in reply.get_data(as_text=True)
    [stored] = api.world.store.list_feedback()
    assert (stored.source, stored.community_id, stored.connection_id) == (FeedbackSource.PLATFORM, "c1", "plat")
    assert stored.masked_contact == "138****5678"
    assert api.world.store.feedback_contact(stored.id) == "张三 " + PHONE
    [record] = [r for r in api.world.store.list_audit() if r.action == "feedback.created"]
    assert record.actor == "api:platform-a"
    assert record.data["external_ref"] == "fb-0042"


def test_the_contact_may_be_left_out(api):
    reply = send(api, body(contact=None))

    assert reply.status_code == 201
    assert api.world.store.list_feedback()[0].masked_contact == ""


def test_the_same_report_sent_again_answers_200_with_the_stored_one_and_writes_nothing(api):
    first = send(api)
    before = counts(api)
    api.world.clock.advance(minutes=2)

    again = send(api)

    assert again.status_code == 200
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert counts(api) == before


@pytest.mark.parametrize("changes", [{"body": "Something else"}, {"category": "safety"}, {"contact": "李四"}])
def test_the_same_external_ref_with_another_report_is_refused_422(api, changes):
    send(api)
    before = counts(api)

    reply = send(api, body(**changes))

    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "external_ref_reused"
    assert counts(api) == before


# -- scope and existence -----------------------------------------------------------------


def test_a_community_outside_the_keys_scope_is_forbidden(api):
    api.world.store.link_connection("c2", "plat")
    before = counts(api)

    reply = send(api, url="/api/v1/communities/c2/feedback")

    assert reply.status_code == 403
    assert reply.json["error"]["code"] == "forbidden"
    assert counts(api) == before


def test_a_connection_outside_the_keys_scope_is_forbidden(api):
    reply = send(api, body(connection="plat2"))

    assert reply.status_code == 403
    assert "plat2" in reply.json["error"]["message"]
    assert counts(api)["feedback"] == 0


def test_an_unknown_community_is_404(api, wide):
    reply = send(api, url="/api/v1/communities/nowhere/feedback", key=wide)

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "community_not_found"


@pytest.mark.parametrize("connection", ["ghost", "plat2"])
def test_a_connection_that_is_unknown_or_does_not_serve_the_community_is_404(api, wide, connection):
    reply = send(api, body(connection=connection), key=wide)

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "connection_not_found"
    assert reply.json["error"]["message"] == f"no connection {connection!r} serves community 'c1'"
    assert counts(api)["feedback"] == 0


# -- invalid requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "bad"),
    [
        (body(category="noise"), "category"),
        (body(body=""), "body"),
        (body(body="x" * 2001), "body"),
        (body(body="bell\x07"), "body"),
        (body(external_ref="a/b"), "external_ref"),
        (body(external_ref="-dash-first"), "external_ref"),
        (body(external_ref="x" * 101), "external_ref"),
        (body(contact="x" * 201), "contact"),
        (body(contact="line\nbreak"), "contact"),
        (body(connection=None), "connection"),
        ({**body(), "rating": 5}, "rating"),
    ],
)
def test_invalid_fields_are_refused_422_naming_the_field(api, sent, bad):
    reply = send(api, sent)

    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "invalid_request"
    assert bad in reply.json["error"]["details"]["fields"]
    assert counts(api)["feedback"] == 0


def test_a_body_that_is_not_json_is_refused(api):
    broken = api.client.post(URL, data="{", content_type="application/json", headers=api.headers())
    form = api.client.post(URL, data={"body": "x"}, headers=api.headers())
    no_key = api.client.post(URL, json=body())

    assert (broken.status_code, broken.json["error"]["code"]) == (400, "invalid_json")
    assert (form.status_code, form.json["error"]["code"]) == (415, "unsupported_media_type")
    assert (no_key.status_code, no_key.json["error"]["code"]) == (401, "unauthorized")
    assert counts(api)["feedback"] == 0


# -- reading back ------------------------------------------------------------------------


def test_a_report_is_read_back_with_its_status_and_only_the_answers_shared_with_the_reporter(api):
    location = send(api).headers["Location"]
    store = api.world.store
    [stored] = store.list_feedback()
    api.world.clock.advance(minutes=5)
    store.respond_to_feedback(stored.id, "Internal: ask the vendor", actor="user:anna")
    store.respond_to_feedback(stored.id, "The scanner was replaced.", shared_with_reporter=True, actor="user:anna")
    store.set_feedback_status(stored.id, "resolved", actor="user:anna")

    reply = api.client.get(location, headers=api.headers())

    assert reply.status_code == 200
    assert reply.json["status"] == FeedbackStatus.RESOLVED.value
    assert reply.json["updated_at"] == "2026-01-05T04:05:00+00:00"
    assert reply.json["responses"] == [{"body": "The scanner was replaced.", "created_at": "2026-01-05T04:05:00+00:00"}]
    assert "Internal" not in reply.get_data(as_text=True)
    assert "user:anna" not in reply.get_data(as_text=True)


def test_an_unknown_report_is_404(api):
    reply = api.client.get(URL + "/plat/nope", headers=api.headers())

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "feedback_not_found"


def test_a_report_is_found_only_under_its_own_community(api, wide):
    send(api)

    reply = api.client.get("/api/v1/communities/c2/feedback/plat/fb-0042", headers=api.headers(wide))

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "feedback_not_found"


@pytest.mark.parametrize("url", ["/api/v1/communities/c2/feedback/plat/fb-0042", URL + "/plat2/fb-0042"])
def test_reading_outside_the_keys_scope_is_forbidden(api, url):
    send(api)

    reply = api.client.get(url, headers=api.headers())

    assert reply.status_code == 403
