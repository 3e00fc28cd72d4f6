"""The ``last100`` command, run in-process with click's runner and, for the servers, as a
real process answering on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from hub.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Runs ``last100 --instance <tmp> ...`` and returns the result."""
    for key in list(os.environ):
        if key.startswith("LAST100_") and key not in {"LAST100_TEST_POSTGRES_URL", "LAST100_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(key)
    instance = tmp_path / "instance"

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], input=input, catch_exceptions=False)

    run.instance = instance
    return run


@pytest.fixture
def ready(cli):
    assert cli("init").exit_code == 0
    return cli


def test_init_writes_a_private_config_with_keys_and_migrates(cli):
    result = cli("init")

    assert result.exit_code == 0, result.output
    config = cli.instance / "last100.toml"
    values = tomllib.loads(config.read_text())
    assert values["secret_keys"] and values["secret_key"]
    assert config.stat().st_mode & 0o077 == 0
    assert "Ready: database at revision" in result.output
    assert (cli.instance / "last100.sqlite").exists()


def test_init_twice_keeps_the_existing_config(ready):
    before = (ready.instance / "last100.toml").read_text()
    result = ready("init")
    assert result.exit_code == 0
    assert "already exists" in result.output
    assert (ready.instance / "last100.toml").read_text() == before


def test_db_upgrade_reports_the_revision(ready):
    result = ready("db", "upgrade")
    assert result.exit_code == 0
    assert "Database at revision" in result.output


def test_commands_needing_keys_say_how_to_get_them(cli):
    result = cli("communities", "list")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: no secret_keys configured: run 'last100 init'")


def test_plugins_json_lists_the_builtins_with_their_hooks(cli):
    result = cli("plugins", "--json")

    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.output)["plugins"]}
    assert {"default-policy", "verification-cache", "resilience", "timing", "audit", "manual-check-fallback"} <= set(
        plugins
    )
    assert "hub_evaluate_entry" in plugins["default-policy"]["hooks"]
    assert "hub_verify_rider" in plugins["verification-cache"]["hooks"]
    assert all(p["source"] == "builtin" and "core" in p["kinds"] for p in plugins.values())


def test_plugins_table(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split() == ["NAME", "VERSION", "KINDS", "SOURCE", "HOOKS"]


def test_community_gate_and_connection_management(ready):
    assert (
        ready("communities", "add", "sunny", "--name", "阳光花园", "--opening", "06:00", "--closing", "23:30").exit_code
        == 0
    )
    listing = ready("communities", "list").output
    assert "sunny" in listing and "06:00-23:30" in listing

    result = ready("gates", "add", "north", "--community", "sunny", "--name", "北门", "--code", "sunny-north")
    assert result.exit_code == 0, result.output
    assert "sunny-north" in ready("gates", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["communities", "add", "x", "--name", "X", "--timezone", "Mars/Olympus"], "not a known timezone"),
        (["communities", "add", "x", "--name", "X", "--opening", "25:00", "--closing", "06:00"], "not a time like"),
        (["communities", "add", "x", "--name", "X", "--opening", "06:00"], "give both --opening and --closing"),
        (["gates", "add", "g", "--community", "nowhere", "--name", "G", "--code", "c"], "nowhere"),
        (["connections", "add", "c", "--plugin", "nosuch", "--name", "C"], "no plugin named 'nosuch'"),
        (["connections", "add", "c", "--plugin", "timing", "--name", "C", "--setting", "oops"], "is not KEY=VALUE"),
        (["connections", "add", "c", "--plugin", "timing", "--name", "C", "--setting", "a=1"], "takes no settings"),
        (["enter", "--gate", "g", "--connection", "c"], "exactly one of --token"),
    ],
)
def test_wrong_input_gives_a_one_line_error_and_changes_nothing(ready, args, message):
    before = ready("communities", "list").output

    result = ready(*args)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert ready("communities", "list").output == before


