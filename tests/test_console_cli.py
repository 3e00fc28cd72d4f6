"""``last100 users ...``: create, list, disable, enable, reset-password and totp, run
in-process with click's runner against a real instance folder."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.core.config import load_config
from hub.core.store import Store
from hub.core.users import check_password, hash_password

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("LAST100_") and key not in {"LAST100_TEST_POSTGRES_URL", "LAST100_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(key)
    instance = tmp_path / "instance"

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], input=input, catch_exceptions=False)

    assert run("init").exit_code == 0
    assert run("communities", "add", "sunny", "--name", "Sunny").exit_code == 0
    assert run("gates", "add", "north", "--community", "sunny", "--name", "North", "--code", "n1").exit_code == 0
    run.instance = instance
    return run


@pytest.fixture
def store(cli):
    config = load_config(cli.instance)
    opened = Store(config.effective_database_url, config.secret_keys)
    yield opened
    opened.dispose()


def create(cli, username: str, *args: str):
    result = cli("users", "create", username, *args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return result


def test_users_list_shows_roles_scope_and_state_but_no_secrets(cli, store):
    create(cli, "olga", "--role", "operator")
    create(cli, "gus", "--role", "guard", "--community", "sunny", "--gate", "north")

    result = cli("users", "list")

    assert result.exit_code == 0
    lines = [line.split() for line in result.output.splitlines()]
    assert lines[0] == ["USERNAME", "ROLE", "COMMUNITIES", "GATES", "TOTP", "STATUS", "CREATED"]
    assert [line[:6] for line in lines[1:]] == [
        ["gus", "guard", "sunny", "north", "no", "active"],
        ["olga", "operator", "*", "-", "no", "active"],
    ]
    assert "argon2" not in result.output
    assert store.get_user("gus").gate_ids == frozenset({"north"})


def test_only_a_guard_is_narrowed_to_gates_of_their_communities(cli):
    manager = cli(
        "users",
        "create",
        "m",
        "--role",
        "manager",
        "--community",
        "sunny",
        "--gate",
        "north",
        input=f"{PASSWORD}\n" * 2,
    )
    assert manager.exit_code == 2 and "only a guard" in manager.output
    cli("communities", "add", "other", "--name", "Other")
    stray = cli(
        "users", "create", "g", "--role", "guard", "--community", "other", "--gate", "north", input=f"{PASSWORD}\n" * 2
    )
    assert stray.exit_code == 2 and "not in the user's communities" in stray.output


def test_disable_and_enable_a_user(cli, store):
    create(cli, "anna", "--role", "manager", "--community", "sunny")

    result = cli("users", "disable", "anna")

    assert result.exit_code == 0 and result.output.strip() == "Disabled anna (0 session(s) ended)"
    assert store.get_user("anna").disabled is True
    assert "disabled" in cli("users", "list").output
    assert cli("users", "enable", "anna").exit_code == 0
    assert store.get_user("anna").disabled is False
    actions = [r.action for r in store.list_audit(limit=50) if r.subject == "anna"]
    assert actions[:3] == ["user.enabled", "user.disabled", "user.created"]


def test_reset_password_prompts_twice_and_ends_the_users_sessions(cli, store):
    create(cli, "anna", "--role", "manager", "--community", "sunny")
    user = store.get_user("anna")
    store.start_console_session("a" * 64, user.id, "127.0.0.1")

    mismatch = cli("users", "reset-password", "anna", input="a brand new password\nanother one entirely\n")
    assert mismatch.exit_code != 0
    result = cli("users", "reset-password", "anna", input="a brand new password\n" * 2)

    assert result.exit_code == 0, result.output
    assert "Password: \nRepeat for confirmation: " in result.output
    assert "New password set for anna (1 session(s) ended)" in result.output
    assert check_password(store.login_record("anna").password_hash, "a brand new password")
    assert store.console_session("a" * 64).end_reason == "password_reset"


def test_unknown_users_are_named_in_the_error(cli):
    for command in (["disable"], ["enable"], ["reset-password", "--password", "x" * 12], ["totp"]):
        result = cli("users", *command, "nobody")
        assert result.exit_code == 1 and "user 'nobody' not found" in result.output, command


def test_totp_prints_the_provisioning_uri_once_and_stores_the_secret_encrypted(cli, store):
    create(cli, "olga", "--role", "operator")

    result = cli("users", "totp", "olga")

    assert result.exit_code == 0
    [uri] = re.findall(r"otpauth://\S+", result.output)
    parts = urlsplit(uri)
    assert parts.path == "/Last100%20Hub:olga"
    secret = parse_qs(parts.query)["secret"][0]
    assert store.login_record("olga").totp_secret == secret
    with store.transaction() as session:
        from sqlalchemy import text

        (sealed,) = session.execute(text("SELECT totp_secret FROM users WHERE username = 'olga'")).one()
    assert secret not in sealed
    assert "olga" in cli("users", "list").output and " yes " in cli("users", "list").output
    assert pyotp.TOTP(secret).now().isdigit()
    assert cli("users", "totp", "olga", "--remove").exit_code == 0
    assert store.login_record("olga").totp_secret is None
    actions = [r.action for r in store.list_audit(limit=50) if r.subject == "olga"]
    assert actions[:2] == ["user.totp_removed", "user.totp_set"]
    assert secret not in str([r.data for r in store.list_audit(limit=50)])


def test_the_demo_admin_is_an_operator_created_once(tmp_path):
    from hub.core.secrets import generate_key
    from hub.demo import DEMO_ADMIN, seed_admin

    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()])
    store.upgrade()
    try:
        password = seed_admin(store)
        assert password and seed_admin(store) is None
        record = store.login_record(DEMO_ADMIN)
        assert record.account.role == "operator" and check_password(record.password_hash, password)
        assert hash_password(password) != record.password_hash  # salted
    finally:
        store.dispose()
