"""Loading plugins through real entry points: load soft, validate hard.

Each test writes real distributions (``*.dist-info`` with ``METADATA`` and
``entry_points.txt`` for the ``last100`` group) and their modules into a temporary
folder on ``sys.path``, then asks ``Hub().load_entry_points()`` to find them the way an
installed adapter is found.
"""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hub import hookimpl
from hub.core.errors import PluginError, SettingsError
from hub.core.model import Health, PluginInfo
from hub.core.plugins import Hub
from tests.factories import make_connection


class Site:
    """A folder on ``sys.path`` to install throwaway distributions into."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.modules: list[str] = []

    def install(self, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        info = self.path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[last100]\n{lines}")
        for module, source in modules.items():
            (self.path / f"{module}.py").write_text(textwrap.dedent(source))
            self.modules.append(module)
        importlib.invalidate_caches()


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = Site(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)


def plugin_module(name: str, info: str = "", body: str = "") -> str:
    """Source of a plugin module whose ``hub_plugin_info`` returns ``info``."""
    info = info or f'PluginInfo(name="{name}", kinds={{"platform"}}, version="1.0")'
    return f"""
        import marshmallow
        from marshmallow import fields

        from hub import Health, PluginInfo, hookimpl


        @hookimpl
        def hub_plugin_info():
            return {info}
        {textwrap.indent(textwrap.dedent(body), " " * 8).strip()}
        """


GOOD = plugin_module(
    "ltgood",
    body="""
    @hookimpl
    def hub_check_connection(connection):
        return Health(ok=True, message="ltgood answers")
    """,
)


def test_a_plugin_installed_with_an_entry_point_is_loaded(site):
    site.install("ltgood-dist", {"ltgood": "lt_good"}, {"lt_good": GOOD})
    hub = Hub()

    hub.load_entry_points()

    record = hub.plugin("ltgood")
    assert record.source == "ltgood-dist"
    assert record.hooks == ("hub_check_connection", "hub_plugin_info")
    assert hub.check_connection(make_connection(plugin="ltgood")) == Health(ok=True, message="ltgood answers")


def test_an_entry_point_naming_a_class_is_instantiated(site):
    site.install(
        "ltclass-dist",
        {"ltclass": "lt_class:Plugin"},
        {
            "lt_class": """
            from hub import PluginInfo, hookimpl

            class Plugin:
                @hookimpl
                def hub_plugin_info(self):
                    return PluginInfo(name="ltclass", kinds={"locker"}, version="2.0")
            """
        },
    )
    hub = Hub()

    hub.load_entry_points()

    assert hub.plugin("ltclass").info.version == "2.0"


def test_a_plugin_that_fails_to_import_is_logged_and_skipped(site, caplog):
    site.install("ltgood-dist", {"ltgood": "lt_good"}, {"lt_good": GOOD})
    site.install(
        "ltbroken-dist",
        {"ltbroken": "lt_broken"},
        {"lt_broken": "raise ImportError('vendor_sdk is not installed')\n"},
    )
    hub = Hub()

    with caplog.at_level(logging.ERROR, logger="hub.core.plugins"):
        hub.load_entry_points()

    assert "ltgood" in [r.info.name for r in hub.plugins()]
    [failure] = [f for f in hub.load_failures if f.name == "ltbroken"]
    assert failure.source == "ltbroken-dist"
    assert "vendor_sdk is not installed" in failure.error
    assert any("ltbroken" in r.getMessage() and "vendor_sdk is not installed" in r.getMessage() for r in caplog.records)


def test_two_plugins_with_one_name_stop_the_hub_naming_both_sources(site):
    site.install("acme-official", {"lttwin": "lt_twin_a"}, {"lt_twin_a": plugin_module("lttwin")})
    site.install("acme-fork", {"lttwin-fork": "lt_twin_b"}, {"lt_twin_b": plugin_module("lttwin")})
    hub = Hub()

    with pytest.raises(PluginError, match="two plugins are named 'lttwin'") as raised:
        hub.load_entry_points()

    assert "acme-official" in str(raised.value)
    assert "acme-fork" in str(raised.value)


def test_a_hook_with_an_argument_the_spec_lacks_stops_the_hub(site):
    body = """
    @hookimpl
    def hub_verify_rider(connection, credential, selfie):
        return None
    """
    site.install("ltsig-dist", {"ltsig": "lt_sig"}, {"lt_sig": plugin_module("ltsig", body=body)})
    hub = Hub()

    with pytest.raises(PluginError, match=r"(?s)^ltsig: .*Argument\(s\) \{'selfie'\}"):
        hub.load_entry_points()
    assert "ltsig" not in [r.info.name for r in hub.plugins()]
    assert hub.pm.get_plugin("ltsig") is None


def test_an_unknown_hook_name_stops_the_hub(site):
    body = """
    @hookimpl
    def hub_verify_ryder(connection, credential):
        return None
    """
    site.install("lttypo-dist", {"lttypo": "lt_typo"}, {"lt_typo": plugin_module("lttypo", body=body)})
    hub = Hub()

    with pytest.raises(PluginError, match=r"lttypo.*hub_verify_ryder"):
        hub.load_entry_points()
    assert hub.pm.get_plugin("lttypo") is None


@pytest.mark.parametrize(
    ("info", "problem"),
    [
        ('PluginInfo(name="Bad Name", kinds={"platform"}, version="1")', "plugin name 'Bad Name'"),
        ('PluginInfo(name="ltinfo", kinds=set(), version="1")', "at least one kind"),
        ('PluginInfo(name="ltinfo", kinds={"robot"}, version="1")', "'robot' is not a valid PluginKind"),
        (
            'PluginInfo(name="ltinfo", kinds={"access"}, version="1", settings_schema=dict)',
            "settings_schema must be a marshmallow Schema class",
        ),
        (
            'PluginInfo(name="ltinfo", kinds={"access"}, version="1", settings_schema=Settings())',
            "settings_schema must be a marshmallow Schema class",
        ),
        (
            'PluginInfo(name="ltinfo", kinds={"access"}, version="1", settings_schema=Settings)',
            "setting 'api_key' looks like a secret",
        ),
        ('{"name": "ltinfo"}', "must return a PluginInfo"),
    ],
    ids=[
        "bad-name",
        "no-kinds",
        "unknown-kind",
        "not-a-schema",
        "schema-instance",
        "unmarked-secret",
        "not-plugin-info",
    ],
)
def test_invalid_plugin_info_stops_the_hub_naming_the_problem(site, info, problem):
    body = (
        textwrap.dedent("""
        class Settings(marshmallow.Schema):
            host = fields.String(required=True)
            api_key = fields.String(required=True)
        """)
        + f"\n\ndef make_info():\n    return {info}\n"
    )
    source = plugin_module("ltinfo", info="make_info()", body=body)
    site.install("ltinfo-dist", {"ltinfo": "lt_info"}, {"lt_info": source})
    hub = Hub()

    with pytest.raises(PluginError, match=problem) as raised:
        hub.load_entry_points()
    assert "ltinfo" in str(raised.value)
    assert "ltinfo" not in [r.info.name for r in hub.plugins()]


def test_a_disabled_entry_point_is_not_imported(site):
    site.install("ltgood-dist", {"ltgood": "lt_good"}, {"lt_good": GOOD})
    site.install("ltoff-dist", {"ltoff": "lt_off"}, {"lt_off": "raise RuntimeError('imported')\n"})
    hub = Hub()

    hub.load_entry_points(disabled=["ltoff"])

    assert "ltgood" in [r.info.name for r in hub.plugins()]
    assert "ltoff" not in [f.name for f in hub.load_failures]
    assert "lt_off" not in sys.modules


def test_a_plugin_disabled_by_its_plugin_name_is_not_registered(site):
    site.install("ltgood-dist", {"ltgood-adapter": "lt_good"}, {"lt_good": GOOD})
    hub = Hub()

    hub.load_entry_points(disabled=["ltgood"])

    assert "ltgood" not in [r.info.name for r in hub.plugins()]


SETTINGS_PLUGIN = plugin_module(
    "ltset",
    info='PluginInfo(name="ltset", kinds={"access"}, version="1", settings_schema=Settings)',
    body="""
    class Settings(marshmallow.Schema):
        base_url = fields.Url(required=True)
        port = fields.Integer(load_default=443)
        app_secret = fields.String(required=True, metadata={"secret": True})
    """,
)


def test_validate_settings_returns_the_loaded_values(site):
    site.install("ltset-dist", {"ltset": "lt_set"}, {"lt_set": SETTINGS_PLUGIN})
    hub = Hub()
    hub.load_entry_points()

    settings = hub.validate_settings(
        "ltset", {"base_url": "https://gate.example.com", "port": "8443", "app_secret": "s3cret"}
    )

    assert settings == {"base_url": "https://gate.example.com", "port": 8443, "app_secret": "s3cret"}


def test_validate_settings_names_every_wrong_setting(site):
    site.install("ltset-dist", {"ltset": "lt_set"}, {"lt_set": SETTINGS_PLUGIN})
    hub = Hub()
    hub.load_entry_points()

    with pytest.raises(SettingsError, match="invalid settings for ltset: app_secret, base_url") as raised:
        hub.validate_settings("ltset", {"base_url": "not a url"})

    assert sorted(raised.value.errors) == ["app_secret", "base_url"]


def test_validate_settings_rejects_settings_for_a_plugin_without_a_schema():
    hub = Hub()
    hub.register(Bare())

    with pytest.raises(SettingsError, match="takes no settings") as raised:
        hub.validate_settings("ltbare", {"host": "x"})
    assert raised.value.errors == {"host": ["Unknown setting."]}


class Bare:
    @hookimpl
    def hub_plugin_info(self):
        return PluginInfo(name="ltbare", kinds={"visitor"}, version="1")


class Nested:
    """Its ``hub_check_connection`` calls another hook (as a wrapper might) and then works
    for a while, so the outer call lasts clearly longer than the inner one."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @hookimpl
    def hub_plugin_info(self):
        return PluginInfo(name="ltnested", kinds={"platform"}, version="1")

    @hookimpl
    def hub_get_order(self, connection, order_ref):
        return None

    @hookimpl
    def hub_check_connection(self, connection):
        self.hub.get_order(connection, "order-1")
        time.sleep(0.05)
        return Health(ok=True)


