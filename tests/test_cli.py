"""The ``last100`` command, run in-process with click's runner and, for the servers, as a
real process answering on loopback."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import psutil
import pytest
import requests
from click.testing import CliRunner

from hub.cli import main
from tests.secret_plugin import PASSWORD

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
    builtins = [p for p in plugins.values() if p["source"] == "builtin"]
    assert {p["name"] for p in builtins} == {
        "builtin-jobs",
        "default-policy",
        "verification-cache",
        "resilience",
        "timing",
        "audit",
        "manual-check-fallback",
    }
    assert all("core" in p["kinds"] for p in builtins)


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


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    output, _ = proc.communicate(timeout=10)
    return output


@pytest.fixture
def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LAST100_")}


def test_serve_options_size_the_served_runtime(ready, monkeypatch):
    """--threads reaches the runtime that serves, not only the server: the entry path's
    upstream pool is four threads per web thread."""
    from hub.web import server

    served = {}
    monkeypatch.setattr(server, "serve", lambda config, make_app, announce: served.update(app=make_app()))
    assert ready("serve", "--threads", "16").exit_code == 0
    runtime = served["app"].extensions["last100"]
    assert runtime.config.threads == 16
    assert runtime.engine._pool._max_workers == 64
    assert runtime.engine._bulkheads.limit == 32


def test_serve_answers_on_localhost(tmp_path, clean_env):
    last100 = [sys.executable, "-m", "hub.cli", "--instance", str(tmp_path / "instance")]
    subprocess.run([*last100, "init"], check=True, env=clean_env, capture_output=True)
    port = _free_port()
    proc = _start([*last100, "serve", "--port", str(port)], clean_env)
    try:
        health = _wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and page.headers["Server"] == "last100"
        assert "last100 communities add" in page.text
    finally:
        _stop(proc)


def test_serve_with_several_workers_runs_gunicorn_processes(tmp_path, clean_env):
    last100 = [sys.executable, "-m", "hub.cli", "--instance", str(tmp_path / "instance")]
    subprocess.run([*last100, "init"], check=True, env=clean_env, capture_output=True)
    port = _free_port()
    proc = _start([*last100, "serve", "--port", str(port), "--workers", "2", "--threads", "4"], clean_env)
    try:
        assert _wait_for(f"http://127.0.0.1:{port}/healthz", proc).json()["status"] == "ok"
        deadline = time.monotonic() + 30
        while len(psutil.Process(proc.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # the second worker may still be starting
        assert len(psutil.Process(proc.pid).children()) == 2
        # Both workers answer (each built its own runtime after the fork).
        answers = [requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5) for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
    finally:
        output = _stop(proc)
    assert "with 2 processes × 4 threads" in output
    assert proc.returncode == 0, output


def test_several_workers_are_replaced_after_their_requests_and_none_is_lost(tmp_path, clean_env):
    last100 = [sys.executable, "-m", "hub.cli", "--instance", str(tmp_path / "instance")]
    subprocess.run([*last100, "init"], check=True, env=clean_env, capture_output=True)
    port = _free_port()
    env = {**clean_env, "LAST100_WORKER_MAX_REQUESTS": "20"}
    proc = _start([*last100, "serve", "--port", str(port), "--workers", "2", "--threads", "2"], env)
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        master = psutil.Process(proc.pid)
        seen = {child.pid for child in master.children()}
        session = requests.Session()
        for _ in range(150):  # 2 workers × at most 22 requests each: several replacements
            assert session.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
            seen |= {child.pid for child in master.children()}
    finally:
        output = _stop(proc)
    assert len(seen) > 2, "no worker was replaced"
    assert "Autorestarting worker after current request" in output
    assert proc.returncode == 0, output


def test_serve_refuses_zero_workers_from_the_configuration(tmp_path, clean_env):
    instance = tmp_path / "instance"
    last100 = [sys.executable, "-m", "hub.cli", "--instance", str(instance)]
    subprocess.run([*last100, "init"], check=True, env=clean_env, capture_output=True)
    done = subprocess.run(
        [*last100, "serve"], env={**clean_env, "LAST100_WORKERS": "0"}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "workers must be 1 or more, not 0" in done.stderr


@pytest.fixture(scope="module")
def running_demo(tmp_path_factory):
    """``last100 demo`` as a user runs it: a real process serving the hub and the
    simulators of every installed adapter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAST100_")}
    instance = tmp_path_factory.mktemp("demo") / "last100-demo"
    port = _free_port_block(8)
    proc = _start([sys.executable, "-m", "hub.cli", "--instance", str(instance), "demo", "--port", str(port)], env)
    try:
        printed = _read_until(proc, "Serving on")
        # Keep reading what the demo logs, so a full pipe never blocks it.
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        _wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        yield instance, port, env, printed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _read_until(proc: subprocess.Popen, marker: str) -> str:
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            return "".join(lines)
    raise AssertionError("the demo stopped early:\n" + "".join(lines))


