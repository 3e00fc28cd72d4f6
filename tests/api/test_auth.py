"""API keys: who may call the API, and what each key may do."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.core import apikeys


def entries(api, **kwargs):
    return api.client.post("/api/v1/entries", json=api.entry_body(), **kwargs)


def assert_unauthorized(reply):
    assert reply.status_code == 401
    assert reply.json["error"]["code"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_request_without_a_key_is_refused_with_a_bearer_challenge(api):
    counts = api.counts()

    reply = entries(api)

    assert_unauthorized(reply)
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="last100"'
    assert api.counts() == counts


@pytest.mark.parametrize(
    "presented",
    [
        "not-a-key",
        "l100_000000000000_" + "A" * 43,  # well formed, unknown prefix
        "Basic dXNlcjpwYXNz",
    ],
    ids=["malformed", "unknown", "basic-auth"],
)
def test_a_wrong_key_is_refused(api, presented):
    reply = entries(api, headers={"Authorization": presented if " " in presented else f"Bearer {presented}"})

    assert_unauthorized(reply)


def test_a_key_with_a_wrong_secret_is_refused(api):
    prefix, _secret = apikeys.parse(api.key)
    forged = f"l100_{prefix}_{'B' * 43}"

    reply = entries(api, headers={"Authorization": f"Bearer {forged}"})

    assert_unauthorized(reply)
    assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]


def test_a_revoked_key_is_refused_at_once(api):
    api.world.store.revoke_api_key("platform-a", actor="test")

    assert_unauthorized(entries(api, headers=api.headers()))


def test_the_key_may_come_in_the_x_api_key_header(api):
    reply = entries(api, headers={"X-Api-Key": api.key})

    assert reply.status_code == 201


def test_keys_are_stored_hashed_and_marked_used(api):
    prefix, secret = apikeys.parse(api.key)
    with api.world.store.transaction() as session:
        stored = session.execute(text("SELECT prefix, secret_hash FROM api_keys WHERE name = 'platform-a'")).one()
    assert stored.prefix == prefix
    assert stored.secret_hash == apikeys.hash_secret(secret) != secret
    assert api.world.store.list_api_keys()[0].last_used_at is None

    entries(api, headers=api.headers())

    assert api.world.store.list_api_keys()[0].last_used_at == api.world.clock.now()


def test_a_connection_outside_the_keys_scope_is_forbidden(api):
    counts = api.counts()

    reply = api.post_entry(api.entry_body(connection="plat2", gate_code=api.sign("west-code")))

    assert reply.status_code == 403
    assert reply.json["error"]["code"] == "forbidden"
    assert api.counts() == counts


def test_a_gate_of_another_community_is_forbidden(api):
    key = api.new_key("all-platforms", ("*",), ("c1",))
    counts = api.counts()

    reply = api.post_entry(api.entry_body(gate_code=api.sign("west-code")), key=key)

    assert reply.status_code == 403
    assert api.counts() == counts


def test_an_empty_scope_allows_nothing(api):
    key = api.new_key("communities-only", (), ("c1",))

    assert api.post_entry(key=key).status_code == 403


def test_another_communitys_entry_is_not_found(api):
    theirs = api.new_key("platform-b", ("plat2",), ("c2",))
    api.world.platform.riders["tok-2"] = api.world.platform.riders["tok-1"]
    body = api.entry_body(connection="plat2", gate_code=api.sign("west-code"))
    body["credential"]["value"] = "tok-2"
    entry = api.post_entry(body, key=theirs)
    assert entry.status_code == 201

    for reply in (
        api.client.get(f"/api/v1/entries/{entry.json['id']}", headers=api.headers()),
        api.client.post(f"/api/v1/entries/{entry.json['id']}/exit", headers=api.headers()),
    ):
        assert reply.status_code == 404
        assert reply.json["error"]["code"] == "entry_not_found"
    assert api.world.store.get_entry(entry.json["id"]).exited_at is None


def test_another_platforms_entry_in_the_same_community_is_not_found(api):
    guard = api.new_key("guard-handheld", ("*",), ("c1",))
    entry = api.post_entry(key=guard).json
    other_platform = api.new_key("platform-c", ("plat2",), ("c1",))

    reply = api.client.get(f"/api/v1/entries/{entry['id']}", headers=api.headers(other_platform))

    assert reply.status_code == 404
    assert api.client.get(f"/api/v1/entries/{entry['id']}", headers=api.headers()).status_code == 200


def test_a_star_scope_allows_every_connection_and_community(api):
    key = api.new_key("operator", ("*",), ("*",))
    api.world.platform.riders["tok-2"] = api.world.platform.riders["tok-1"]
    body = api.entry_body(connection="plat2", gate_code=api.sign("west-code"))

    assert api.post_entry(body, key=key).status_code == 201
    assert api.client.get("/api/v1/communities/c2/profile", headers=api.headers(key)).status_code == 200


def test_an_unknown_connection_under_a_star_scope_is_a_404(api):
    key = api.new_key("operator", ("*",), ("*",))

    reply = api.post_entry(api.entry_body(connection="nowhere"), key=key)

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "connection_not_found"


@pytest.mark.parametrize(
    "gate_code",
    ["north-code", "north-code.forged-signature", "nowhere.abc"],
    ids=["unsigned", "forged", "garbage"],
)
def test_an_unsigned_or_forged_gate_code_is_not_found(api, gate_code):
    counts = api.counts()

    reply = api.post_entry(api.entry_body(gate_code=gate_code))

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "gate_not_found"
    assert api.counts() == counts


def test_the_openapi_document_and_pushes_need_no_key(api):
    assert api.client.get("/api/v1/openapi.json").status_code == 200
    # Refused by the push's own authentication (the fake platform takes no pushes), not by a key.
    reply = api.client.post("/api/v1/push/plat", json={"id": "e1"})
    assert reply.status_code == 400
    assert reply.json["error"]["code"] == "push_rejected"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/entries/x"),
        ("post", "/api/v1/entries/x/exit"),
        ("get", "/api/v1/communities/c1/profile"),
    ],
)
def test_every_other_route_needs_a_key(api, method, path):
    assert_unauthorized(getattr(api.client, method)(path))
