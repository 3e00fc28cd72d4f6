"""Connection secrets: encrypted at rest, decrypted on read, rotated with the keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.db import ConnectionRow
from hub.core.model import Connection
from hub.core.secrets import SecretBox, SecretsError, generate_key
from tests.storage.builders import APP_SECRET, make_platform, seed


def _raw(store, connection_id):
    with store.transaction() as session:
        return session.execute(
            select(ConnectionRow.settings, ConnectionRow.secrets).where(ConnectionRow.id == connection_id)
        ).one()


def test_a_box_opens_what_it_sealed():
    box = SecretBox([generate_key()])

    token = box.encrypt({"app_secret": APP_SECRET}, owner="connection x")

    assert APP_SECRET not in token
    assert box.decrypt(token, owner="connection x") == {"app_secret": APP_SECRET}


def test_an_invalid_key_is_named_by_position_without_echoing_it():
    bad = "not-a-fernet-key-but-close-enough"

    with pytest.raises(SecretsError, match="key 2 is not a valid Fernet key") as raised:
        SecretBox([generate_key(), bad])

    assert bad not in str(raised.value)


def test_the_repr_of_a_box_shows_no_keys():
    key = generate_key()

    assert repr(SecretBox([key, generate_key()])) == "SecretBox(2 keys)"
    assert key not in repr(SecretBox([key]))


def test_keys_given_as_one_string_are_refused():
    with pytest.raises(TypeError, match="list of keys, not one string"):
        SecretBox(generate_key())


def test_secrets_without_configured_keys_fail_clearly():
    with pytest.raises(SecretsError, match="connection x has secret settings but no LAST100_SECRET_KEYS"):
        SecretBox([]).encrypt({"k": "v"}, owner="connection x")


def test_secret_settings_are_encrypted_at_rest(seeded):
    settings, secrets = _raw(seeded, "plat")

    assert settings == {"base_url": "https://acme.example"}
    assert secrets is not None and APP_SECRET not in secrets


def test_settings_and_secrets_read_back_merged(seeded):
    assert seeded.get_connection("plat") == make_platform()
    assert [c.settings["app_secret"] for c in seeded.list_connections() if c.id == "plat"] == [APP_SECRET]


def test_a_connection_without_secret_settings_stores_no_token(seeded):
    assert _raw(seeded, "gatectl").secrets is None
    assert seeded.get_connection("gatectl").settings == {}


def test_secrets_are_not_in_the_repr_of_a_connection(seeded):
    assert APP_SECRET not in repr(seeded.get_connection("plat"))


def test_an_old_key_listed_second_still_decrypts(make_store):
    old, new = generate_key(), generate_key()
    before = make_store([old])
    before.upgrade()
    seed(before)

    after = make_store([new, old])

    assert after.get_connection("plat").settings["app_secret"] == APP_SECRET


def test_resaving_a_connection_encrypts_it_with_the_new_key(make_store):
    old, new = generate_key(), generate_key()
    before = make_store([old])
    before.upgrade()
    seed(before)
    rotating = make_store([new, old])

    rotating.update_connection(rotating.get_connection("plat"), secret_names={"app_secret"})

    assert make_store([new]).get_connection("plat").settings["app_secret"] == APP_SECRET


def test_rotate_secrets_re_encrypts_every_connection_with_the_new_key(make_store):
    old, new = generate_key(), generate_key()
    before = make_store([old])
    before.upgrade()
    seed(before)
    before.add_connection(
        Connection("plat2", "acme", "Second account", {"app_secret": "other"}), secret_names={"app_secret"}
    )

    assert make_store([new, old]).rotate_secrets() == 2

    only_new = make_store([new])
    assert [c.settings.get("app_secret") for c in only_new.list_connections()] == [None, APP_SECRET, "other"]


def test_a_wrong_key_gives_a_clear_error_without_the_secret(make_store):
    right = make_store([generate_key()])
    right.upgrade()
    seed(right)

    with pytest.raises(SecretsError) as raised:
        make_store([generate_key()]).get_connection("plat")

    message = str(raised.value)
    assert message.startswith("connection plat's secrets cannot be decrypted with the configured LAST100_SECRET_KEYS")
    assert APP_SECRET not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
