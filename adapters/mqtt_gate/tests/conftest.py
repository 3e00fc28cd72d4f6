"""Fixtures of the MQTT gate adapter's tests: the real broker (skipped when there is none,
unless ``LAST100_REQUIRE_MQTT=1``), a topic prefix of its own for every test, simulated
controllers, a hub with the plugin, a throwaway PKI, and a minimal MQTT listener on
loopback for what the real broker cannot show (TLS, refused credentials).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.core.model import Connection, Gate
from hub.core.plugins import Hub
from hub.plugins import builtin_plugins
from last100_mqtt_gate.client import GateController, MqttError
from last100_mqtt_gate.plugin import MqttGatePlugin
from last100_mqtt_gate.simulator import SimulatedController

#: The credential secret of the worked examples in test_credentials.py.
EXAMPLE_SECRET = "example-credential-secret-0123456789"


# ---------------------------------------------------------------------------------------
# The real broker
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def broker() -> tuple[str, int]:
    """``(host, port)`` of a broker that accepted a connection and two subscriptions."""
    host = os.environ.get("LAST100_TEST_MQTT_HOST", "127.0.0.1")
    port = int(os.environ.get("LAST100_TEST_MQTT_PORT", "1883"))
    probe = GateController(host, port, f"last100-test/{uuid.uuid4().hex}", client_id=f"probe-{uuid.uuid4().hex[:8]}")
    try:
        probe.connect(timeout=3)
    except MqttError as exc:
        reason = f"no MQTT broker at {host}:{port}: {exc}"
        if os.environ.get("LAST100_REQUIRE_MQTT") == "1":
            pytest.fail(f"{reason} (LAST100_REQUIRE_MQTT=1)")
        pytest.skip(reason)
    finally:
        probe.close()
    return host, port


@pytest.fixture
def prefix() -> str:
    """A topic prefix no other test (or run) uses."""
    return f"last100-test/{uuid.uuid4().hex}"


@pytest.fixture
def start_controller(broker: tuple[str, int], prefix: str) -> Iterator[Callable[..., SimulatedController]]:
    """Start simulated controllers under the test's prefix; stopped after the test."""
    started: list[SimulatedController] = []

    def start(gate: str = "north", **kwargs: Any) -> SimulatedController:
        controller = SimulatedController(*broker, prefix=prefix, gate=gate, **kwargs).start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def controller(start_controller: Callable[..., SimulatedController]) -> SimulatedController:
    """The simulated controller of the gate ``north``."""
    return start_controller("north")


@pytest.fixture
def settings(broker: tuple[str, int], prefix: str) -> dict[str, Any]:
    return {"host": broker[0], "port": broker[1], "topic_prefix": prefix, "credential_secret": EXAMPLE_SECRET}


@pytest.fixture
def connection(settings: dict[str, Any]) -> Connection:
    return Connection("gates-1", "mqtt-gate", "Sunny Garden gates", settings=settings, timeout_s=2.0)


@pytest.fixture
def gate() -> Gate:
    return Gate("north", "sunny-garden", "North gate", "sunny-north", door_no="1", access_connection_id="gates-1")


@pytest.fixture
def plugin() -> Iterator[MqttGatePlugin]:
    plugin = MqttGatePlugin()
    yield plugin
    plugin.close()


@pytest.fixture
def make_hub() -> Callable[[MqttGatePlugin], Hub]:
    """A hub with the built-in plugins and the given MQTT gate plugin, as the hub loads them."""

    def make(plugin: MqttGatePlugin) -> Hub:
        hub = Hub()
        for builtin in builtin_plugins():
            hub.register(builtin)
        hub.register(plugin)
        return hub

    return make


@pytest.fixture
def hub(make_hub: Callable[[MqttGatePlugin], Hub], plugin: MqttGatePlugin) -> Hub:
    return make_hub(plugin)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------------
