"""What the hub sees of the distribution: its entry points, what the plugin says about
itself, the settings it validates, and the simulator it offers the demo."""

from __future__ import annotations

import base64
import subprocess
import sys
from importlib import metadata

import pytest

from hub.core.errors import SettingsError
from hub.core.model import PluginKind
from hub.core.plugins import Hub, secret_fields
from hub.demo import SIMULATOR_GROUP, Simulator
from last100_riderpass.plugin import RiderPassPlugin


def entry_point(group: str, name: str) -> metadata.EntryPoint:
    [found] = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    return found


def test_the_plugin_entry_point_is_a_class_the_hub_can_create() -> None:
    plugin_class = entry_point("last100", "riderpass").load()

    assert plugin_class is RiderPassPlugin
    assert plugin_class().hub_plugin_info().name == "riderpass"


def test_the_hub_loads_the_installed_plugin_as_a_platform() -> None:
    hub = Hub()
    # Only this distribution's plugin: another adapter's state must not decide this test.
    hub.load_entry_points(disabled={ep.name for ep in metadata.entry_points(group="last100")} - {"riderpass"})

    record = hub.plugin("riderpass")

    assert record.source == "last100-riderpass"
    assert record.info.kinds == {PluginKind.PLATFORM}
    assert {"hub_verify_rider", "hub_parse_push", "hub_publish_community", "hub_notify_rider"} <= set(record.hooks)


def test_secrets_are_marked_secret() -> None:
    info = RiderPassPlugin().hub_plugin_info()

    assert secret_fields(info) == {"signing_secret", "push_secrets"}


def test_the_simulator_entry_point_offers_the_demo_a_riderpass_simulator() -> None:
    simulator = entry_point(SIMULATOR_GROUP, "riderpass").load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("riderpass", "RiderPass platform (simulated)")


def test_the_simulators_settings_are_valid_settings(hub) -> None:
    simulator = entry_point(SIMULATOR_GROUP, "riderpass").load()()

    settings = hub.validate_settings("riderpass", simulator.settings("http://127.0.0.1:5001/"))

    assert settings["base_url"] == "http://127.0.0.1:5001/riderpass"
    assert settings["entry_code_leeway_s"] == 30 and settings["max_cache_seconds"] == 300


def test_settings_load_with_their_defaults(hub, settings) -> None:
    loaded = hub.validate_settings("riderpass", settings)

    assert loaded["connect_timeout_s"] == 1.0
    assert loaded["push_secrets"] == settings["push_secrets"]


def test_one_key_or_secret_may_be_given_as_a_single_string(hub, settings) -> None:
    loaded = hub.validate_settings(
        "riderpass",
        {
            **settings,
            "push_secrets": settings["push_secrets"][0],
            "entry_code_keys": "Lgoi40B0tLeT18/ppUO46Xb2WyKPcpivRJ7PjxjgLso=",
        },
    )

    assert loaded["push_secrets"] == settings["push_secrets"]
    assert loaded["entry_code_keys"] == ["Lgoi40B0tLeT18/ppUO46Xb2WyKPcpivRJ7PjxjgLso="]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "http://platform.example.com/riderpass"}, "base_url"),
        ({"base_url": "https://platform.test/riderpass?token=x"}, "base_url"),
        ({"base_url": "ftp://platform.test"}, "base_url"),
        ({"key_id": ""}, "key_id"),
        ({"signing_secret": base64.b64encode(b"31 bytes of secret material....").decode()}, "signing_secret"),
        ({"push_secrets": ["whsec_not-base64!"]}, "push_secrets"),
        ({"entry_code_keys": ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]}, "entry_code_keys"),
        ({"entry_code_leeway_s": 600}, "entry_code_leeway_s"),
        ({"max_cache_seconds": -1}, "max_cache_seconds"),
        ({"unexpected": 1}, "unexpected"),
    ],
    ids=["plain http", "query", "scheme", "empty key id", "short secret", "bad push secret", "bad key", "leeway",
         "cache", "unknown"],
)  # fmt: skip
def test_a_wrong_setting_is_named_without_echoing_it(hub, settings, change, field) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("riderpass", {**settings, **change})

    assert set(caught.value.errors) == {field}
    if field in ("signing_secret", "push_secrets"):
        assert str(change[field]).strip("[]'") not in str(caught.value.errors)


def test_plain_http_is_allowed_to_a_platform_on_this_machine(hub, settings) -> None:
    for url in ("http://127.0.0.1:8765/riderpass", "http://localhost:8765/riderpass"):
        assert hub.validate_settings("riderpass", {**settings, "base_url": url})["base_url"] == url


def test_the_protocol_modules_do_not_import_the_hub() -> None:
    # A platform may use them to check its own implementation without installing the hub.
    modules = ["client", "signing", "webhooks", "entrycodes", "wire", "errors"]
    code = (
        "import sys\n"
        + "".join(f"import last100_riderpass.{m}\n" for m in modules)
        + "print(sorted(n for n in sys.modules if n == 'hub' or n.startswith('hub.')))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
