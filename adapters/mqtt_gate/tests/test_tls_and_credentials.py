"""TLS and broker credentials. The local broker has neither a TLS listener nor a password
file, so these run against a minimal MQTT listener on loopback (see conftest.py) that
speaks real TLS with a throwaway CA, records what the client sent in CONNECT, and can
refuse the connection as a broker does."""

from __future__ import annotations

import socket
import ssl
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.core.errors import UpstreamError
from hub.core.model import Connection, GrantRequest
from last100_mqtt_gate.client import (
    GateController,
    MqttConnectionError,
    MqttCredentialsRefused,
    MqttSubscriptionRefused,
    MqttTlsError,
    TlsOptions,
    tls_context,
)


def fake_connection(port: int, **settings) -> Connection:
    values = {
        "host": "127.0.0.1",
        "port": port,
        "topic_prefix": f"last100-test/{uuid.uuid4().hex}",
        "credential_secret": "example-credential-secret-0123456789",
        **settings,
    }
    return Connection("gates-tls", "mqtt-gate", "Gates over TLS", settings=values, timeout_s=2.0)


# -- the TLS context --------------------------------------------------------------------------


def test_tls_verifies_the_broker_certificate_and_host_name_by_default(pki) -> None:
    context = tls_context(TlsOptions(ca_file=str(pki.ca)))

    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["Last100 test CA"]


def test_tls_insecure_skips_the_host_name_only(pki) -> None:
    context = tls_context(TlsOptions(ca_file=str(pki.ca), insecure=True))

    assert not context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED


def test_an_encrypted_client_key_needs_its_password(pki) -> None:
    options = TlsOptions(str(pki.ca), str(pki.client_cert), str(pki.client_key_encrypted), pki.key_password)
    tls_context(options)  # loads

    with pytest.raises(ssl.SSLError):
        tls_context(replace(options, key_password="wrong"))


def test_tls_settings_are_applied_to_the_paho_client(pki) -> None:
    options = TlsOptions(ca_file=str(pki.ca), insecure=True)
    plain = GateController("127.0.0.1", 8883, "p", client_id="c").new_paho_client()
    secured = GateController("127.0.0.1", 8883, "p", client_id="c", tls=options).new_paho_client()

    assert plain._ssl_context is None
    assert secured._ssl_context is not None and not secured._ssl_context.check_hostname
    assert secured._ssl_context.verify_mode is ssl.CERT_REQUIRED


# -- TLS on the wire ----------------------------------------------------------------------------


def test_the_hub_connects_over_tls_with_its_client_certificate(hub, fake_broker, server_tls, pki) -> None:
    fake = fake_broker(tls=server_tls())
    connection = fake_connection(
        fake.port,
        tls=True,
        tls_ca_file=str(pki.ca),
        tls_cert_file=str(pki.client_cert),
        tls_key_file=str(pki.client_key_encrypted),
        tls_key_password=pki.key_password,
    )

    health = hub.check_connection(connection)

    assert health.ok, health.message
    assert "over TLS" in health.message
    [connect] = fake.connects
    assert dict(connect.peer_certificate["subject"][0])["commonName"] == "last100-hub"


def test_a_broker_certificate_from_another_ca_is_refused_naming_the_ca_setting(
    hub, fake_broker, server_tls, pki
) -> None:
    fake = fake_broker(tls=server_tls(require_client_cert=False))
    connection = fake_connection(fake.port, tls=True, tls_ca_file=str(pki.other_ca))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "certificate" in health.message and "tls_ca_file" in health.message
    assert fake.connects == []


def test_a_broker_certificate_for_another_host_is_refused_unless_tls_insecure(
    hub, fake_broker, server_tls, pki
) -> None:
    fake = fake_broker(tls=server_tls(wrong_name=True, require_client_cert=False))
    checked = fake_connection(fake.port, tls=True, tls_ca_file=str(pki.ca))
    insecure = replace(checked, id="gates-insecure", settings={**checked.settings, "tls_insecure": True})

    refused = hub.check_connection(checked)
    accepted = hub.check_connection(insecure)

    assert not refused.ok and "tls_insecure" in refused.message
    assert accepted.ok, accepted.message


