"""``/api/v1/entries``: deciding an entry, reading it back, idempotent retries and the
rider's exit, through the real Flask app."""

from __future__ import annotations

from datetime import timedelta

from hub.core.errors import UpstreamError
from hub.core.model import CommunityPolicy, Connection
from tests.api.conftest import make_api
from tests.engine_fakes import NOON_SHANGHAI, FakeLockers, build_world


def test_a_rider_with_an_order_is_granted_a_pass_and_a_route(api):
    reply = api.post_entry()

    assert reply.status_code == 201
    entry = reply.json
    assert reply.headers["Location"] == f"/api/v1/entries/{entry['id']}"
    assert entry["decision"] == "granted"
    assert entry["reasons"] == []
    assert entry["pass"] == {
        "kind": "qr",
        "value": "QR-1",
        "valid_from": "2026-01-05T04:00:00+00:00",
        "valid_until": "2026-01-05T04:15:00+00:00",
        "revoked_at": None,
    }
    assert entry["locker"] is None
    # The order goes to building "3": the community's 3号楼, and the parking area nearest it.
    assert entry["route"] == {
        "building": {"id": "b3", "name": "3号楼", "door_no": "3"},
        "parking": {"id": "parking-north", "name": "北门停车区", "notes": "北门内侧"},
        "locker": None,
    }
    assert entry["community"] == "c1" and entry["gate"] == "g1"
    assert isinstance(entry["decision_ms"], float)
    assert entry["exited_at"] is None


def test_a_rider_without_an_order_is_denied_with_reasons_in_both_languages(api):
    api.world.platform.orders["R1"] = []

    reply = api.post_entry()

    assert reply.status_code == 201
    assert reply.json["decision"] == "denied"
    [reason] = reply.json["reasons"]
    assert reason["code"] == "no_active_order"
    assert reason["zh"] and reason["en"]
    assert reply.json["pass"] is None
    assert reply.json["route"] == {"building": None, "parking": None, "locker": None}


def test_a_platform_that_is_down_gives_a_manual_check(api):
    api.world.platform.fail["hub_verify_rider"] = UpstreamError("platform down")

    reply = api.post_entry()

    assert reply.status_code == 201
    assert reply.json["decision"] == "manual_check"
    assert reply.json["reasons"][0]["code"]
    assert reply.json["pass"] is None
    # The rider waits for a guard: where to leave the e-bike still helps.
    assert reply.json["route"]["parking"]["id"] == "parking-north"


def test_a_lockers_only_community_answers_with_a_compartment(tmp_path):
    lockers = FakeLockers()
    world = build_world(tmp_path, CommunityPolicy(lockers_only=True), extra_plugins=[lockers])
    world.store.add_connection(Connection("lockers", "fakelockers", "Locker bank"), (), ["c1"])
    api = make_api(world, tmp_path)
    try:
        reply = api.post_entry()
    finally:
        world.engine.close()
        world.store.dispose()

    assert reply.json["decision"] == "granted"
    assert reply.json["pass"] is None
    locker = {"bank": "lockers", "compartment": "1", "code": "901", "valid_until": None}
    assert reply.json["locker"] == locker
    assert reply.json["route"]["locker"] == locker


def test_reading_an_entry_gives_the_same_reply(api):
    created = api.post_entry().json

    reply = api.client.get(f"/api/v1/entries/{created['id']}", headers=api.headers())

    assert reply.status_code == 200
    assert reply.json == created


def test_reading_an_unknown_entry_is_a_404_in_the_error_format(api):
    reply = api.client.get("/api/v1/entries/nope", headers=api.headers())

    assert reply.status_code == 404
    assert reply.json == {
        "error": {
            "code": "entry_not_found",
            "message": "no entry with this id is visible to this API key",
            "details": {},
        }
    }


