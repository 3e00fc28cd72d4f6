"""Personal data the hub keeps whole (a rider's reference at the platform, the orders'
addresses) is masked on the entry page; an operator may reveal it for one entry with a
reason, and every reveal is in the audit log."""

from __future__ import annotations

import pytest

from hub.core import masking
from tests.console_world import build_console_world, csrf_of
from tests.storage.builders import make_entry, make_order, make_rider, save

ADDRESS = "1 Garden Road, Building 1, Flat 1203"
REF = "R-77123"


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    save(
        world.store,
        make_entry(id="a-1", rider_ref=REF),
        rider=make_rider(platform_ref=REF),
        orders=[make_order(address=ADDRESS, rider_ref=REF)],
    )
    yield world
    world.close()


def _reveal(client, reason: str = "Resident complaint #12", with_token: bool = True):
    form = {"reason": reason}
    if with_token:
        form["csrf_token"] = csrf_of(client.get("/admin/entries/a-1").get_data(as_text=True))
    return client.post("/admin/entries/a-1/reveal", data=form, headers={"Accept-Language": "en"})


def _reveals(store) -> list:
    return [r for r in store.list_audit(limit=1000) if r.action == "personal_data.revealed"]


@pytest.mark.parametrize("user", ["olga", "anna"])
def test_the_entry_page_masks_the_rider_reference_and_order_address(cw, user):
    html = cw.sign_in(user).get("/admin/entries/a-1").get_data(as_text=True)

    assert REF not in html and ADDRESS not in html
    assert masking.mask_ref(REF) in html and masking.mask_address(ADDRESS) in html


def test_only_operators_are_offered_the_reveal(cw):
    assert 'action="/admin/entries/a-1/reveal"' in cw.sign_in("olga").get("/admin/entries/a-1").get_data(as_text=True)
    assert "/reveal" not in cw.sign_in("anna").get("/admin/entries/a-1").get_data(as_text=True)


def test_an_operators_reveal_shows_the_data_and_is_audited_with_the_reason(cw):
    reply = _reveal(cw.sign_in("olga"))

    html = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert REF in html and ADDRESS in html and "data-revealed" in html
    (record,) = _reveals(cw.store)
    assert (record.actor, record.subject) == ("user:olga", "a-1")
    assert record.data == {
        "community": "c1",
        "fields": ["rider_ref", "order_addresses"],
        "reason": "Resident complaint #12",
    }
    assert reply.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201])
def test_a_reveal_without_a_reason_shows_nothing_and_records_nothing(cw, reason):
    reply = _reveal(cw.sign_in("olga"), reason)

    html = reply.get_data(as_text=True)
    assert reply.status_code == 400
    assert REF not in html and ADDRESS not in html
    assert "Give a reason" in html
    assert _reveals(cw.store) == []


@pytest.mark.parametrize("user", ["anna", "bert", "gus"])
def test_other_roles_may_not_reveal(cw, user):
    client = cw.sign_in(user)
    reply = client.post("/admin/entries/a-1/reveal", data={"reason": "curious"})

    assert reply.status_code in (400, 403)  # no token of a page they cannot open, or the role
    assert REF not in reply.get_data(as_text=True)
    assert _reveals(cw.store) == []


def test_a_manager_with_a_valid_token_is_still_refused(cw):
    client = cw.sign_in("anna")
    token = csrf_of(client.get("/admin/entries/a-1").get_data(as_text=True))

    reply = client.post("/admin/entries/a-1/reveal", data={"reason": "curious", "csrf_token": token})

    assert reply.status_code == 403
    assert _reveals(cw.store) == []


def test_revealing_an_unknown_entry_is_404(cw):
    client = cw.sign_in("olga")
    token = csrf_of(client.get("/admin/entries/a-1").get_data(as_text=True))

    assert client.post("/admin/entries/nope/reveal", data={"reason": "x", "csrf_token": token}).status_code == 404
    assert _reveals(cw.store) == []


# -- a report's contact ------------------------------------------------------------------


@pytest.fixture
def report(cw):
    found, _new = cw.store.add_feedback(
        "c1", source="resident", category="parking", body="Bikes", contact="Mrs Zhang 13812345678", actor="test"
    )
    return found


def test_a_reports_contact_is_masked_and_an_operator_may_reveal_it(cw, report):
    client = cw.sign_in("olga")
    url = f"/admin/feedback/{report.id}"
    html = client.get(url).get_data(as_text=True)
    assert "13812345678" not in html and "138****5678" in html

    reply = client.post(f"{url}/reveal", data={"reason": "Call her back", "csrf_token": csrf_of(html)})

    assert reply.status_code == 200
    assert "Mrs Zhang 13812345678" in reply.get_data(as_text=True)
    (record,) = _reveals(cw.store)
    assert record.subject == f"feedback:{report.id}"
    assert record.data == {"community": "c1", "fields": ["contact"], "reason": "Call her back"}


def test_a_contact_reveal_needs_a_reason_and_an_operator(cw, report):
    url = f"/admin/feedback/{report.id}"
    olga = cw.sign_in("olga")
    no_reason = olga.post(
        f"{url}/reveal", data={"reason": " ", "csrf_token": csrf_of(olga.get(url).get_data(as_text=True))}
    )
    anna = cw.sign_in("anna")
    manager = anna.post(
        f"{url}/reveal", data={"reason": "x", "csrf_token": csrf_of(anna.get(url).get_data(as_text=True))}
    )

    assert no_reason.status_code == 400 and "13812345678" not in no_reason.get_data(as_text=True)
    assert manager.status_code == 403
    assert _reveals(cw.store) == []