def test_trace_logs_every_hook_call_with_its_duration_even_when_nested(caplog):
    hub = Hub(trace=True)
    hub.register(Nested(hub))

    with caplog.at_level(logging.INFO, logger="hub.core.plugins"):
        hub.check_connection(make_connection(plugin="ltnested"))

    calls = {r.args[0]: r.args[2] for r in caplog.records if r.getMessage().startswith("hook ")}
    assert set(calls) == {"hub_get_order", "hub_check_connection"}
    assert calls["hub_check_connection"] >= 50
    assert calls["hub_get_order"] < calls["hub_check_connection"]
    assert any(r.getMessage().startswith("hook hub_check_connection [ltnested] ") for r in caplog.records)


class Failing:
    @hookimpl
    def hub_plugin_info(self):
        return PluginInfo(name="ltfail", kinds={"platform"}, version="1")

    @hookimpl
    def hub_check_connection(self, connection):
        raise RuntimeError("down")


def test_trace_marks_a_hook_call_that_raised(caplog):
    hub = Hub(trace=True)
    hub.register(Failing())

    with caplog.at_level(logging.INFO, logger="hub.core.plugins"), pytest.raises(RuntimeError):
        hub.check_connection(make_connection(plugin="ltfail"))

    assert [r.getMessage().endswith("ms (raised)") for r in caplog.records] == [True]


def test_without_trace_hook_calls_are_not_logged(caplog):
    hub = Hub()
    hub.register(Failing())

    with caplog.at_level(logging.INFO, logger="hub.core.plugins"), pytest.raises(RuntimeError):
        hub.check_connection(make_connection(plugin="ltfail"))

    assert caplog.records == []
