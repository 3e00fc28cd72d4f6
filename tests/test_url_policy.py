"""Where connections may send the hub (hub/core/urlpolicy.py): schemes, credentials in
URLs and address ranges, checked when a connection is saved or tested (console and
command line), when a plugin makes its client, and on every HTTP connection opened —
the check that DNS rebinding and redirects cannot pass."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import marshmallow
import pytest
import requests
from click.testing import CliRunner
from marshmallow import fields

from hub import Health, PluginInfo, hookimpl
from hub.cli import main
from hub.core import urlpolicy
from hub.core.clients import load_settings
from hub.core.config import Config, ConfigError
from hub.core.errors import SettingsError
from hub.core.model import Connection
from hub.core.urlpolicy import UrlPolicy
from tests.console_world import build_console_world, csrf_of

INSIDE = "203.0.113.0/24"


def policy(*networks: str, schemes: tuple[str, ...] = ("https", "http")) -> UrlPolicy:
    return UrlPolicy(schemes, tuple(ipaddress.ip_network(n) for n in networks))


def names(table: dict[str, list[str]]):
    """A resolver from a table; fails the test on any other name."""

    def resolve(host: str, _port: int | None) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


@pytest.fixture(autouse=True)
def _process_policy() -> Iterator[None]:
    """Each test leaves the process's policy as it found it."""
    before = urlpolicy.current()
    yield
    urlpolicy.install(before)


class Settings(marshmallow.Schema):
    base_url = fields.Url(required=True, require_tld=False)
    callback_url = fields.String(load_default="")
    push_url = fields.String(load_default="")
    name = fields.String(load_default="relay")


class RelayPlugin:
    """A plugin whose connection test calls its ``base_url``."""

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="relay", kinds={"access"}, version="1", settings_schema=Settings)

    @hookimpl
    def hub_check_connection(self, connection) -> Health:
        values = load_settings(Settings, connection)
        try:
            answer = requests.get(values["base_url"], timeout=2)
        except requests.RequestException as exc:
            return Health(ok=False, message=f"base_url cannot be reached ({exc})")
        return Health(ok=answer.ok, message=f"answered {answer.status_code}")


# -- schemes and credentials --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "uses file:, which is not allowed: use https or http (allowed_url_schemes)"),
        ("gopher://127.0.0.1:6379/_FLUSHALL", "uses gopher:, which is not allowed"),
        ("ftp://files.example/", "uses ftp:, which is not allowed"),
        ("platform.example/api", "has no scheme: use https or http"),
        ("https://user:pass@platform.example/", "must not carry a user name or password"),
        ("https://token@platform.example/", "must not carry a user name or password"),
        ("https:///path-only", "has no host"),
        ("http://[::1/", "is not a valid URL"),
    ],
)
def test_urls_are_refused_for_their_scheme_credentials_or_shape(url, problem):
    found = UrlPolicy().url_problem(url, resolve_names=False)
    assert found is not None and found.startswith(problem)


def test_allowed_urls_pass_and_schemes_follow_the_configuration():
    assert UrlPolicy().url_problem("https://platform.example:8443/v1", resolve_names=True) is None
    assert UrlPolicy().url_problem("HTTP://Device.Local/", resolve_names=True) is None
    https_only = UrlPolicy.from_config(Config(allowed_url_schemes=("https",)))
    assert "uses http:, which is not allowed: use https" in https_only.url_problem(
        "http://a.example", resolve_names=False
    )


# -- address ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://203.0.113.7/", True),
        ("https://169.254.169.254/latest/meta-data/", False),  # a cloud's metadata service
        ("http://127.0.0.1:5432/", False),
        ("http://[::1]/", False),
        ("http://[::ffff:203.0.113.7]/", True),  # IPv4-mapped: judged as the IPv4 address
        ("http://2130706433/", False),  # 127.0.0.1 written as one number
        ("http://0x7f.1/", False),  # and in hex
    ],
)
def test_literal_addresses_are_checked_without_a_lookup(url, allowed):
    problem = policy(INSIDE).url_problem(url, resolve_names=False, resolver=names({}))
    assert (problem is None) is allowed
    if not allowed:
        assert "outside allowed_upstream_networks (203.0.113.0/24)" in problem


def test_host_names_are_resolved_when_a_connection_is_saved():
    resolver = names({"platform.example": ["203.0.113.9"], "metadata.example": ["169.254.169.254"]})
    inside = policy(INSIDE)

    assert inside.url_problem("https://platform.example/", resolve_names=True, resolver=resolver) is None
    assert inside.url_problem("https://metadata.example/", resolve_names=True, resolver=resolver) == (
        "points at metadata.example, which is at 169.254.169.254, outside allowed_upstream_networks (203.0.113.0/24)"
    )
    assert "cannot be resolved" in inside.url_problem("https://nowhere.example/", resolve_names=True, resolver=resolver)
    # Without a lookup, a name passes: its connection is checked when it is opened.
    assert inside.url_problem("https://metadata.example/", resolve_names=False, resolver=resolver) is None