def test_a_broker_that_requires_a_client_certificate_refuses_the_hub_without_one(fake_broker, server_tls, pki) -> None:
    fake = fake_broker(tls=server_tls())
    client = GateController(
        "127.0.0.1", fake.port, "p", client_id="c", tls=TlsOptions(ca_file=str(pki.ca)), connect_timeout_s=1
    )
    try:
        with pytest.raises(MqttConnectionError):
            client.connect()
    finally:
        client.close()

    assert fake.connects == [] and fake.handshake_errors


def test_an_unreadable_ca_file_is_a_tls_error(tmp_path) -> None:
    missing = TlsOptions(ca_file=str(tmp_path / "missing.pem"))
    client = GateController("127.0.0.1", 8883, "p", client_id="c", tls=missing)

    with pytest.raises(MqttTlsError, match="TLS settings cannot be used"):
        client.connect()


# -- broker credentials -------------------------------------------------------------------------


def test_username_password_keepalive_and_client_id_go_into_connect(hub, fake_broker) -> None:
    fake = fake_broker()
    connection = fake_connection(
        fake.port, username="hub-sunny", password="s3cret", keepalive_s=45, client_id_prefix="gatehouse"
    )

    assert hub.check_connection(connection).ok

    [connect] = fake.connects
    assert (connect.username, connect.password, connect.keepalive, connect.clean_session) == (
        "hub-sunny",
        "s3cret",
        45,
        True,
    )
    assert connect.client_id.startswith("gatehouse-") and len(connect.client_id) == len("gatehouse-") + 8


@pytest.mark.parametrize("connack_rc", [4, 5], ids=["bad username or password", "not authorized"])
def test_a_wrong_password_is_a_health_failure_naming_username_and_password(hub, fake_broker, connack_rc) -> None:
    fake = fake_broker(connack_rc=connack_rc)

    health = hub.check_connection(fake_connection(fake.port, username="hub", password="wrong"))

    assert not health.ok
    assert health.message == f"the broker at 127.0.0.1:{fake.port} refused the username and password"


def test_refused_credentials_make_grants_upstream_errors(hub, fake_broker, gate) -> None:
    fake = fake_broker(connack_rc=5)
    now = datetime.now(UTC)

    with pytest.raises(UpstreamError, match="refused the hub's username and password"):
        hub.grant_access(
            fake_connection(fake.port, username="hub", password="wrong"),
            gate,
            GrantRequest("G-1", "R1", now, now + timedelta(minutes=5)),
        )


def test_a_refused_connection_is_tried_afresh_on_the_next_call(fake_broker) -> None:
    fake = fake_broker(connack_rc=5)
    client = GateController("127.0.0.1", fake.port, "p", client_id="c", username="u", password="p")
    try:
        for _ in range(2):
            with pytest.raises(MqttCredentialsRefused):
                client.connect()
    finally:
        client.close()

    # No retries in the background between the calls: one CONNECT per call.
    assert len(fake.connects) == 2


def test_a_refused_subscription_is_a_health_failure_naming_the_acl(hub, fake_broker) -> None:
    fake = fake_broker(suback=0x80)

    health = hub.check_connection(fake_connection(fake.port))

    assert not health.ok and "refused the subscription" in health.message and "ACL" in health.message


def test_the_health_check_notices_a_broker_that_went_away(hub, fake_broker) -> None:
    fake = fake_broker()
    connection = replace(fake_connection(fake.port), timeout_s=0.5)
    assert hub.check_connection(connection).ok

    fake.close()
    health = hub.check_connection(connection)

    # Whichever the hub noticed first (the dropped connection, or no answer), it says so.
    assert not health.ok and f"the broker at 127.0.0.1:{fake.port}" in health.message


def test_a_broker_that_never_answers_connect_is_a_connection_error() -> None:
    # Accepts the TCP connection, never answers CONNECT: the connect timeout bounds the wait.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        client = GateController("127.0.0.1", silent.getsockname()[1], "p", client_id="c", connect_timeout_s=0.3)
        try:
            with pytest.raises(MqttConnectionError, match="did not accept the connection in time"):
                client.connect()
        finally:
            client.close()


def test_subscription_refusal_is_its_own_error(fake_broker) -> None:
    fake = fake_broker(suback=0x80)
    client = GateController("127.0.0.1", fake.port, "p", client_id="c")
    try:
        with pytest.raises(MqttSubscriptionRefused, match="p/\\+/ack, p/\\+/event"):
            client.connect()
    finally:
        client.close()