# A throwaway PKI
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """PEM files of a test CA, broker certificates and a client certificate."""

    ca: Path
    server_cert: Path  # names 127.0.0.1 and localhost
    server_key: Path
    wrong_name_cert: Path  # names mqtt.example.invalid only
    wrong_name_key: Path
    client_cert: Path
    client_key: Path
    client_key_encrypted: Path  # with key_password
    other_ca: Path  # a CA that signed none of these
    key_password: str = "client-key-password"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: str | None = None) -> Path:
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return path


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    names: list[x509.GeneralName] | None = None,
    client: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        assert issuer_cert is not None
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")

    def pem(name: str, cert: x509.Certificate) -> Path:
        path = folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Last100 test CA", ca_key, None, ca=True)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _certificate("Some other CA", other_key, None, ca=True)
    keys = {n: ec.generate_private_key(ec.SECP256R1()) for n in ("server", "wrong", "client")}
    server = _certificate(
        "broker",
        keys["server"],
        (ca, ca_key),
        names=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    wrong = _certificate("broker", keys["wrong"], (ca, ca_key), names=[x509.DNSName("mqtt.example.invalid")])
    client = _certificate("last100-hub", keys["client"], (ca, ca_key), client=True)
    return Pki(
        ca=pem("ca.pem", ca),
        server_cert=pem("server.pem", server),
        server_key=_write_key(folder / "server.key", keys["server"]),
        wrong_name_cert=pem("wrong.pem", wrong),
        wrong_name_key=_write_key(folder / "wrong.key", keys["wrong"]),
        client_cert=pem("client.pem", client),
        client_key=_write_key(folder / "client.key", keys["client"]),
        client_key_encrypted=_write_key(folder / "client-encrypted.key", keys["client"], "client-key-password"),
        other_ca=pem("other-ca.pem", other),
    )


# ---------------------------------------------------------------------------------------
# A minimal MQTT 3.1.1 listener
# ---------------------------------------------------------------------------------------


@dataclass
class ConnectPacket:
    """What a client sent in its CONNECT."""

    client_id: str
    keepalive: int
    clean_session: bool
    username: str | None
    password: str | None
    peer_certificate: dict[str, Any] | None


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_packet(sock: socket.socket) -> tuple[int, bytes]:
    header = _read_exactly(sock, 1)[0]
    length, shift = 0, 0
    while True:
        byte = _read_exactly(sock, 1)[0]
        length += (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return header, _read_exactly(sock, length)


def _parse_connect(body: bytes, peer: dict[str, Any] | None) -> ConnectPacket:
    def string(at: int) -> tuple[str, int]:
        size = int.from_bytes(body[at : at + 2], "big")
        return body[at + 2 : at + 2 + size].decode(), at + 2 + size

    _name, at = string(0)
    flags = body[at + 1]
    keepalive = int.from_bytes(body[at + 2 : at + 4], "big")
    client_id, at = string(at + 4)
    if flags & 0x04:  # a will: topic and message
        _topic, at = string(at)
        _message, at = string(at)
    username = password = None
    if flags & 0x80:
        username, at = string(at)
    if flags & 0x40:
        password, at = string(at)
    return ConnectPacket(client_id, keepalive, bool(flags & 0x02), username, password, peer)


@dataclass
class FakeBroker:
    """Answers CONNECT with ``connack_rc``, SUBSCRIBE with ``suback`` for every topic,
    PINGREQ and QoS 1 PUBLISH as a broker would; records each CONNECT and each failed
    TLS handshake. Enough for a paho client to believe it is connected."""

    tls: ssl.SSLContext | None = None
    connack_rc: int = 0
    suback: int = 1
    connects: list[ConnectPacket] = field(default_factory=list)
    handshake_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        peer = None
        try:
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    with self._lock:
                        self.handshake_errors.append(str(exc))
                    return
                peer = sock.getpeercert() or None
            with self._lock:
                self._clients.append(sock)
            while True:
                header, body = _read_packet(sock)
                kind = header >> 4
                if kind == 1:  # CONNECT
                    with self._lock:
                        self.connects.append(_parse_connect(body, peer))
                    sock.sendall(bytes([0x20, 0x02, 0x00, self.connack_rc]))
                    if self.connack_rc:
                        return
                elif kind == 8:  # SUBSCRIBE: packet id, then (topic, qos) pairs
                    topics, at = 0, 2
                    while at < len(body):
                        at += 2 + int.from_bytes(body[at : at + 2], "big") + 1
                        topics += 1
                    sock.sendall(bytes([0x90, 2 + topics]) + body[:2] + bytes([self.suback] * topics))
                elif kind == 3 and (header >> 1) & 0x03 == 1:  # PUBLISH at QoS 1: PUBACK
                    size = int.from_bytes(body[:2], "big")
                    sock.sendall(bytes([0x40, 0x02]) + body[2 + size : 4 + size])
                elif kind == 12:  # PINGREQ
                    sock.sendall(bytes([0xD0, 0x00]))
                elif kind == 14:  # DISCONNECT
                    return
        except (ConnectionError, OSError):
            return
        finally:
            sock.close()

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for sock in self._clients:
                with contextlib.suppress(OSError):  # already closed by the client
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def fake_broker() -> Iterator[Callable[..., FakeBroker]]:
    """Start minimal MQTT listeners on loopback; closed after the test."""
    started: list[FakeBroker] = []

    def start(**kwargs: Any) -> FakeBroker:
        fake = FakeBroker(**kwargs)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.close()


@pytest.fixture
def server_tls(pki: Pki) -> Callable[..., ssl.SSLContext]:
    """Broker-side TLS contexts with the test CA: the broker's certificate names
    127.0.0.1 unless ``wrong_name``; a client certificate is required unless told."""

    def make(*, wrong_name: bool = False, require_client_cert: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
        if wrong_name:
            context.load_cert_chain(str(pki.wrong_name_cert), str(pki.wrong_name_key))
        else:
            context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return context

    return make
