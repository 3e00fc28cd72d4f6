"""A client for gate controllers that speak the MQTT gate contract, over one paho
connection to the broker.

It knows nothing of the hub. One :class:`GateController` holds one MQTT connection
(paho's network loop in a thread of its own), opened on first use, kept open, reconnected
by paho when it drops, and shared by every thread:

- it subscribes, at QoS 1, to the acknowledgements and door events of *every* controller
  under its prefix (``<prefix>/+/ack``, ``<prefix>/+/event``) and counts as connected only
  once the broker has confirmed both subscriptions, so no acknowledgement of a command can
  arrive before someone listens for it;
- :meth:`GateController.send` publishes a command at QoS 1 and waits for the
  acknowledgement carrying the command's id (a ``threading.Event`` per pending command);
- door events are kept in a bounded buffer per controller, duplicates (QoS 1 delivers at
  least once) dropped by event id.

Errors are its own: :class:`MqttConnectionError` (broker unreachable or refused the
connection; :class:`MqttCredentialsRefused`, :class:`MqttTlsError` and
:class:`MqttSubscriptionRefused` say more, :class:`MqttConnectTimeout` that it did not
answer in time), :class:`MqttTimeout` (no acknowledgement in time) and
:class:`MqttRefused` (the controller answered ``ok: false``).

Example::

    controller = GateController("broker.example", 8883, "acme/site-7", client_id="last100-hub-1a2b3c4d",
                                username="hub", password=secret, tls=TlsOptions(ca_file="/etc/ssl/broker-ca.pem"))
    controller.grant("north", "1", GrantSpec("G-1", "A1B2...", start, end), timeout=3)
    controller.close()
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from last100_mqtt_gate.wire import (
    Ack,
    Command,
    DoorEvent,
    GrantSpec,
    ack_topic,
    command_topic,
    encode,
    event_topic,
    split_topic,
    topic_level_problem,
)

log = logging.getLogger(__name__)

#: Every message of the contract goes at least once: commands, acknowledgements, events.
QOS = 1

#: MQTT 5 reason codes (paho reports MQTT 3.1.1 refusals in these terms too) by which a
#: broker refuses who the client says it is.
_CREDENTIALS_REFUSED = frozenset({0x86, 0x87, 0x8C})  # bad user name or password, not authorized, bad auth method

# Paho waits this long between reconnection attempts, doubling up to the maximum.
_RECONNECT_MIN_S, _RECONNECT_MAX_S = 1, 30

# SUBACKs of round trips kept for callers still to collect them.
_MAX_SUBACKS = 64


class MqttError(Exception):
    """Base class of this client's errors."""


class MqttConnectionError(MqttError):
    """The broker cannot be reached, the TLS handshake failed, or the broker refused the
    connection or a subscription."""


class MqttConnectTimeout(MqttConnectionError):
    """The broker did not answer in time: no TCP connection, CONNACK or SUBACK within the
    wait (a broker that accepts the socket and then keeps quiet), or a lost connection
    not back within it."""


class MqttCredentialsRefused(MqttConnectionError):
    """The broker refused the username and password."""


class MqttTlsError(MqttConnectionError):
    """TLS could not be set up: an unreadable CA, certificate or key file, a broker
    certificate that does not verify, or a failed handshake."""


class MqttSubscriptionRefused(MqttConnectionError):
    """The broker refused to subscribe the hub to the acknowledgement or event topics
    (usually its ACL)."""


class MqttTimeout(MqttError):
    """The controller did not acknowledge a command in time."""


class MqttRefused(MqttError):
    """The controller acknowledged a command with ``ok: false``.

    :ivar error: the controller's error code (``unknown_grant``, ``expired``, ...).
    :ivar detail: its message, if it sent one.
    """

    def __init__(self, cmd: str, gate: str, error: str, detail: str = "") -> None:
        super().__init__(f"controller {gate} refused {cmd}: {error}" + (f" ({detail})" if detail else ""))
        self.error = error
        self.detail = detail


