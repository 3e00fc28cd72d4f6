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
from last100_locker.plugin import LockerPlugin


def entry_point(group: str, name: str) -> metadata.EntryPoint:
    [found] = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    return found


def test_the_plugin_entry_point_is_a_class_the_hub_can_create() -> None:
    plugin_class = entry_point("last100", "locker").load()

    assert plugin_class is LockerPlugin
    assert plugin_class().hub_plugin_info().name == "locker"


def test_the_hub_loads_the_installed_plugin_as_a_locker() -> None:
    hub = Hub()
    # Only this distribution's plugin: another adapter's state must not decide this test.
    hub.load_entry_points(disabled={ep.name for ep in metadata.entry_points(group="last100")} - {"locker"})

    record = hub.plugin("locker")

    assert record.source == "last100-locker"
    assert record.info.kinds == {PluginKind.LOCKER}
    assert {"hub_check_connection", "hub_allocate_locker", "hub_release_locker", "hub_jobs"} <= set(record.hooks)


def test_only_the_secret_is_marked_secret() -> None:
    assert secret_fields(LockerPlugin().hub_plugin_info()) == {"secret"}


def test_the_simulator_entry_point_offers_the_demo_the_north_gate_lockers() -> None:
    simulator = entry_point(SIMULATOR_GROUP, "locker").load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("locker", "Food lockers by the north gate (simulated)")


def test_the_simulators_settings_are_valid_settings(hub) -> None:
    simulator = entry_point(SIMULATOR_GROUP, "locker").load()()

    settings = hub.validate_settings("locker", simulator.settings("http://127.0.0.1:5002/"))

    assert settings["base_url"] == "http://127.0.0.1:5002/locker"
    assert (settings["bank_id"], settings["default_zone"], settings["default_size"]) == ("north-gate", "warm", "M")


def test_settings_load_with_their_defaults(hub, settings) -> None:
    loaded = hub.validate_settings("locker", settings)

    assert (loaded["default_zone"], loaded["default_size"], loaded["dropoff_minutes"]) == ("warm", "M", 30)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "http://lockers.example.com/locker"}, "base_url"),
        ({"base_url": "https://lockers.test/locker?token=x"}, "base_url"),
        ({"key_id": ""}, "key_id"),
        ({"secret": "too-short-a-secret"}, "secret"),
        ({"bank_id": ""}, "bank_id"),
        ({"default_zone": "frozen"}, "default_zone"),
        ({"default_size": "XL"}, "default_size"),
        ({"dropoff_minutes": 2}, "dropoff_minutes"),
        ({"unexpected": 1}, "unexpected"),
    ],
    ids=["plain http", "query", "empty key id", "short secret", "empty bank", "zone", "size", "dropoff", "unknown"],
)
def test_a_wrong_setting_is_named_without_echoing_it(hub, settings, change, field) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("locker", {**settings, **change})

    assert set(caught.value.errors) == {field}
    if field == "secret":
        assert change["secret"] not in str(caught.value.errors)


def test_a_missing_bank_id_is_named(hub, settings) -> None:
    del settings["bank_id"]

    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("locker", settings)

    assert set(caught.value.errors) == {"bank_id"}


def test_plain_http_is_allowed_to_a_controller_on_this_machine(hub, settings) -> None:
    for url in ("http://127.0.0.1:8766/locker", "http://localhost:8766/locker"):
        assert hub.validate_settings("locker", {**settings, "base_url": url})["base_url"] == url


def test_the_protocol_modules_do_not_import_the_hub() -> None:
    # A vendor may use them to check a controller without installing the hub.
    modules = ["client", "signing", "wire", "errors"]
    code = (
        "import sys\n"
        + "".join(f"import last100_locker.{m}\n" for m in modules)
        + "print(sorted(n for n in sys.modules if n == 'hub' or n.startswith('hub.')))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
