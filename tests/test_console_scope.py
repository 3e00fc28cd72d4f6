"""No console URL lets a property manager read or change another community's data, and
no guard decide at another community's gates.

Every console route is listed below with the URLs that would reach community ``c1``'s
objects; ``bert`` manages ``c2`` only, ``rita`` guards ``c2`` only. A route added to the
console without a line here fails ``test_every_console_route_is_checked``."""

from __future__ import annotations

import dataclasses

import pytest

from hub.core.model import Building, Zone
from tests.console_world import build_console_world, csrf_of, waiting
from tests.storage.builders import make_entry, row_counts, save

C1_NAME = "Sunny Garden"


@dataclasses.dataclass(frozen=True)
class Attempt:
    method: str
    url: str
    form: dict = dataclasses.field(default_factory=dict)
    #: 404 for another community's object; 403 for a page the role may not open at all.
    status: int = 404


POLICY = {"max_pass_minutes": "5", "exit_grace_minutes": "1", "max_entries_per_hour": "1", "retention_days": "1"}

#: endpoint -> what bert (manager of c2) tries against c1.
MANAGER_ATTEMPTS: dict[str, list[Attempt]] = {
    "admin.dashboard": [Attempt("GET", "/admin/?community=c1")],
    "admin.entries": [Attempt("GET", "/admin/entries?community=c1")],
    "admin.entry_detail": [Attempt("GET", "/admin/entries/a-1")],
    "admin.entry_reveal": [Attempt("POST", "/admin/entries/a-1/reveal", {"reason": "x"}, 403)],
    "admin.guard_queue": [],  # lists the user's own gates only: see test_the_guard_queue_is_scoped
    "admin.guard_list": [],
    "admin.approve": [Attempt("POST", "/admin/guard/w-1/approve", {"open": "1"})],
    "admin.deny": [Attempt("POST", "/admin/guard/w-1/deny", {"reason": "no"})],
    "admin.communities": [],  # lists the user's own: see test_lists_show_only_the_managers_community
    "admin.community_add": [Attempt("POST", "/admin/communities", {"id": "c3", "name": "x"}, 403)],
    "admin.community": [Attempt("GET", "/admin/communities/c1")],
    "admin.community_policy": [
        Attempt("GET", "/admin/communities/c1/policy"),
        Attempt("POST", "/admin/communities/c1/policy", POLICY),
    ],
    "admin.gate_new": [
        Attempt("GET", "/admin/communities/c1/gates/new"),
        Attempt("POST", "/admin/communities/c1/gates/new", {"id": "gx", "name": "x", "door_no": "1"}),
    ],
    "admin.gate_edit": [
        Attempt("GET", "/admin/communities/c1/gates/g1/edit"),
        Attempt("POST", "/admin/communities/c1/gates/g1/edit", {"name": "x", "door_no": "9"}),
        # bert's own community in the URL, c1's gate after it
        Attempt("GET", "/admin/communities/c2/gates/g1/edit"),
        Attempt("POST", "/admin/communities/c2/gates/g1/edit", {"name": "x", "door_no": "9"}),
    ],
    "admin.gate_qr": [
        Attempt("GET", "/admin/communities/c1/gates/g1/qr.png"),
        Attempt("GET", "/admin/communities/c1/gates/g1/qr.svg"),
        Attempt("GET", "/admin/communities/c2/gates/g1/qr.svg"),
    ],
    "admin.building_new": [
        Attempt("GET", "/admin/communities/c1/buildings/new"),
        Attempt("POST", "/admin/communities/c1/buildings/new", {"id": "b9", "name": "x"}),
    ],
    "admin.building_edit": [
        Attempt("GET", "/admin/communities/c1/buildings/b1/edit"),
        Attempt("POST", "/admin/communities/c1/buildings/b1/edit", {"name": "x", "door_no": "9"}),
    ],
    "admin.building_remove": [
        Attempt("GET", "/admin/communities/c1/buildings/b1/remove"),
        Attempt("POST", "/admin/communities/c1/buildings/b1/remove"),
    ],
    "admin.zone_new": [
        Attempt("GET", "/admin/communities/c1/zones/new"),
        Attempt("POST", "/admin/communities/c1/zones/new", {"id": "z9", "kind": "parking", "name": "x"}),
    ],
    "admin.zone_edit": [
        Attempt("GET", "/admin/communities/c1/zones/z1/edit"),
        Attempt("POST", "/admin/communities/c1/zones/z1/edit", {"kind": "parking", "name": "x"}),
        Attempt("GET", "/admin/communities/c2/zones/z1/edit"),
    ],
    "admin.zone_remove": [
        Attempt("GET", "/admin/communities/c1/zones/z1/remove"),
        Attempt("POST", "/admin/communities/c1/zones/z1/remove"),
    ],
    "admin.connections": [Attempt("GET", "/admin/connections", status=403)],
    "admin.connection_new": [Attempt("POST", "/admin/connections/new", {"plugin": "fakeplatform"}, 403)],
    "admin.connection_edit": [
        Attempt("GET", "/admin/connections/plat/edit", status=403),
        Attempt("POST", "/admin/connections/plat/edit", {"name": "x"}, 403),
    ],
    "admin.feedback": [Attempt("GET", "/admin/feedback?community=c1")],
    "admin.feedback_detail": [Attempt("GET", "/admin/feedback/{feedback}")],
    "admin.feedback_reveal": [Attempt("POST", "/admin/feedback/{feedback}/reveal", {"reason": "x"}, 403)],
    "admin.feedback_respond": [Attempt("POST", "/admin/feedback/{feedback}/respond", {"body": "x"})],
    "admin.feedback_status": [Attempt("POST", "/admin/feedback/{feedback}/status", {"status": "closed"})],
    "admin.feedback_new": [
        Attempt("GET", "/admin/feedback/new?community=c1"),
        Attempt(
            "POST",
            "/admin/feedback/new",
            {"community": "c1", "source": "resident", "category": "other", "body": "x"},
        ),
    ],
    "admin.reports": [Attempt("GET", "/admin/reports?community=c1")],
    "admin.reports_csv": [Attempt("GET", "/admin/reports.csv?community=c1")],
    "admin.jobs": [],  # scoped lists: see test_lists_show_only_the_managers_community
    "admin.run_now": [Attempt("POST", "/admin/jobs/outbox.deliver/run", status=403)],
    "admin.audit_log": [Attempt("GET", "/admin/audit", status=403)],
    "admin.plugins": [],  # the hub's plugins: no community's data
    "admin.login": [],  # not signed-in pages
    "admin.login_code": [],
    "admin.logout": [],
}


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    store = world.store
    c1 = store.get_community("c1")
    store.update_community(dataclasses.replace(c1, buildings=(Building("b1", "Building 1", "1"),)))
    store.add_zone("c1", Zone("z1", "parking", "Bike stand", ((31.2, 121.4),)))
    save(store, make_entry(id="a-1"))
    waiting(store, "w-1")
    feedback, _new = store.add_feedback(
        "c1", source="resident", category="parking", body="Bikes block the door", contact="13812345678", actor="test"
    )
    world.feedback_id = feedback.id
    yield world
    world.close()