@dataclass(frozen=True)
class TlsOptions:
    """How to secure the connection to the broker.

    :param ca_file: PEM file of the CAs that may sign the broker's certificate; the
        system's CAs when ``None``.
    :param cert_file: the hub's client certificate (PEM), for brokers that require one.
    :param key_file: its private key (PEM); required with ``cert_file``.
    :param key_password: the key file's password, if it is encrypted.
    :param insecure: do not check that the broker's certificate names the host (as
        paho's ``tls_insecure_set`` and ``mosquitto_sub --insecure``); the certificate
        chain is still verified.
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = field(default=None, repr=False)
    insecure: bool = False


def tls_context(options: TlsOptions) -> ssl.SSLContext:
    """The client-side TLS context for ``options``: the broker's certificate is always
    verified (TLS 1.2 or later), its host name unless ``insecure``.

    :raises ssl.SSLError, OSError: a file cannot be read or the key does not fit.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.cert_file:
        context.load_cert_chain(options.cert_file, options.key_file, password=options.key_password)
    context.check_hostname = not options.insecure
    context.verify_mode = ssl.CERT_REQUIRED
    return context


@dataclass
class _Pending:
    """A command waiting for its acknowledgement."""

    done: threading.Event = field(default_factory=threading.Event)
    ack: Ack | None = None
    lost: MqttError | None = None


