"""A gate controller speaking the MQTT gate contract, for tests, and for vendors and
integrators who want to see the contract work against their broker before building it.

It connects to a broker as the controller of one gate, subscribes to
``<prefix>/<gate>/cmd`` at QoS 1, keeps the passes it is granted with their validity
windows, and acknowledges every command on ``<prefix>/<gate>/ack``:

- ``grant`` installs or replaces the pass held under ``grant.id``;
- ``revoke`` marks it revoked (``unknown_grant`` when it holds no such pass);
- ``open`` records a remote open (``expired`` when it arrives after ``expires_at``).

:meth:`SimulatedController.swipe` is a rider presenting a credential at the door: it
checks the pass's window and revocation and, when the door opens, publishes a door event
on ``<prefix>/<gate>/event``. For tests it can stay silent or refuse every command
(:meth:`SimulatedController.set_mode`).

Run it on its own with ``python -m last100_mqtt_gate.simulator --prefix acme/site-7
--gate north``; it prints the connection settings to use and reads ``swipe CREDENTIAL
[in|out]``, ``mode ack|silent|refuse`` and ``grants`` from its standard input.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from last100_mqtt_gate.client import QOS
from last100_mqtt_gate.wire import (
    EXPIRED,
    INVALID_COMMAND,
    UNKNOWN_GRANT,
    Ack,
    Command,
    DoorEvent,
    ack_topic,
    command_topic,
    encode,
    event_topic,
    prefix_problem,
    topic_level_problem,
)

MODES = ("ack", "silent", "refuse")


@dataclass(frozen=True)
class HeldPass:
    """A pass the controller holds."""

    grant_id: str
    credential: str
    door: str
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Received:
    """A command as it reached the controller, with the MQTT delivery it came with."""

    command: Command | None  # None when it could not be read
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class SwipeResult:
    """What the door did with a presented credential. ``reason`` is ``opened``,
    ``unknown``, ``revoked``, ``not_yet_valid``, ``expired`` or ``wrong_door``;
    ``event`` is the door event published when it opened."""

    accepted: bool
    reason: str
    event: DoorEvent | None = None


class SimulatedController:
    """One simulated gate controller on a broker.

    :param prefix: the contract's topic prefix.
    :param gate: this controller's gate id.
    :param now: the controller's clock (validity windows, ``expires_at``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1883,
        *,
        prefix: str,
        gate: str,
        username: str | None = None,
        password: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        for value, problem in ((prefix, prefix_problem(prefix)), (gate, topic_level_problem(gate))):
            if problem is not None:
                raise ValueError(f"{value!r} {problem}")
        self.host, self.port, self.prefix, self.gate = host, port, prefix, gate
        self._now = now
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._mode, self._refusal = "ack", "refused"
        self._passes: dict[str, HeldPass] = {}
        self._received: list[Received] = []
        self._opens: list[Command] = []
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sim-{gate}-{secrets.token_hex(4)}"[:64],
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> SimulatedController:
        """Connect, subscribe to the command topic and wait until the broker confirmed
        it. :raises ConnectionError: not subscribed within ``timeout``."""
        self._client.connect(self.host, self.port, keepalive=30)
        self._client.loop_start()
        if not self._ready.wait(timeout):
            self.stop()
            raise ConnectionError(f"simulated controller {self.gate} could not subscribe at {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> SimulatedController:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if not reason.is_failure:
            client.subscribe(command_topic(self.prefix, self.gate), qos=QOS)

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _mid: int, reasons: list[ReasonCode], _p: object) -> None:
        if reasons and not reasons[0].is_failure:
            self._ready.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, _r: ReasonCode, _p: object) -> None:
        self._ready.clear()

    # -- what tests steer and look at -------------------------------------------------

    def set_mode(self, mode: str, error: str = "refused") -> None:
        """``ack`` answers commands, ``silent`` never answers, ``refuse`` answers every
        command with ``ok: false`` and ``error``."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self._lock:
            self._mode, self._refusal = mode, error

    @property
    def passes(self) -> dict[str, HeldPass]:
        """The passes held, by grant id (revoked ones included)."""
        with self._lock:
            return dict(self._passes)

    @property
    def received(self) -> list[Received]:
        """Every command that reached the controller, in order."""
        with self._lock:
            return list(self._received)

    @property
    def opens(self) -> list[Command]:
        """The remote opens carried out."""
        with self._lock:
            return list(self._opens)

    # -- commands ---------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            command: Command | None = Command.from_wire(message.payload)
            problem = ""
        except ValueError as exc:
            command, problem = None, str(exc)
        with self._lock:
            self._received.append(Received(command, bytes(message.payload), message.qos, bool(message.retain)))
            mode, refusal = self._mode, self._refusal
        if mode == "silent":
            return
        if command is None:
            command_id = _command_id(message.payload)
            if command_id:  # without an id there is nobody to answer
                self._answer(client, Ack(command_id, False, INVALID_COMMAND, problem))
            return
        if mode == "refuse":
            self._answer(client, Ack(command.id, False, refusal, "the simulated controller refuses every command"))
            return
        self._answer(client, self._carry_out(command))

    def _carry_out(self, command: Command) -> Ack:
        now = self._now()
        with self._lock:
            if command.cmd == "open":
                if now > command.expires_at:
                    return Ack(command.id, False, EXPIRED, "the open command arrived after expires_at")
                # QoS 1 may deliver the same command twice: the door opens once.
                if all(o.id != command.id for o in self._opens):
                    self._opens.append(command)
                return Ack(command.id, True)
            grant = command.grant
            assert grant is not None  # Command.from_wire requires one for grant and revoke
            if command.cmd == "grant":
                # Command.from_wire requires the window of a grant.
                assert grant.valid_from is not None and grant.valid_until is not None
                # The same grant id replaces the pass: a retried grant makes no second one.
                self._passes[grant.id] = HeldPass(
                    grant.id, grant.credential, command.door, grant.valid_from, grant.valid_until
                )
                return Ack(command.id, True)
            held = self._passes.get(grant.id)
            if held is None:
                return Ack(command.id, False, UNKNOWN_GRANT, "no pass is held under this grant id")
            if held.revoked_at is None:
                self._passes[grant.id] = replace(held, revoked_at=now)
            return Ack(command.id, True)

    def _answer(self, client: mqtt.Client, ack: Ack) -> None:
        client.publish(ack_topic(self.prefix, self.gate), encode(ack.to_wire()), qos=QOS)

    # -- the door -----------------------------------------------------------------------

    def swipe(
        self, credential: str, at: datetime | None = None, *, direction: str = "in", door: str | None = None
    ) -> SwipeResult:
        """A rider presents ``credential`` at the door at ``at`` (now by default). When
        the pass is valid, the door opens and a door event is published (and delivered
        to the broker before this returns)."""
        # Whole seconds: the contract's times have no fractions, and the event the hub
        # reads back must be the event returned here.
        at = (at or self._now()).replace(microsecond=0)
        with self._lock:
            held = next((p for p in self._passes.values() if p.credential == credential), None)
        if held is None:
            return SwipeResult(False, "unknown")
        if held.revoked_at is not None:
            return SwipeResult(False, "revoked")
        if at < held.valid_from:
            return SwipeResult(False, "not_yet_valid")
        if at > held.valid_until:
            return SwipeResult(False, "expired")
        if door is not None and door != held.door:
            return SwipeResult(False, "wrong_door")
        event = DoorEvent(
            event_id=str(uuid.uuid4()),
            at=at,
            gate=self.gate,
            direction=direction,
            credential=credential,
            door=held.door,
        )
        self.publish_event(event)
        return SwipeResult(True, "opened", event)

    def publish_event(self, event: DoorEvent, timeout: float = 5.0) -> None:
        """Publish a door event at QoS 1 and wait for the broker's PUBACK (tests also
        use it to send one event twice, as QoS 1 may)."""
        info = self._client.publish(event_topic(self.prefix, self.gate), encode(event.to_wire()), qos=QOS)
        if info.rc is not MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publishing the door event failed ({mqtt.error_string(info.rc)})")
        info.wait_for_publish(timeout)


def _command_id(payload: bytes) -> str:
    try:
        message = json.loads(payload)
    except ValueError:
        return ""
    command_id = message.get("id") if isinstance(message, dict) else None
    return command_id if isinstance(command_id, str) else ""


def settings_for(
    host: str, port: int, prefix: str, username: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """Settings of an ``mqtt-gate`` connection that reaches simulated controllers under
    ``prefix`` (with a fresh ``credential_secret``)."""
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "topic_prefix": prefix,
        "credential_secret": secrets.token_urlsafe(32),
    }
    if username is not None:
        settings.update(username=username, password=password)
    return settings


def _console(controller: SimulatedController) -> None:
    """Commands typed on standard input, until it ends."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "swipe" and len(words) in (2, 3):
            result = controller.swipe(words[1], direction=words[2] if len(words) == 3 else "in")
            print(f"{'opened' if result.accepted else 'refused'}: {result.reason}", file=sys.stderr)
        elif words[0] == "mode" and len(words) == 2 and words[1] in MODES:
            controller.set_mode(words[1])
            print(f"mode {words[1]}", file=sys.stderr)
        elif words == ["grants"]:
            for held in controller.passes.values():
                state = "revoked" if held.revoked_at else "valid"
                print(
                    f"{held.grant_id} door {held.door} {held.credential} {held.valid_from:%H:%M:%S}-"
                    f"{held.valid_until:%H:%M:%S} {state}",
                    file=sys.stderr,
                )
        else:
            print("commands: swipe CREDENTIAL [in|out] | mode ack|silent|refuse | grants", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """``python -m last100_mqtt_gate.simulator``: one simulated controller on a broker;
    prints the settings of a connection that reaches it."""
    parser = argparse.ArgumentParser(prog="python -m last100_mqtt_gate.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="the broker's address (default: loopback)")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--prefix", default="last100/demo", help="the topic prefix (default: last100/demo)")
    parser.add_argument("--gate", default="north", help="this controller's gate id (default: north)")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--mode", choices=MODES, default="ack")
    args = parser.parse_args(argv)
    controller = SimulatedController(
        args.host, args.port, prefix=args.prefix, gate=args.gate, username=args.username, password=args.password
    )
    controller.set_mode(args.mode)
    try:
        controller.start()
    except (OSError, ConnectionError) as exc:
        parser.exit(1, f"cannot reach the broker at {args.host}:{args.port}: {exc}\n")
    print(f"simulated controller {args.gate!r} on {args.host}:{args.port}; settings for an mqtt-gate connection:",
          file=sys.stderr)  # fmt: skip
    # Flushed at once: whoever reads the settings from a pipe needs them before anything else.
    print(
        json.dumps(settings_for(args.host, args.port, args.prefix, args.username, args.password), indent=2), flush=True
    )
    print(
        f"the hub gate's id must be {args.gate!r} (or map it in gate_ids); "
        "type: swipe CREDENTIAL [in|out] | mode ack|silent|refuse | grants",
        file=sys.stderr,
    )
    try:
        _console(controller)
        threading.Event().wait()  # standard input ended: keep serving until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