def test_without_ranges_any_address_is_allowed_and_nothing_is_looked_up():
    assert UrlPolicy().url_problem("http://127.0.0.1/", resolve_names=True, resolver=names({})) is None
    assert UrlPolicy().url_problem("http://somewhere.internal/", resolve_names=True, resolver=names({})) is None


def test_the_configuration_is_checked_and_names_the_setting():
    config = Config(allowed_upstream_networks=("10.20.0.0/16", "203.0.113.7"), allowed_url_schemes=("HTTPS",))
    read = UrlPolicy.from_config(config)
    assert read.schemes == ("https",)
    assert [str(n) for n in read.networks] == ["10.20.0.0/16", "203.0.113.7/32"]
    with pytest.raises(ConfigError, match=r"allowed_upstream_networks.*'10\.20\.0\.0/33'"):
        UrlPolicy.from_config(Config(allowed_upstream_networks=("10.20.0.0/33",)))
    with pytest.raises(ConfigError, match="allowed_url_schemes"):
        UrlPolicy.from_config(Config(allowed_url_schemes=()))
    with pytest.raises(ConfigError, match="allowed_url_schemes"):
        UrlPolicy.from_config(Config(allowed_url_schemes=("https://",)))


# -- a connection's settings --------------------------------------------------------------


def test_url_settings_are_found_by_field_type_and_by_name():
    settings = {
        "base_url": "https://a.example",
        "callback_url": "https://b.example",
        "push_url": "https://hub.example/push",
        "name": "https://not-a-url-setting.example",
        "health_url": "",
    }
    assert urlpolicy.url_settings(Settings, settings) == {
        "base_url": ("https://a.example", True),
        "callback_url": ("https://b.example", True),
        "push_url": ("https://hub.example/push", False),  # where the platform reaches the hub
    }


def test_a_setting_marked_not_upstream_is_held_to_the_schemes_only():
    class Marked(marshmallow.Schema):
        public_url = fields.Url(metadata={"upstream": False})

    problems = urlpolicy.settings_problems(
        Marked, {"public_url": "https://10.0.0.1/"}, policy(INSIDE), resolver=names({})
    )
    assert problems == {}
    problems = urlpolicy.settings_problems(Marked, {"public_url": "ftp://10.0.0.1/"}, policy(INSIDE))
    assert list(problems) == ["public_url"]


def test_every_refused_setting_is_named_in_one_error():
    settings = {"base_url": "gopher://x.example/", "callback_url": "https://169.254.169.254/", "push_url": ""}
    with pytest.raises(SettingsError) as caught:
        urlpolicy.check_settings(Settings, settings, "relay-1", policy(INSIDE), resolver=names({}))

    assert set(caught.value.errors) == {"base_url", "callback_url"}
    message = str(caught.value)
    assert message.startswith("invalid settings for connection relay-1: base_url uses gopher:")
    assert "callback_url points at 169.254.169.254" in message


def test_a_plugin_cannot_make_a_client_for_a_refused_url(monkeypatch):
    urlpolicy.install(policy(INSIDE))
    stored = Connection("relay-1", "relay", "Relay", {"base_url": "http://169.254.169.254/"})
    with pytest.raises(SettingsError, match=r"base_url points at 169\.254\.169\.254"):
        load_settings(Settings, stored)
    local_file = {"base_url": "https://203.0.113.5/", "callback_url": "file:///etc/shadow"}
    with pytest.raises(SettingsError, match="callback_url uses file:"):
        load_settings(Settings, Connection("relay-2", "relay", "Relay", local_file))

    def no_lookups(*_args, **_kwargs):
        raise AssertionError("load_settings must not look names up: it runs on the entry path")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    named = Connection("relay-3", "relay", "Relay", {"base_url": "https://platform.example/"})
    assert load_settings(Settings, named)["base_url"] == "https://platform.example/"


# -- the connections the process opens ----------------------------------------------------


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        target = self.server.redirect_to
        self.send_response(302 if target else 200)
        if target:
            self.send_header("Location", target)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture
def serve():
    """``serve(host, redirect_to=None)``: a small HTTP server on loopback; its port and
    the paths it was asked for."""
    servers = []

    def start(host: str = "127.0.0.1", redirect_to: str | None = None):
        server = ThreadingHTTPServer((host, 0), _Answer)
        server.seen, server.redirect_to = [], redirect_to
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_connections_outside_the_ranges_are_never_opened(serve):
    server = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}/ping"
    urlpolicy.install(policy("127.0.0.1/32"))
    assert requests.get(url, timeout=2).text == "ok"

    urlpolicy.install(policy(INSIDE))
    with pytest.raises(requests.ConnectionError, match="outside allowed_upstream_networks"):
        requests.get(url, timeout=2)

    assert server.seen == ["/ping"]  # the refused request never reached it