# -- idempotency -------------------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_replays_the_entry_with_200(api):
    first = api.post_entry(idempotency_key="retry-1")
    calls = api.world.platform.calls.upstream
    counts = api.counts()

    again = api.post_entry(idempotency_key="retry-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert api.world.platform.calls.upstream == calls
    assert api.counts() == counts


def test_the_same_idempotency_key_with_another_body_is_refused_with_422(api):
    api.post_entry(idempotency_key="retry-1")
    counts = api.counts()

    reply = api.post_entry(api.entry_body(order_ref="O9"), idempotency_key="retry-1")

    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "idempotency_key_reused"
    assert api.counts() == counts


def test_idempotency_keys_of_two_api_keys_do_not_collide(api):
    other = api.new_key("platform-a-backup", ("plat",), ("c1",))

    mine = api.post_entry(idempotency_key="retry-1")
    theirs = api.post_entry(key=other, idempotency_key="retry-1")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"]


def test_without_an_idempotency_key_every_post_is_a_new_entry(api):
    assert api.post_entry().json["id"] != api.post_entry().json["id"]


# -- exit ----------------------------------------------------------------------------------


def exit_entry(api, entry_id: str, **kwargs):
    return api.client.post(f"/api/v1/entries/{entry_id}/exit", headers=api.headers(), **kwargs)


def test_exit_records_the_time_and_revokes_the_pass_at_the_device(api):
    entry = api.post_entry().json
    api.world.clock.advance(minutes=4)

    reply = exit_entry(api, entry["id"])

    assert reply.status_code == 200
    left = NOON_SHANGHAI + timedelta(minutes=4)
    assert reply.json["exited_at"] == left.isoformat()
    assert reply.json["pass"]["valid_until"] == left.isoformat()
    assert reply.json["pass"]["revoked_at"] == left.isoformat()
    assert api.world.gate_ctl.revoked == [entry["id"]]
    assert api.audit_actions()[-2:] == ["entry.exited", "access.revoked"]


def test_a_second_exit_keeps_the_first_time_and_does_not_ask_the_device_again(api):
    entry = api.post_entry().json
    first = exit_entry(api, entry["id"]).json
    audit = api.audit_actions()
    api.world.clock.advance(minutes=3)

    again = exit_entry(api, entry["id"])

    assert again.status_code == 200
    assert again.json["exited_at"] == first["exited_at"]
    assert api.world.gate_ctl.revoked == [entry["id"]]
    assert api.audit_actions() == audit


def test_a_device_failure_at_exit_is_audited_and_the_pass_still_ends(api):
    entry = api.post_entry().json
    api.world.gate_ctl.revoke_fail = UpstreamError("controller offline")

    reply = exit_entry(api, entry["id"])

    assert reply.status_code == 200
    assert reply.json["pass"]["valid_until"] == reply.json["exited_at"]
    assert reply.json["pass"]["revoked_at"] is None  # left for the expiry job
    assert api.audit_actions()[-2:] == ["entry.exited", "access.revoked.failed"]

    api.world.gate_ctl.revoke_fail = None
    retried = exit_entry(api, entry["id"])
    assert retried.json["pass"]["revoked_at"] is not None
    assert retried.json["exited_at"] == reply.json["exited_at"]


def test_a_guards_pass_ends_at_exit_with_no_device_to_ask(api):
    entry = api.post_entry(api.entry_body(gate_code=api.sign("east-code"))).json
    assert entry["pass"]["kind"] == "guard"

    reply = exit_entry(api, entry["id"])

    assert reply.json["pass"]["revoked_at"] == reply.json["exited_at"]
    assert api.world.gate_ctl.calls.count["hub_revoke_access"] == 0
    assert api.audit_actions()[-2:] == ["entry.exited", "pass.revoked"]


def test_exit_of_a_denied_entry_records_the_time_only(api):
    api.world.platform.orders["R1"] = []
    entry = api.post_entry().json

    reply = exit_entry(api, entry["id"])

    assert reply.status_code == 200
    assert reply.json["exited_at"] is not None
    assert reply.json["pass"] is None
    assert api.world.gate_ctl.calls.count["hub_revoke_access"] == 0


def test_exit_takes_an_empty_json_object_as_its_body(api):
    entry = api.post_entry().json

    assert exit_entry(api, entry["id"], json={}).status_code == 200


def test_exit_of_an_unknown_entry_is_a_404_and_writes_nothing(api):
    counts = api.counts()

    reply = exit_entry(api, "nope")

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "entry_not_found"
    assert api.counts() == counts
