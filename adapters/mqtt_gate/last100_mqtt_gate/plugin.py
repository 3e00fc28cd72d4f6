"""The MQTT gate access plugin: the hub's property-side hooks, answered by barrier gates
and door controllers that speak the MQTT gate contract (see the README).

This module only maps: :class:`~last100_mqtt_gate.client.GateController` does the work
and raises the errors of :mod:`last100_mqtt_gate.client`; here they become the hub's
model and the errors of :mod:`hub.core.errors`:

==========================================  ==========================================
MQTT                                        hub
==========================================  ==========================================
no acknowledgement within ``timeout_s``     ``UpstreamTimeout``
broker silent (no CONNACK/SUBACK in time)   ``UpstreamTimeout``
controller answered ``ok: false``           ``UpstreamError`` (naming its error code)
broker unreachable, TLS failed, refused     ``UpstreamError``; ``Health(ok=False)``
revoke answered ``unknown_grant``           ``True``: the pass is gone either way
==========================================  ==========================================

Each hub gate is one controller: ``gate_ids`` maps the hub's gate id to the controller's
(else the hub's id is used), and ``gate.door_no`` names the door on it.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.core.clients import ClientCache, load_settings
from hub.core.clock import Clock
from hub.core.errors import SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import AccessEvent, AccessGrant, Connection, Gate, GrantRequest, Health, PassKind, PluginInfo
from last100_mqtt_gate import __version__
from last100_mqtt_gate.client import (
    GateController,
    MqttConnectionError,
    MqttConnectTimeout,
    MqttCredentialsRefused,
    MqttRefused,
    MqttSubscriptionRefused,
    MqttTimeout,
    MqttTlsError,
    TlsOptions,
)
from last100_mqtt_gate.credentials import derive_credential
from last100_mqtt_gate.settings import MqttGateSettings
from last100_mqtt_gate.wire import UNKNOWN_GRANT, GrantSpec, topic_level_problem

#: The plugin's name: what connections name in ``connection.plugin``.
NAME = "mqtt-gate"


@dataclass(frozen=True)
class _Link:
    """Everything the plugin keeps for one connection, built from its settings."""

    values: dict[str, Any]
    controller: GateController


def _new_controller(values: dict[str, Any], now: Callable[[], datetime]) -> GateController:
    """A controller client for a connection's loaded settings, with a client id of its
    own: every hub process (web workers, the scheduler) holds its own connection."""
    tls = None
    if values["tls"]:
        tls = TlsOptions(
            ca_file=values["tls_ca_file"],
            cert_file=values["tls_cert_file"],
            key_file=values["tls_key_file"],
            key_password=values["tls_key_password"],
            insecure=values["tls_insecure"],
        )
    return GateController(
        values["host"],
        values["port"],
        values["topic_prefix"],
        client_id=f"{values['client_id_prefix']}-{secrets.token_hex(4)}",
        username=values["username"],
        password=values["password"],
        tls=tls,
        keepalive_s=values["keepalive_s"],
        connect_timeout_s=values["connect_timeout_s"],
        command_ttl_s=values["command_ttl_s"],
        event_buffer=values["event_buffer"],
        now=now,
    )


@contextlib.contextmanager
def _upstream(connection: Connection, gate: str, what: str) -> Iterator[None]:
    """Put the client's errors in the hub's terms."""
    try:
        yield
    except MqttTimeout as exc:
        raise UpstreamTimeout(
            f"{connection.name}: controller {gate} did not acknowledge {what} within {connection.timeout_s:g} s"
        ) from exc
    except MqttRefused as exc:
        raise UpstreamError(f"{connection.name}: {exc}") from exc
    except MqttCredentialsRefused as exc:
        raise UpstreamError(f"{connection.name}: the broker refused the hub's username and password") from exc
    except MqttConnectTimeout as exc:
        raise UpstreamTimeout(f"{connection.name}: {exc}") from exc
    except MqttConnectionError as exc:
        raise UpstreamError(f"{connection.name}: {exc}") from exc


class MqttGatePlugin:
    """Connects the hub to gate and door controllers through an MQTT broker.

    The hub creates it with no arguments (a class entry point). One broker connection
    per hub connection is opened on first use, kept open and shared by every thread; it
    is replaced (and the old one closed) when the connection's settings change, and
    opened anew in a process forked from the one that opened it. The connection's
    ``timeout_s`` is read at every call: changing it keeps the broker connection.

    :param clock: stamps ``sent_at`` on commands.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        # A call still using a replaced connection fails with an upstream error; its
        # network thread must not outlive the settings it was made from.
        self._links: ClientCache[_Link] = ClientCache(
            self._open, on_replace=lambda link: link.controller.close(), track_timeout=False
        )

    # -- per-connection state ---------------------------------------------------------

    def _open(self, connection: Connection) -> _Link:
        values = load_settings(MqttGateSettings, connection)
        return _Link(values=values, controller=_new_controller(values, self._clock.now))

    @staticmethod
    def _gate_id(link: _Link, connection: Connection, gate: Gate) -> str:
        gate_id = link.values["gate_ids"].get(gate.id, gate.id)
        problem = topic_level_problem(gate_id)
        if problem is not None:
            raise UpstreamError(
                f"{connection.name}: gate id {gate_id!r} cannot be a topic level ({problem}); map it in gate_ids"
            )
        return gate_id

    def close(self) -> None:
        """Close every broker connection this plugin opened (tests, a shutting-down
        process)."""
        self._links.close()

    # -- metadata ---------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=NAME,
            kinds={"access"},
            version=__version__,
            capabilities={"qr_pass", "revoke", "remote_open", "access_events"},
            description=(
                "Barrier gates and door controllers driven over MQTT: QoS 1 commands acknowledged by id, "
                "door events from the broker, TLS and broker credentials."
            ),
            settings_schema=MqttGateSettings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            link = self._links.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        values = link.values
        where = f"{values['host']}:{values['port']}"
        try:
            seconds = link.controller.round_trip(min(values["connect_timeout_s"], connection.timeout_s))
        except MqttCredentialsRefused:
            return Health(ok=False, message=f"the broker at {where} refused the username and password")
        except MqttTlsError as exc:
            return Health(ok=False, message=f"{exc}: check tls_ca_file, tls_cert_file, tls_key_file and tls_insecure")
        except MqttSubscriptionRefused as exc:
            return Health(ok=False, message=f"{exc}: check the broker's ACL for username and topic_prefix")
        except MqttConnectionError as exc:
            return Health(ok=False, message=f"{exc}: check host, port and tls")
        qos = sorted(set(link.controller.granted_qos.values()))
        return Health(
            ok=True,
            message=(
                f"connected to {where}{' over TLS' if values['tls'] else ''} as {link.controller.client_id}, "
                f"subscribed to {values['topic_prefix']}/+/ack and /+/event at QoS {'/'.join(map(str, qos))}"
            ),
            latency_ms=round(seconds * 1000, 1),
        )

    # -- property side ----------------------------------------------------------------

    @hookimpl
    def hub_grant_access(self, connection: Connection, gate: Gate, grant: GrantRequest) -> AccessGrant:
        link = self._links.get(connection)
        gate_id = self._gate_id(link, connection, gate)
        credential = derive_credential(link.values["credential_secret"], grant.grant_id)
        spec = GrantSpec(grant.grant_id, credential, grant.valid_from, grant.valid_until)
        with _upstream(connection, gate_id, "the grant"):
            link.controller.grant(gate_id, gate.door_no, spec, timeout=connection.timeout_s)
        return AccessGrant(
            grant_id=grant.grant_id,
            kind=PassKind.QR,
            value=credential,
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
            device_ref=f"{gate_id}/{gate.door_no}",
        )

    @hookimpl
    def hub_revoke_access(self, connection: Connection, gate: Gate, grant: AccessGrant) -> bool:
        link = self._links.get(connection)
        gate_id = self._gate_id(link, connection, gate)
        spec = GrantSpec(grant.grant_id, grant.value)
        with _upstream(connection, gate_id, "the revocation"):
            try:
                link.controller.revoke(
                    gate_id, gate.door_no, spec, reason="revoked by the hub", timeout=connection.timeout_s
                )
            except MqttRefused as exc:
                if exc.error != UNKNOWN_GRANT:
                    raise
        return True

    @hookimpl
    def hub_open_door(self, connection: Connection, gate: Gate, reason: str) -> bool:
        link = self._links.get(connection)
        gate_id = self._gate_id(link, connection, gate)
        with _upstream(connection, gate_id, "the remote open"):
            link.controller.open(gate_id, gate.door_no, reason=reason, timeout=connection.timeout_s)
        return True

    @hookimpl
    def hub_access_events(self, connection: Connection, gate: Gate, since: datetime) -> list[AccessEvent]:
        link = self._links.get(connection)
        gate_id = self._gate_id(link, connection, gate)
        with _upstream(connection, gate_id, "events"):
            # Events arrive only while subscribed: the first call in a process starts
            # listening, and an unusable broker is reported rather than answered with
            # an empty list that looks like a quiet gate.
            link.controller.connect(min(link.values["connect_timeout_s"], connection.timeout_s))
        return [
            AccessEvent(
                event_id=e.event_id,
                occurred_at=e.at,
                direction=e.direction,
                credential_value=e.credential,
                door_no=e.door,
                gate_id=gate.id,
            )
            for e in link.controller.events(gate_id, since)
            # A controller may serve several hub gates, one door each.
            if e.door in ("", gate.door_no)
        ]
