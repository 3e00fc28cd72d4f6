"""What the hub sees of the distribution: its entry point, what the plugin says about
itself, and the settings it validates."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from hub.core.errors import SettingsError
from hub.core.model import PluginKind
from hub.core.plugins import Hub, secret_fields
from last100_mqtt_gate.plugin import MqttGatePlugin

MINIMAL = {"host": "broker.example", "topic_prefix": "acme/site-7", "credential_secret": "0123456789abcdef"}


def test_the_plugin_entry_point_is_a_class_the_hub_can_create() -> None:
    [found] = [ep for ep in metadata.entry_points(group="last100") if ep.name == "mqtt_gate"]
    plugin_class = found.load()

    assert plugin_class is MqttGatePlugin
    assert plugin_class().hub_plugin_info().name == "mqtt-gate"


def test_the_hub_loads_the_installed_plugin_as_an_access_plugin() -> None:
    hub = Hub()
    # Only this distribution's plugin: another adapter's state must not decide this test.
    hub.load_entry_points(disabled={ep.name for ep in metadata.entry_points(group="last100")} - {"mqtt_gate"})

    record = hub.plugin("mqtt-gate")

    assert record.source == "last100-mqtt-gate"
    assert record.info.kinds == {PluginKind.ACCESS}
    assert {
        "hub_check_connection",
        "hub_grant_access",
        "hub_revoke_access",
        "hub_open_door",
        "hub_access_events",
    } <= set(record.hooks)


def test_secrets_are_marked_secret() -> None:
    assert secret_fields(MqttGatePlugin().hub_plugin_info()) == {"credential_secret", "password", "tls_key_password"}


def test_settings_load_with_their_defaults(hub) -> None:
    loaded = hub.validate_settings("mqtt-gate", MINIMAL)

    assert loaded == {
        **MINIMAL,
        "port": 1883,
        "gate_ids": {},
        "username": None,
        "password": None,
        "client_id_prefix": "last100-hub",
        "keepalive_s": 60,
        "connect_timeout_s": 2.0,
        "command_ttl_s": 30,
        "event_buffer": 1000,
        "tls": False,
        "tls_ca_file": None,
        "tls_cert_file": None,
        "tls_key_file": None,
        "tls_key_password": None,
        "tls_insecure": False,
    }


def test_tls_settings_load_with_existing_files(hub, pki) -> None:
    settings = {
        **MINIMAL,
        "port": 8883,
        "tls": True,
        "tls_ca_file": str(pki.ca),
        "tls_cert_file": str(pki.client_cert),
        "tls_key_file": str(pki.client_key),
    }

    assert hub.validate_settings("mqtt-gate", settings)["tls_ca_file"] == str(pki.ca)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"topic_prefix": "acme/+"}, "topic_prefix"),
        ({"topic_prefix": "acme/"}, "topic_prefix"),
        ({"gate_ids": {"north": "ctrl/7"}}, "gate_ids"),
        ({"credential_secret": "short-secret"}, "credential_secret"),
        ({"password": "s3cret"}, "username"),
        ({"client_id_prefix": "hub id"}, "client_id_prefix"),
        ({"keepalive_s": 1}, "keepalive_s"),
        ({"tls": True, "tls_ca_file": "/nonexistent/ca.pem"}, "tls_ca_file"),
        ({"tls_insecure": True}, "tls_insecure"),
        ({"unexpected": 1}, "unexpected"),
    ],
    ids=["host", "port", "wildcard prefix", "empty level", "gate id", "short secret", "password alone",
         "client id", "keepalive", "missing CA", "tls off", "unknown"],
)  # fmt: skip
def test_a_wrong_setting_is_named_without_echoing_secrets(hub, change, field) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("mqtt-gate", {**MINIMAL, **change})

    assert set(caught.value.errors) == {field}
    assert "short-secret" not in str(caught.value.errors) and "s3cret" not in str(caught.value.errors)


def test_a_client_certificate_needs_its_key(hub, pki) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("mqtt-gate", {**MINIMAL, "tls": True, "tls_cert_file": str(pki.client_cert)})

    assert set(caught.value.errors) == {"tls_key_file"}


def test_the_contract_modules_do_not_import_the_hub() -> None:
    # A controller vendor may use them to check an implementation without the hub.
    code = (
        "import sys\n"
        "import last100_mqtt_gate.wire, last100_mqtt_gate.client, last100_mqtt_gate.credentials\n"
        "print(sorted(n for n in sys.modules if n == 'hub' or n.startswith('hub.')))"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
