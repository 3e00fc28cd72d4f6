"""What the hub sees of the distribution: its entry points, what the plugin says about
itself, and the simulator it offers the demo."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from hub.core.model import PluginKind
from hub.core.plugins import Hub, secret_fields
from hub.demo import SIMULATOR_GROUP, Simulator
from last100_visitor_http.plugin import VisitorHttpPlugin


def entry_point(group: str, name: str) -> metadata.EntryPoint:
    [found] = [ep for ep in metadata.entry_points(group=group) if ep.name == name]
    return found


def test_the_plugin_entry_point_is_a_class_the_hub_can_create() -> None:
    plugin_class = entry_point("last100", "visitor_http").load()

    assert plugin_class is VisitorHttpPlugin
    assert plugin_class().hub_plugin_info().name == "visitor-http"


def test_the_hub_loads_the_installed_plugin_as_a_visitor_system() -> None:
    hub = Hub()
    # Only this distribution's plugin: another adapter's state must not decide this test.
    hub.load_entry_points(disabled={ep.name for ep in metadata.entry_points(group="last100")} - {"visitor_http"})

    record = hub.plugin("visitor-http")

    assert record.source == "last100-visitor-http"
    assert record.info.kinds == {PluginKind.VISITOR}
    assert {"hub_check_connection", "hub_register_visitor"} <= set(record.hooks)


def test_only_the_secret_is_marked_secret() -> None:
    assert secret_fields(VisitorHttpPlugin().hub_plugin_info()) == {"secret"}


def test_the_simulator_entry_point_offers_the_demo_a_visitor_book() -> None:
    simulator = entry_point(SIMULATOR_GROUP, "visitor_http").load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("visitor-http", "Property visitor book (simulated)")


def test_the_simulators_settings_are_valid_settings(hub) -> None:
    simulator = entry_point(SIMULATOR_GROUP, "visitor_http").load()()

    settings = hub.validate_settings("visitor-http", simulator.settings("http://127.0.0.1:5002/"))

    assert settings["url"] == "http://127.0.0.1:5002/openapi/visitor/records"
    assert settings["static_fields"] == {"communityCode": "SUNNY-GARDEN"}
    assert (settings["success_path"], settings["success_value"], settings["record_id_path"]) == (
        "code",
        "0",
        "data.recordId",
    )


def test_the_protocol_modules_do_not_import_the_hub() -> None:
    # A visitor system may use them to check its own implementation without the hub.
    modules = ["client", "signing", "templates", "errors"]
    code = (
        "import sys\n"
        + "".join(f"import last100_visitor_http.{m}\n" for m in modules)
        + "print(sorted(n for n in sys.modules if n == 'hub' or n.startswith('hub.')))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