def _attempt(cw, client, attempt: Attempt):
    url = attempt.url.format(feedback=cw.feedback_id)
    if attempt.method == "GET":
        return client.get(url)
    token = csrf_of(client.get("/admin/plugins" if client.role != "guard" else "/admin/guard").get_data(as_text=True))
    return client.post(url, data={**attempt.form, "csrf_token": token})


def _signed_in(cw, username: str, role: str):
    client = cw.sign_in(username)
    client.role = role
    return client


def _state(cw) -> dict:
    """Every table's row count, and the audit log without the console's own sign-ins."""
    counts = row_counts(cw.store)
    counts.pop("audit_log")
    counts.pop("console_sessions")
    audit = [(r.action, r.subject) for r in cw.store.list_audit(limit=10_000) if not r.action.startswith("console.")]
    return {"counts": counts, "audit": audit, "c1": cw.store.get_community("c1"), "g1": cw.store.get_gate("g1")}


def test_every_console_route_is_checked(cw):
    endpoints = {rule.endpoint for rule in cw.app.url_map.iter_rules() if rule.rule.startswith("/admin")}
    assert endpoints == set(MANAGER_ATTEMPTS), "list a new console route in MANAGER_ATTEMPTS"


@pytest.mark.parametrize(
    "attempt",
    [pytest.param(a, id=f"{a.method} {a.url}") for attempts in MANAGER_ATTEMPTS.values() for a in attempts],
)
def test_a_manager_cannot_reach_another_communitys_data(cw, attempt):
    client = _signed_in(cw, "bert", "manager")
    before = _state(cw)

    reply = _attempt(cw, client, attempt)

    assert reply.status_code == attempt.status, reply.get_data(as_text=True)[:500]
    body = reply.get_data(as_text=True)
    assert C1_NAME not in body and "Bikes block the door" not in body
    assert _state(cw) == before


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_a_guard_cannot_decide_at_another_communitys_gate(cw, action):
    client = _signed_in(cw, "rita", "guard")
    before = _state(cw)

    reply = _attempt(cw, client, Attempt("POST", f"/admin/guard/w-1/{action}", {"reason": "no"}))

    assert reply.status_code == 404
    assert _state(cw) == before
    assert cw.store.get_entry("w-1").decision.value == "manual_check"


def test_the_guard_queue_is_scoped(cw):
    for url in ("/admin/guard", "/admin/guard/list"):
        body = _signed_in(cw, "rita", "guard").get(url).get_data(as_text=True)
        assert "w-1" not in body
        assert "w-1" in _signed_in(cw, "gus", "guard").get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "marker"),
    [
        ("/admin/", "North controller"),  # a connection of c1's, in the health table
        ("/admin/entries", "a-1"),
        ("/admin/communities", C1_NAME),
        ("/admin/feedback", "Bikes block"),
        ("/admin/jobs", "Outbox"),
    ],
)
def test_lists_show_only_the_managers_community(cw, url, marker):
    theirs = _signed_in(cw, "anna", "manager").get(url).get_data(as_text=True)
    body = _signed_in(cw, "bert", "manager").get(url).get_data(as_text=True)

    assert marker in theirs
    for c1_only in (C1_NAME, "a-1", "Bikes block", "North controller"):
        assert c1_only not in body, c1_only