class GateController:
    """Commands and door events of the gate controllers under one topic prefix, over one
    broker connection. Safe to use from many threads at once.

    :param host: the broker's host name or address.
    :param port: its port (1883 plain, 8883 TLS by convention).
    :param prefix: the topic prefix of the controllers (``<prefix>/<gate>/cmd``).
    :param client_id: the MQTT client id; unique on the broker (a second connection with
        the same id takes over the session and drops the first).
    :param username: sent in CONNECT when given, with ``password``.
    :param tls: TLS options; plain TCP when ``None``.
    :param keepalive_s: the MQTT keepalive interval.
    :param connect_timeout_s: the longest wait for TCP, TLS and the broker's CONNACK.
    :param command_ttl_s: a command's ``expires_at`` is this long after ``sent_at``:
        a controller drops a command that reaches it later (an ``open`` delivered after a
        broker outage must not open the door).
    :param event_buffer: door events kept per controller (the oldest are dropped).
    :param now: the clock stamped on commands.
    """

    def __init__(
        self,
        host: str,
        port: int,
        prefix: str,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        tls: TlsOptions | None = None,
        keepalive_s: int = 60,
        connect_timeout_s: float = 3.0,
        command_ttl_s: float = 30.0,
        event_buffer: int = 1000,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.client_id = client_id
        self.connect_timeout_s = connect_timeout_s
        self.command_ttl_s = command_ttl_s
        self.event_buffer = event_buffer
        self._username, self._password = username, password
        self._tls = tls
        self._keepalive_s = keepalive_s
        self._now = now
        self._subscriptions = ((ack_topic(prefix, "+"), QOS), (event_topic(prefix, "+"), QOS))

        # One lock for every piece of state the paho thread and the callers share.
        self._state = threading.Condition()
        self._client: mqtt.Client | None = None
        self._ready = False  # connected and both subscriptions confirmed
        self._failure: MqttConnectionError | None = None  # why the last connection attempt ended
        self._subscribe_mid: int | None = None
        self._granted: dict[str, int] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}  # SUBACKs of round trips, by mid
        self._closed = False
        self._pending: dict[str, _Pending] = {}
        self._events: dict[str, OrderedDict[str, DoorEvent]] = {}
        # Serialises the blocking first connect, so two callers never open two sockets.
        self._connecting = threading.Lock()

    # -- connection ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected, with the acknowledgement and event subscriptions confirmed."""
        with self._state:
            return self._ready

    @property
    def granted_qos(self) -> dict[str, int]:
        """The QoS the broker granted each subscription (after the last subscribe)."""
        with self._state:
            return dict(self._granted)

    def new_paho_client(self) -> mqtt.Client:
        """A paho client configured from this controller's options (MQTT 3.1.1, clean
        session, the callbacks of this class); not yet connected."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=True,
        )
        client.connect_timeout = self.connect_timeout_s
        client.reconnect_delay_set(_RECONNECT_MIN_S, _RECONNECT_MAX_S)
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        if self._tls is not None:
            client.tls_set_context(tls_context(self._tls))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def connect(self, timeout: float | None = None) -> None:
        """Make sure the connection is up and subscribed; a no-op when it is.

        The first call opens the connection and starts paho's network loop, which then
        reconnects by itself whenever the connection drops; later calls wait for that.
        Either way the wait ends after ``timeout`` (the connect timeout by default).

        :raises MqttCredentialsRefused: the broker refused the username and password.
        :raises MqttConnectionError: anything else kept the connection from coming up.
        """
        deadline = time.monotonic() + (self.connect_timeout_s if timeout is None else timeout)
        with self._state:
            if self._closed:
                raise MqttConnectionError("the connection to the broker was closed")
            if self._ready:
                return
        late: MqttConnectionError = MqttConnectTimeout(
            f"the broker at {self.host}:{self.port} did not accept the connection in time"
        )
        if not self._connecting.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise late
        try:
            with self._state:
                client = self._client
            if client is None:
                client = self._open(max(0.05, deadline - time.monotonic()))
            else:  # paho is reconnecting after the connection dropped
                late = MqttConnectTimeout(
                    f"the connection to the broker at {self.host}:{self.port} was lost and is not back yet"
                )
            with self._state:
                self._state.wait_for(
                    lambda: self._ready or self._failure is not None or self._closed,
                    timeout=max(0.0, deadline - time.monotonic()),
                )
                if self._closed:
                    raise MqttConnectionError("the connection to the broker was closed")
                if self._ready:
                    return
                failure = self._failure
                if failure is None:
                    raise late
                # A refusal stands until someone changes something: stop the loop rather
                # than knock on the broker every few seconds, and try afresh next call.
                self._client = None
            _stop(client)
            raise failure
        finally:
            self._connecting.release()

    def _open(self, timeout: float) -> mqtt.Client:
        """Connect a new paho client (TCP, TLS, CONNECT sent, within ``timeout``) and
        start its loop."""
        try:
            client = self.new_paho_client()
        except (OSError, ValueError) as exc:  # an unreadable CA, certificate or key file
            raise MqttTlsError(f"TLS settings cannot be used: {exc}") from None
        # Paho keeps this for its own reconnections, which have no caller waiting.
        client.connect_timeout = min(self.connect_timeout_s, timeout)
        with self._state:
            self._failure = None
        try:
            client.connect(self.host, self.port, keepalive=self._keepalive_s)
        except ssl.SSLCertVerificationError as exc:
            raise MqttTlsError(f"TLS: the broker's certificate was not accepted ({exc.verify_message})") from None
        except ssl.SSLError as exc:
            raise MqttTlsError(f"TLS handshake with {self.host}:{self.port} failed ({exc.reason})") from None
        except TimeoutError:
            raise MqttConnectTimeout(f"{self.host}:{self.port} did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise MqttConnectionError(f"{self.host}:{self.port} cannot be reached ({_describe(exc)})") from None
        with self._state:
            closed = self._closed
            if not closed:
                self._client = client
        if closed:  # close() ran while the socket was being opened
            client.disconnect()
            raise MqttConnectionError("the connection to the broker was closed")
        client.loop_start()
        return client

    def round_trip(self, timeout: float | None = None) -> float:
        """Check that the broker answers now: connect if needed, subscribe to the same
        topics again (which changes nothing, as the contract never retains) and wait for
        the broker's SUBACK. An open connection alone may be half-dead until the
        keepalive notices.

        :return: the seconds the SUBACK took.
        :raises MqttConnectionError: as :meth:`connect`, or no SUBACK in time.
        """
        deadline = time.monotonic() + (self.connect_timeout_s if timeout is None else timeout)
        self.connect(max(0.0, deadline - time.monotonic()))
        started = time.monotonic()
        with self._state:
            client = self._client
        if client is None:
            raise MqttConnectionError("the connection to the broker was closed")
        result, mid = client.subscribe(list(self._subscriptions))
        if result is not MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise MqttConnectionError(
                f"the connection to the broker at {self.host}:{self.port} was lost ({mqtt.error_string(result)})"
            )
        with self._state:
            try:
                answered = self._state.wait_for(
                    lambda: mid in self._subacks, timeout=max(0.0, deadline - time.monotonic())
                )
                reasons = self._subacks.get(mid, [])
            finally:
                self._subacks.pop(mid, None)
        if not answered:
            raise MqttConnectTimeout(f"the broker at {self.host}:{self.port} did not answer in time")
        elapsed = time.monotonic() - started
        granted = self._granted_by(reasons)
        with self._state:
            self._granted = granted
        return elapsed

    def close(self) -> None:
        """Disconnect and stop the network loop; commands still waiting fail with
        :class:`MqttConnectionError`. The controller cannot be used afterwards."""
        with self._state:
            self._closed, self._ready = True, False
            client, self._client = self._client, None
            for pending in self._pending.values():
                pending.lost = MqttConnectionError("the connection to the broker was closed")
                pending.done.set()
            self._state.notify_all()
        if client is not None:
            _stop(client)

    # -- paho callbacks (run on paho's network thread) -------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            failure_type = MqttCredentialsRefused if reason.value in _CREDENTIALS_REFUSED else MqttConnectionError
            with self._state:
                self._failure = failure_type(f"the broker refused the connection: {reason.getName()}")
                self._state.notify_all()
            # Ends paho's loop here, rather than after its next reconnection delay: a
            # refusal stands until someone changes something (see connect()).
            client.disconnect()
            return
        # Subscriptions are made again on every connection: the session is clean.
        result, mid = client.subscribe(list(self._subscriptions))
        with self._state:
            self._failure = None  # whatever ended an earlier attempt is over
            if result is MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._subscribe_mid = mid
            else:
                self._failure = MqttConnectionError(f"subscribing failed ({mqtt.error_string(result)})")
                self._state.notify_all()

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: object, mid: int, reasons: list[ReasonCode], _p: object
    ) -> None:
        with self._state:
            if mid != self._subscribe_mid:
                # A round trip's: kept for the caller, who may learn its mid only after
                # this arrives. One that gave up waiting leaves its answer; keep few.
                self._subacks[mid] = list(reasons)
                while len(self._subacks) > _MAX_SUBACKS:
                    del self._subacks[next(iter(self._subacks))]
                self._state.notify_all()
                return
            self._subscribe_mid = None  # answered; message ids wrap around
            try:
                self._granted = self._granted_by(reasons)
                self._ready = True
            except MqttSubscriptionRefused as exc:
                self._failure = exc
            self._state.notify_all()

    def _granted_by(self, reasons: list[ReasonCode]) -> dict[str, int]:
        """The QoS a SUBACK granted each subscription.

        :raises MqttSubscriptionRefused: the broker refused one (usually its ACL).
        """
        refused = [
            topic for (topic, _qos), reason in zip(self._subscriptions, reasons, strict=False) if reason.is_failure
        ]
        if refused or len(reasons) != len(self._subscriptions):
            raise MqttSubscriptionRefused(
                f"the broker refused the subscription to {', '.join(refused) or 'the topics'}"
            )
        return {topic: reason.value for (topic, _qos), reason in zip(self._subscriptions, reasons, strict=True)}

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _p: object
    ) -> None:
        with self._state:
            if self._ready and not self._closed:
                log.warning("MQTT connection to %s:%s lost (%s); reconnecting", self.host, self.port, reason.getName())
            self._ready = False
            self._state.notify_all()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: object) -> None:
        log.info("reconnecting to the MQTT broker at %s:%s failed; retrying", self.host, self.port)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        where = split_topic(self.prefix, message.topic)
        if where is None:
            return
        gate, kind = where
        try:
            if kind == "ack":
                self._acknowledged(Ack.from_wire(message.payload))
            elif kind == "event":
                self._record(DoorEvent.from_wire(message.payload, gate))
        except ValueError as exc:
            log.warning("dropped a malformed %s from controller %s: %s", kind, gate, exc)

    def _acknowledged(self, ack: Ack) -> None:
        with self._state:
            pending = self._pending.get(ack.id)
            if pending is None:
                # Late (its command already timed out), repeated, or another hub
                # process's command: every subscriber of the prefix sees every ack.
                return
            pending.ack = ack
            pending.done.set()

    def _record(self, event: DoorEvent) -> None:
        with self._state:
            events = self._events.setdefault(event.gate, OrderedDict())
            if event.event_id in events:
                return
            events[event.event_id] = event
            while len(events) > self.event_buffer:
                events.popitem(last=False)

    # -- commands -------------------------------------------------------------------------

    def send(
        self, gate: str, cmd: str, door: str, *, timeout: float, grant: GrantSpec | None = None, reason: str = ""
    ) -> Ack:
        """Publish one command to a controller and wait for its acknowledgement.

        :param gate: the controller's gate id (one topic level).
        :param timeout: the longest wait for the whole exchange, connecting included.
        :return: the acknowledgement (``ok`` is true).
        :raises MqttTimeout: no acknowledgement in time.
        :raises MqttRefused: the controller answered ``ok: false``.
        :raises MqttConnectionError: the broker cannot be used.
        """
        problem = topic_level_problem(gate)
        if problem is not None:
            raise ValueError(f"gate id {gate!r} {problem}")
        deadline = time.monotonic() + timeout
        self.connect(min(self.connect_timeout_s, timeout))
        sent_at = self._now()
        command = Command(
            id=str(uuid.uuid4()),
            cmd=cmd,
            door=door,
            sent_at=sent_at,
            expires_at=sent_at + timedelta(seconds=self.command_ttl_s),
            grant=grant,
            reason=reason,
        )
        pending = _Pending()
        with self._state:
            client = self._client
            if client is None:
                raise MqttConnectionError("the connection to the broker was closed")
            # Registered before publishing: the acknowledgement may beat publish()'s return.
            self._pending[command.id] = pending
        try:
            info = client.publish(command_topic(self.prefix, gate), encode(command.to_wire()), qos=QOS, retain=False)
            if info.rc is not MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise MqttConnectionError(f"publishing to the broker failed ({mqtt.error_string(info.rc)})")
            pending.done.wait(max(0.0, deadline - time.monotonic()))
        finally:
            with self._state:
                self._pending.pop(command.id, None)
        if pending.lost is not None:
            raise pending.lost
        ack = pending.ack
        if ack is None:
            raise MqttTimeout(f"controller {gate} did not acknowledge {cmd} within {timeout:g} s")
        if not ack.ok:
            raise MqttRefused(cmd, gate, ack.error, ack.message)
        return ack

    def grant(self, gate: str, door: str, grant: GrantSpec, *, timeout: float) -> Ack:
        """Install a pass at a controller's door (the controller replaces one it already
        holds under the same grant id)."""
        return self.send(gate, "grant", door, grant=grant, timeout=timeout)

    def revoke(self, gate: str, door: str, grant: GrantSpec, *, reason: str = "", timeout: float) -> Ack:
        """Remove a pass; a controller that does not hold it refuses with ``unknown_grant``."""
        return self.send(gate, "revoke", door, grant=grant, reason=reason, timeout=timeout)

    def open(self, gate: str, door: str, *, reason: str, timeout: float) -> Ack:
        """Open a door once, now."""
        return self.send(gate, "open", door, reason=reason, timeout=timeout)

    # -- door events ----------------------------------------------------------------------

    def events(self, gate: str, since: datetime) -> list[DoorEvent]:
        """The door events received from a controller that happened after ``since``,
        oldest first (only those received while connected, at most ``event_buffer``)."""
        with self._state:
            held = list(self._events.get(gate, {}).values())
        return sorted((e for e in held if e.at > since), key=lambda e: (e.at, e.event_id))


def _stop(client: mqtt.Client) -> None:
    """Disconnect a paho client and stop its loop (never from inside a callback)."""
    client.disconnect()
    client.loop_stop()


def _describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
