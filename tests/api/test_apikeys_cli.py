"""``last100 apikeys``: a key is printed once, listed without its secret, and revoked by
name or id."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.core import apikeys


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("LAST100_") and key not in {"LAST100_TEST_POSTGRES_URL", "LAST100_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(key)
    instance = tmp_path / "instance"

    def run(*args: str):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], catch_exceptions=False)

    assert run("init").exit_code == 0
    assert run("communities", "add", "sunny", "--name", "Sunny Garden").exit_code == 0
    return run


def test_create_prints_the_key_once_and_list_never_shows_it(cli):
    created = cli("apikeys", "create", "acme", "--connection", "*", "--community", "sunny")

    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert apikeys.parse(key) is not None
    listed = cli("apikeys", "list")
    assert listed.exit_code == 0
    assert "acme" in listed.output and "sunny" in listed.output and "never" in listed.output
    assert key.rsplit("_", 1)[-1] not in listed.output
    assert key.split("_")[1] in listed.output  # the prefix, to tell keys apart


@pytest.mark.parametrize("how", ["name", "id"])
def test_revoke_by_name_or_id(cli, how):
    cli("apikeys", "create", "acme", "--community", "sunny")
    target = "acme" if how == "name" else "1"

    revoked = cli("apikeys", "revoke", target)

    assert revoked.exit_code == 0, revoked.output
    assert "Revoked API key acme (id 1)" in revoked.output
    assert "revoked" in cli("apikeys", "list").output


def test_a_key_needs_a_scope_and_known_scopes(cli):
    assert cli("apikeys", "create", "acme").exit_code == 2

    unknown = cli("apikeys", "create", "acme", "--connection", "nowhere")
    assert unknown.exit_code == 1
    assert "nowhere" in unknown.output


def test_a_taken_name_or_an_unknown_key_is_a_one_line_error(cli):
    cli("apikeys", "create", "acme", "--community", "sunny")

    taken = cli("apikeys", "create", "acme", "--community", "sunny")
    unknown = cli("apikeys", "revoke", "nobody")

    assert taken.exit_code == unknown.exit_code == 1
    assert "already exists" in taken.output
    assert "nobody" in unknown.output