def test_a_name_that_resolves_elsewhere_later_is_refused_when_connecting(serve, monkeypatch):
    """DNS rebinding: the name pointed inside when the connection was saved, and
    points at 127.0.0.2 when the hub calls it."""
    server = serve()
    port = server.server_address[1]
    inside = policy("127.0.0.1/32")
    urlpolicy.install(inside)
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            address = next(answers)[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] if args else 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    assert inside.url_problem(f"http://rebind.example:{port}/", resolve_names=True) is None  # saved: fine

    with pytest.raises(requests.ConnectionError, match=r"rebind\.example is at 127\.0\.0\.2, outside"):
        requests.get(f"http://rebind.example:{port}/", timeout=2)
    assert server.seen == []


def test_a_redirect_to_an_address_outside_the_ranges_is_not_followed(serve):
    inner = serve("127.0.0.2")
    outer = serve(redirect_to=f"http://127.0.0.2:{inner.server_address[1]}/secret")
    urlpolicy.install(policy("127.0.0.1/32"))

    with pytest.raises(requests.ConnectionError, match=r"127\.0\.0\.2, outside allowed_upstream_networks"):
        requests.get(f"http://127.0.0.1:{outer.server_address[1]}/", timeout=2)

    assert outer.seen == ["/"] and inner.seen == []


# -- the console and the command line -----------------------------------------------------


@pytest.fixture
def cw(tmp_path):
    world = build_console_world(tmp_path)
    world.rw.world.hub.register(RelayPlugin())
    yield world
    world.close()


def post_form(cw, config: Config, base_url: str):
    from hub.runtime import Runtime
    from hub.web import create_app

    rw = cw.rw
    app = create_app(runtime=Runtime(config, rw.world.clock, rw.world.store, rw.world.hub, rw.world.engine))
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    cw.sign_in("olga", client=client)
    url = "/admin/connections/new?plugin=relay"
    token = csrf_of(client.get(url).get_data(as_text=True))
    data = {"id": "relay1", "name": "Relay", "timeout": "2", "freshness": "60", "enabled": "on", "skip_check": "on"}
    return client.post(url, data={**data, "setting-base_url": base_url, "csrf_token": token})


def test_the_console_shows_the_refused_setting_beside_its_field_and_saves_nothing(cw, tmp_path):
    config = Config(instance_path=tmp_path, secret_keys=("k",), secret_key="s", allowed_upstream_networks=(INSIDE,))

    reply = post_form(cw, config, "http://169.254.169.254/latest/")

    assert reply.status_code == 400
    html = unescape(reply.get_data(as_text=True))
    assert 'id="error-base_url"' in html
    assert "base_url points at 169.254.169.254, outside allowed_upstream_networks (203.0.113.0/24)" in html
    assert "relay1" not in {c.id for c in cw.store.list_connections()}
    assert post_form(cw, config, "ftp://203.0.113.5/").status_code == 400  # even saving without the test
    assert post_form(cw, config, "http://203.0.113.5/").status_code == 303


@pytest.fixture
def cli(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("LAST100_")]:
        monkeypatch.delenv(key)
    instance = tmp_path / "instance"

    def run(*args: str):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], catch_exceptions=False)

    assert run("init").exit_code == 0
    config_file = instance / "last100.toml"
    config_file.write_text(config_file.read_text() + 'plugins = ["tests.test_url_policy:RelayPlugin"]\n')
    run.config_file = config_file
    return run


def add(cli, base_url: str, *extra: str):
    return cli(
        "connections", "add", "relay-1", "--plugin", "relay", "--name", "R", "--setting", f"base_url={base_url}", *extra
    )


def test_the_command_line_refuses_a_url_with_a_message_and_exit_status_1(cli, serve):
    cli.config_file.write_text(cli.config_file.read_text() + f'allowed_upstream_networks = ["{INSIDE}"]\n')

    refused = add(cli, "ftp://203.0.113.5/")
    assert refused.exit_code == 1
    assert "invalid settings for connection relay-1: base_url uses ftp:, which is not allowed" in refused.output

    outside = add(cli, "http://127.0.0.1:9/", "--no-check")
    assert outside.exit_code == 1
    assert "base_url points at 127.0.0.1, outside allowed_upstream_networks" in outside.output
    assert "relay-1" not in cli("connections", "list").output


def test_connections_test_checks_a_stored_connection_against_the_policy_now(cli, serve):
    server = serve()
    assert add(cli, f"http://127.0.0.1:{server.server_address[1]}/").exit_code == 0
    assert cli("connections", "test", "relay-1").output.startswith("ok:")

    cli.config_file.write_text(cli.config_file.read_text() + f'allowed_upstream_networks = ["{INSIDE}"]\n')
    result = cli("connections", "test", "relay-1")

    assert result.exit_code == 1
    assert "base_url points at 127.0.0.1, outside allowed_upstream_networks" in result.output
    assert len(server.seen) == 2  # the connection test (add's, then test's), never after the policy changed
