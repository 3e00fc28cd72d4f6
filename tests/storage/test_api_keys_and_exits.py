"""API keys, exits and the buildings of an entry's orders, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.core import apikeys
from hub.core.errors import Conflict, NotFound
from hub.core.trace import AuditAction
from tests.storage.builders import NOW, make_entry, make_order, save


def audit_actions(store) -> list[str]:
    with store.transaction() as session:
        return [row[0] for row in session.execute(text("SELECT action FROM audit_log ORDER BY id"))]


# -- API keys --------------------------------------------------------------------------


def test_a_created_key_authenticates_and_only_its_hash_is_stored(seeded, clock):
    key, secret = apikeys.create(seeded, "acme-backend", ["plat"], ["c1"])

    assert apikeys.authenticate(seeded, secret, clock.now()) == key
    with seeded.transaction() as session:
        stored = session.execute(text("SELECT * FROM api_keys")).mappings().one()
    # The secret part, whole (it may itself contain "_"): never stored, only its hash.
    _prefix, secret_part = apikeys.parse(secret)
    assert secret_part not in str(dict(stored))
    assert (key.connection_ids, key.community_ids) == ({"plat"}, {"c1"})
    assert audit_actions(seeded)[-1] == "apikey.created"


def test_a_key_is_marked_used_at_most_once_a_minute(seeded, clock):
    _key, secret = apikeys.create(seeded, "acme-backend", ["plat"], ["c1"])
    apikeys.authenticate(seeded, secret, clock.now())
    first = seeded.list_api_keys()[0].last_used_at

    clock.advance(seconds=30)
    apikeys.authenticate(seeded, apikeys.parse(secret) and secret, clock.now())
    assert seeded.list_api_keys()[0].last_used_at == first

    clock.advance(seconds=31)
    apikeys.authenticate(seeded, secret, clock.now())
    assert seeded.list_api_keys()[0].last_used_at == first + timedelta(seconds=61)


def test_a_revoked_key_no_longer_authenticates_and_revoking_twice_changes_nothing(seeded, clock):
    key, secret = apikeys.create(seeded, "acme-backend", ["*"], ["*"])

    revoked = seeded.revoke_api_key(str(key.id), actor="test")
    again = seeded.revoke_api_key("acme-backend", actor="test")

    assert revoked.revoked_at == again.revoked_at == clock.now()
    assert apikeys.authenticate(seeded, secret, clock.now()) is None
    assert audit_actions(seeded).count("apikey.revoked") == 1


def test_key_names_are_unique_and_scopes_must_exist(seeded):
    apikeys.create(seeded, "acme-backend", ["plat"], ["c1"])

    with pytest.raises(Conflict):
        apikeys.create(seeded, "acme-backend", ["plat"], ["c1"])
    with pytest.raises(NotFound, match="nowhere"):
        apikeys.create(seeded, "other", ["nowhere"], ["c1"])
    with pytest.raises(NotFound, match="c9"):
        apikeys.create(seeded, "other", ["plat"], ["c9"])


@pytest.mark.parametrize("name", ["", " leading space", "12345", "tab\tname", "x" * 101])
def test_unusable_key_names_are_refused(seeded, name):
    with pytest.raises(apikeys.ApiKeyError):
        apikeys.create(seeded, name, ["plat"], ["c1"])


def test_revoking_an_unknown_key_is_not_found(seeded):
    with pytest.raises(NotFound):
        seeded.revoke_api_key("nobody", actor="test")


# -- exits -----------------------------------------------------------------------------


def test_the_first_exit_is_recorded_and_ends_the_pass(seeded, clock):
    entry = save(seeded, make_entry())
    clock.advance(minutes=3)

    stored, first = seeded.record_exit(entry.id, "api:test")

    assert first is True
    assert stored.exited_at == NOW + timedelta(minutes=3)
    assert stored.access_pass.valid_until == NOW + timedelta(minutes=3)
    assert stored.pass_revoked_at is None
    assert audit_actions(seeded)[-1] == "entry.exited"


def test_a_second_exit_keeps_the_first_time(seeded, clock):
    entry = save(seeded, make_entry())
    seeded.record_exit(entry.id, "api:test")
    clock.advance(minutes=3)

    stored, first = seeded.record_exit(entry.id, "api:test")

    assert first is False
    assert stored.exited_at == NOW
    assert audit_actions(seeded).count("entry.exited") == 1


def test_exit_of_an_unknown_entry_is_not_found(seeded):
    with pytest.raises(NotFound):
        seeded.record_exit("nope", "api:test")


def test_a_confirmed_revocation_is_kept_with_its_audit_records(seeded, clock):
    entry = save(seeded, make_entry())
    action = AuditAction("access.revoked", "gatectl", entry.id, {"confirmed": True})

    seeded.record_pass_revocation(entry.id, confirmed=True, actions=[action], actor="api:test")
    clock.advance(minutes=1)
    seeded.record_pass_revocation(entry.id, confirmed=True, actions=[], actor="api:test")

    assert seeded.get_entry(entry.id).pass_revoked_at == NOW
    assert audit_actions(seeded)[-1] == "access.revoked"


def test_an_unconfirmed_revocation_leaves_the_pass_to_the_expiry_job(seeded):
    entry = save(seeded, make_entry())
    failed = AuditAction("access.revoked.failed", "gatectl", entry.id, {"error": "offline"})

    seeded.record_pass_revocation(entry.id, confirmed=False, actions=[failed], actor="api:test")

    assert seeded.get_entry(entry.id).pass_revoked_at is None
    assert audit_actions(seeded)[-1] == "access.revoked.failed"


# -- order buildings -------------------------------------------------------------------


def test_order_buildings_follow_the_refs_and_skip_unknown_or_empty_ones(seeded):
    seeded.upsert_order("plat", make_order(ref="O1", building="3号楼"), source="push")
    seeded.upsert_order("plat", make_order(ref="O2", building=""), source="push")
    seeded.upsert_order("plat", make_order(ref="O3", building="5"), source="push")

    assert seeded.order_buildings("plat", ["O3", "O2", "O9", "O1"]) == ["5", "3号楼"]
    assert seeded.order_buildings("other", ["O1"]) == []
    assert seeded.order_buildings("plat", []) == []