def _free_port_block(size: int) -> int:
    """A port with ``size - 1`` free ports after it (the demo's simulators take them)."""
    for _ in range(50):
        base = _free_port()
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


def _demo_cli(instance, env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "--instance", str(instance), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_demo_serves_the_seeded_community_on_localhost(running_demo):
    _instance, port, _env, _printed = running_demo
    page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert page.status_code == 200
    assert "Sunny Garden" in page.text


def test_demo_runs_the_scheduled_jobs_holding_the_scheduler_lock(running_demo):
    instance, _port, env, printed = running_demo
    assert "Running the scheduled jobs in this process" in printed
    listed = json.loads(_demo_cli(instance, env, "jobs", "list", "--json").stdout)
    assert listed["scheduler"] is not None and listed["jobs"]
    second = _demo_cli(instance, env, "scheduler", "--no-wait")
    assert second.returncode == 1
    assert f"another scheduler ({listed['scheduler']['holder']}, since " in second.stderr


def test_demo_instance_matches_the_shipped_demo_config(running_demo):
    instance, _port, _env, _printed = running_demo
    shipped = tomllib.loads((ROOT / "config" / "demo.toml").read_text())
    written = tomllib.loads((instance / "last100.toml").read_text())
    assert {k: written[k] for k in shipped} == shipped


@pytest.mark.parametrize("platform", ["riderpass", "meituan", "eleme"])
def test_demo_entries_go_through_each_platforms_simulator(running_demo, platform):
    instance, _port, env, _printed = running_demo
    connection = f"demo-{platform}"

    def enter(token: str) -> dict:
        result = _demo_cli(
            instance, env, "enter", "--gate", "sunny-north", "--connection", connection, "--token", token, "--json"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    granted, no_order, suspended = enter("demo-rider-1"), enter("demo-rider-2"), enter("demo-rider-3")

    assert granted["decision"] == "granted", granted
    assert granted["pass"]["kind"] == "qr"
    assert {c["hook"]: c["outcome"] for c in granted["hook_calls"]}["hub_verify_rider"] == "ok"
    assert [r["code"] for r in no_order["reasons"]] == ["no_active_order"]
    assert [r["code"] for r in suspended["reasons"]] == ["rider_suspended"]


def test_demo_lists_the_adapters_as_platform_plugins(running_demo):
    instance, _port, env, _printed = running_demo
    plugins = {p["name"]: p for p in json.loads(_demo_cli(instance, env, "plugins", "--json").stdout)["plugins"]}
    for name in ("riderpass", "meituan", "eleme"):
        assert plugins[name]["kinds"] == ["platform"]
        assert plugins[name]["source"] == f"last100-{name}"


def test_keys_rotate_re_encrypts_with_the_new_first_key(ready):
    config_file = ready.instance / "last100.toml"
    config_file.write_text(config_file.read_text() + 'plugins = ["tests.secret_plugin:VaultPlugin"]\n')
    added = ready(
        "connections", "add", "vault-1", "--plugin", "vault", "--name", "V", "--setting", f"password={PASSWORD}"
    )
    assert added.exit_code == 0, added.output
    old_key = tomllib.loads(config_file.read_text())["secret_keys"][0]
    new_key = ready("keys", "generate").output.strip()
    config_file.write_text(config_file.read_text().replace(f'["{old_key}"]', f'["{new_key}", "{old_key}"]'))

    result = ready("keys", "rotate")

    assert result.exit_code == 0, result.output
    assert "1 connection(s) now use the first key" in result.output
    config_file.write_text(config_file.read_text().replace(f', "{old_key}"', ""))
    assert ready("connections", "test", "vault-1").output.strip() == "ok: password accepted"


def test_connection_whose_test_fails_is_not_saved(ready):
    config_file = ready.instance / "last100.toml"
    config_file.write_text(config_file.read_text() + 'plugins = ["tests.secret_plugin:VaultPlugin"]\n')

    result = ready("connections", "add", "vault-1", "--plugin", "vault", "--name", "V", "--setting", "password=wrong")

    assert result.exit_code == 1
    assert "connection test failed, nothing saved: password was refused" in result.output
    assert "vault-1" not in ready("connections", "list").output
    assert "wrong" not in ready("connections", "list").output


def test_connection_list_never_shows_secrets(ready):
    config_file = ready.instance / "last100.toml"
    config_file.write_text(config_file.read_text() + 'plugins = ["tests.secret_plugin:VaultPlugin"]\n')
    ready("connections", "add", "vault-1", "--plugin", "vault", "--name", "V", "--setting", f"password={PASSWORD}")
    assert PASSWORD not in ready("connections", "list").output


def test_set_policy_changes_only_what_is_given(ready):
    ready("communities", "add", "sunny", "--name", "A", "--opening", "06:00", "--closing", "23:00")

    result = ready("communities", "set-policy", "sunny", "--lockers-only", "--max-pass-minutes", "12")

    assert result.exit_code == 0, result.output
    from hub.core.config import load_config
    from hub.core.store import Store

    config = load_config(ready.instance)
    store = Store(config.effective_database_url, config.secret_keys)
    policy = store.get_community("sunny").policy
    store.dispose()
    assert (policy.lockers_only, policy.max_pass_minutes) == (True, 12)
    assert (policy.opening.hour, policy.closing.hour, policy.exit_grace_minutes) == (6, 23, 5)


def test_set_policy_of_an_unknown_community_is_an_error(ready):
    result = ready("communities", "set-policy", "nowhere", "--lockers-only")
    assert result.exit_code == 1
    assert "nowhere" in result.output


def test_ctrl_c_stops_the_demo_and_its_simulators_cleanly(tmp_path, clean_env):
    port = _free_port_block(8)
    args = [sys.executable, "-m", "hub.cli", "--instance", str(tmp_path / "demo"), "demo", "--port", str(port)]
    proc = _start(args, clean_env)
    _wait_for(f"http://127.0.0.1:{port}/healthz", proc)

    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=20)

    assert proc.returncode == 0, output
    assert "Stopped" in output
    assert "Console login (shown once): admin / " in output
    for simulator_port in range(port + 1, port + 8):
        with socket.socket() as s:
            s.bind(("127.0.0.1", simulator_port))  # free again


def test_the_demos_printed_curl_lets_a_rider_through_with_a_pass(running_demo):
    *_, printed = running_demo
    [command] = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
    args = shlex.split(command)
    url = args[args.index("POST") + 1]
    headers = dict(h.split(": ", 1) for h in (args[i + 1] for i, a in enumerate(args) if a == "-H"))

    reply = requests.post(url, data=args[args.index("-d") + 1], headers=headers, timeout=10)

    assert reply.status_code == 201, reply.text
    assert reply.json()["decision"] == "granted"
    assert reply.json()["pass"]["value"]


def test_the_demos_printed_rider_page_opens(running_demo):
    *_, printed = running_demo
    [url] = [line.strip() for line in printed.splitlines() if "/g/" in line]
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert "North gate" in page.text