def test_duplicate_community_is_refused(ready):
    ready("communities", "add", "sunny", "--name", "A")
    result = ready("communities", "add", "sunny", "--name", "B")
    assert result.exit_code == 1
    assert "sunny" in result.output


def test_users_create_hashes_the_password_with_argon2id(ready):
    ready("communities", "add", "sunny", "--name", "A")
    result = ready(
        "users", "create", "mgr", "--role", "manager", "--community", "sunny", input="correct horse battery\n" * 2
    )

    assert result.exit_code == 0, result.output
    from hub.core.config import load_config
    from hub.core.store import Store

    config = load_config(ready.instance)
    store = Store(config.effective_database_url, config.secret_keys)
    with store.transaction() as session:
        from sqlalchemy import text

        (stored,) = session.execute(text("SELECT password_hash FROM users WHERE username = 'mgr'")).one()
    store.dispose()
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_users_create_refuses_a_short_password_and_a_manager_without_community(ready):
    short = ready("users", "create", "op", "--role", "operator", input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    lonely = ready("users", "create", "m", "--role", "manager", input="long enough password\n" * 2)
    assert lonely.exit_code != 0 and "needs at least one --community" in lonely.output


def test_demo_instance_matches_the_shipped_demo_config(cli):
    result = cli("demo", "--no-serve")

    assert result.exit_code == 0, result.output
    shipped = tomllib.loads((ROOT / "config" / "demo.toml").read_text())
    written = tomllib.loads((cli.instance / "last100.toml").read_text())
    assert {k: written[k] for k in shipped} == shipped


def test_demo_entries_through_the_cli(cli):
    assert cli("demo", "--no-serve").exit_code == 0

    granted = cli(
        "enter", "--gate", "sunny-north", "--connection", "demo-platform", "--token", "demo-rider-1", "--json"
    )
    no_order = cli(
        "enter", "--gate", "sunny-north", "--connection", "demo-platform", "--token", "demo-rider-2", "--json"
    )
    suspended = cli(
        "enter", "--gate", "sunny-north", "--connection", "demo-platform", "--token", "demo-rider-3", "--json"
    )

    assert json.loads(granted.output)["decision"] == "granted"
    assert json.loads(granted.output)["pass"]["kind"] == "qr"
    assert [r["code"] for r in json.loads(no_order.output)["reasons"]] == ["no_active_order"]
    assert [r["code"] for r in json.loads(suspended.output)["reasons"]] == ["rider_suspended"]


def test_demo_twice_reuses_the_seeded_instance(cli):
    cli("demo", "--no-serve")
    again = cli("demo", "--no-serve")
    assert again.exit_code == 0
    assert "already there" in again.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read()}")
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_server_answers_on_localhost(tmp_path, command):
    instance = tmp_path / "instance"
    last100 = [sys.executable, "-m", "hub.cli", "--instance", str(instance)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAST100_")}
    if command == "serve":
        subprocess.run([*last100, "init"], check=True, env=env, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*last100, command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200
        assert ("Sunny Garden" in page.text) is (command == "demo")
        assert page.headers["Server"] == "last100"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_keys_rotate_re_encrypts_with_the_new_first_key(cli):
    assert cli("demo", "--no-serve").exit_code == 0
    config_file = cli.instance / "last100.toml"
    old_key = tomllib.loads(config_file.read_text())["secret_keys"][0]
    new_key = cli("keys", "generate").output.strip()
    text = config_file.read_text().replace(f'["{old_key}"]', f'["{new_key}", "{old_key}"]')
    config_file.write_text(text)

    result = cli("keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "1 connection(s) now use the first key" in result.output  # the demo platform has a secret
    config_file.write_text(text.replace(f', "{old_key}"', ""))
    listing = cli("connections", "list")
    assert listing.exit_code == 0 and "demo-platform" in listing.output
    granted = cli("enter", "--gate", "sunny-north", "--connection", "demo-platform", "--token", "demo-rider-1")
    assert granted.output.startswith("GRANTED")
