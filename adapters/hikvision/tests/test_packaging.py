"""What the hub sees of the distribution: its entry points, what the plugin says about
itself, the settings it validates, and the simulator it offers the demo."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from hub.core.errors import SettingsError
from hub.core.model import PluginKind
from hub.core.plugins import Hub, secret_fields
from hub.demo import SIMULATOR_GROUP, Simulator
from last100_hikvision.plugin import HikvisionPlugin


def entry_point(group: str, name: str) -> metadata.EntryPoint:
    [found] = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    return found


def test_the_plugin_entry_point_is_a_class_the_hub_can_create() -> None:
    plugin_class = entry_point("last100", "hikvision").load()

    assert plugin_class is HikvisionPlugin
    assert plugin_class().hub_plugin_info().name == "hikvision"


def test_the_hub_loads_the_installed_plugin_as_an_access_controller() -> None:
    hub = Hub()
    # Only this distribution's plugin: another adapter's state must not decide this test.
    hub.load_entry_points(disabled={ep.name for ep in metadata.entry_points(group="last100")} - {"hikvision"})

    record = hub.plugin("hikvision")

    assert record.source == "last100-hikvision"
    assert record.info.kinds == {PluginKind.ACCESS}
    assert {
        "hub_check_connection",
        "hub_grant_access",
        "hub_revoke_access",
        "hub_open_door",
        "hub_access_events",
        "hub_parse_push",
    } <= set(record.hooks)


def test_secrets_are_marked_secret() -> None:
    assert secret_fields(HikvisionPlugin().hub_plugin_info()) == {"password", "card_secret", "push_token"}


def test_the_simulator_entry_point_offers_the_demo_a_controller() -> None:
    simulator = entry_point(SIMULATOR_GROUP, "hikvision").load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("hikvision", "North gate controller (simulated Hikvision)")


def test_the_simulators_settings_are_valid_settings(hub) -> None:
    simulator = entry_point(SIMULATOR_GROUP, "hikvision").load()()

    settings = hub.validate_settings("hikvision", simulator.settings("http://127.0.0.1:5002/"))

    assert settings["base_url"] == "http://127.0.0.1:5002"
    assert (settings["auth"], settings["timezone"], settings["card_number_length"]) == ("auto", "Asia/Shanghai", 10)


def test_settings_load_with_their_defaults(hub, settings) -> None:
    loaded = hub.validate_settings("hikvision", settings)

    assert loaded["verify_tls"] is True and loaded["max_results"] == 30


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "ftp://acs.test"}, "base_url"),
        ({"base_url": "https://acs.test/?user=admin"}, "base_url"),
        ({"username": ""}, "username"),
        ({"auth": "ntlm"}, "auth"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"card_secret": "too-short"}, "card_secret"),
        ({"push_token": "too-short"}, "push_token"),
        ({"card_number_length": 7}, "card_number_length"),
        ({"max_results": 0}, "max_results"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_a_wrong_setting_is_named_without_echoing_it(hub, settings, change, field) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("hikvision", {**settings, **change})

    assert set(caught.value.errors) == {field}
    if field in ("card_secret", "push_token"):
        assert change[field] not in str(caught.value.errors)


def test_the_protocol_modules_do_not_import_the_hub() -> None:
    # An integrator may use them to script a device without installing the hub.
    modules = ["client", "auth", "wire", "cards", "push", "errors"]
    code = (
        "import sys\n"
        + "".join(f"import last100_hikvision.{m}\n" for m in modules)
        + "print(sorted(n for n in sys.modules if n == 'hub' or n.startswith('hub.') or n == 'flask'))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
