"""The MQTT gate topic contract on the wire: topic names, and the JSON of commands,
acknowledgements and door events, read into typed records.

Shared by the hub's client and the simulated controller, so both speak exactly what the
README documents. It knows nothing of MQTT sessions or of the hub.

Times are ISO-8601 in UTC with a ``Z`` (``2026-01-05T04:00:00Z``); a reader also takes an
explicit offset, which it converts to UTC, but never a time without one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: What the hub asks a controller to do.
COMMANDS = ("grant", "revoke", "open")

#: The ``error`` a controller acknowledges a revoke of a grant it does not hold with.
UNKNOWN_GRANT = "unknown_grant"
#: The ``error`` of a command that arrived after its ``expires_at``.
EXPIRED = "expired"
#: The ``error`` of a command the controller cannot read.
INVALID_COMMAND = "invalid_command"

DIRECTIONS = ("in", "out")

_WILDCARDS = frozenset("+#")


# ---------------------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------------------


def topic_level_problem(value: str) -> str | None:
    """Why ``value`` cannot be one topic level (a controller's gate id), or ``None``."""
    if not value:
        return "must not be empty"
    if "/" in value:
        return "must not contain '/'"
    if _WILDCARDS & set(value) or "\x00" in value:
        return "must not contain '+', '#' or NUL"
    return None


def prefix_problem(value: str) -> str | None:
    """Why ``value`` cannot be a topic prefix, or ``None``. A prefix may have several
    levels (``acme/site-7``) but no empty level and no wildcard."""
    if not value:
        return "must not be empty"
    if value.startswith("$"):
        return "must not start with '$' (reserved for the broker)"
    for level in value.split("/"):
        problem = topic_level_problem(level)
        if problem is not None:
            return "must be levels separated by single '/', without wildcards"
    return None


def command_topic(prefix: str, gate: str) -> str:
    """Where the hub publishes commands for one controller."""
    return f"{prefix}/{gate}/cmd"


def ack_topic(prefix: str, gate: str) -> str:
    """Where a controller answers the hub's commands."""
    return f"{prefix}/{gate}/ack"


def event_topic(prefix: str, gate: str) -> str:
    """Where a controller publishes its door events."""
    return f"{prefix}/{gate}/event"


def split_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """``(gate, kind)`` of a topic under ``prefix`` (``kind`` is ``cmd``, ``ack`` or
    ``event``), or ``None`` for any other topic."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if len(parts) != 2 or parts[1] not in ("cmd", "ack", "event") or topic_level_problem(parts[0]):
        return None
    return parts[0], parts[1]


# ---------------------------------------------------------------------------------------
# Times and JSON
# ---------------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """A timezone-aware time as the contract writes it (UTC, seconds, ``Z``)."""
    if moment.tzinfo is None:
        raise ValueError("a time on the wire must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, name: str) -> datetime:
    """A time from the wire, in UTC; ``ValueError`` naming the field otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must carry a timezone (Z)")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 is before the first year in UTC
        raise ValueError(f"{name} is out of range") from None


def encode(message: dict[str, Any]) -> bytes:
    """A message as the bytes to publish: compact UTF-8 JSON."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _object(payload: bytes | str) -> dict[str, Any]:
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise ValueError("payload is not JSON") from None
    if not isinstance(message, dict):
        raise ValueError("payload is not a JSON object")
    return message


def _string(message: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = message.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{name} must be a non-empty string" if required else f"{name} must be a string")
    return value


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantSpec:
    """The pass a ``grant`` installs (and a ``revoke`` removes): the hub's grant id, the
    credential a rider presents, and when it opens the door."""

    id: str
    credential: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "credential": self.credential}
        if self.valid_from is not None and self.valid_until is not None:
            wire["valid_from"] = format_time(self.valid_from)
            wire["valid_until"] = format_time(self.valid_until)
        return wire


@dataclass(frozen=True)
class Command:
    """One command from the hub to a controller (``<prefix>/<gate>/cmd``).

    ``id`` is unique per command (a retry of the same grant is a new command with the
    same ``grant.id``); ``grant`` is set for ``grant`` (with its window) and ``revoke``;
    ``reason`` says why, in a guard's or the hub's words.
    """

    id: str
    cmd: str
    door: str
    sent_at: datetime
    expires_at: datetime
    grant: GrantSpec | None = None
    reason: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "cmd": self.cmd, "door": self.door}
        if self.grant is not None:
            wire["grant"] = self.grant.to_wire()
        if self.reason:
            wire["reason"] = self.reason
        wire["sent_at"] = format_time(self.sent_at)
        wire["expires_at"] = format_time(self.expires_at)
        return wire

    @classmethod
    def from_wire(cls, payload: bytes | str) -> Command:
        """Read a command (what a controller does); ``ValueError`` when it breaks the
        contract."""
        message = _object(payload)
        command_id = _string(message, "id")
        cmd = _string(message, "cmd")
        if cmd not in COMMANDS:
            raise ValueError(f"cmd must be one of {', '.join(COMMANDS)}")
        grant = None
        if cmd in ("grant", "revoke"):
            raw = message.get("grant")
            if not isinstance(raw, dict):
                raise ValueError(f"a {cmd} command needs a grant object")
            window = cmd == "grant"
            grant = GrantSpec(
                id=_string(raw, "id"),
                credential=_string(raw, "credential"),
                valid_from=parse_time(raw.get("valid_from"), "grant.valid_from") if window else None,
                valid_until=parse_time(raw.get("valid_until"), "grant.valid_until") if window else None,
            )
            if window and grant.valid_until <= grant.valid_from:  # type: ignore[operator]
                raise ValueError("grant.valid_until must be after grant.valid_from")
        return cls(
            id=command_id,
            cmd=cmd,
            door=_string(message, "door"),
            sent_at=parse_time(message.get("sent_at"), "sent_at"),
            expires_at=parse_time(message.get("expires_at"), "expires_at"),
            grant=grant,
            reason=_string(message, "reason", required=False),
        )


@dataclass(frozen=True)
class Ack:
    """A controller's answer to one command (``<prefix>/<gate>/ack``)."""

    id: str
    ok: bool
    error: str = ""
    message: str = ""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "ok": self.ok}
        if not self.ok:
            wire["error"] = self.error
            if self.message:
                wire["message"] = self.message
        return wire

    @classmethod
    def from_wire(cls, payload: bytes | str) -> Ack:
        """Read an acknowledgement; ``ValueError`` when it breaks the contract."""
        message = _object(payload)
        ok = message.get("ok")
        if not isinstance(ok, bool):
            raise ValueError("ok must be true or false")
        error = _string(message, "error", required=False)
        return cls(
            id=_string(message, "id"),
            ok=ok,
            # A refusal without a code still reads as a refusal.
            error=error or ("" if ok else "refused"),
            message=_string(message, "message", required=False),
        )


@dataclass(frozen=True)
class DoorEvent:
    """Someone passed a controller's door (``<prefix>/<gate>/event``). ``gate`` is the
    controller's gate id, from the topic; ``credential`` is empty for a pass without one
    (a remote open, an exit button)."""

    event_id: str
    at: datetime
    gate: str
    direction: str = "in"
    credential: str = ""
    door: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "at": format_time(self.at),
            "direction": self.direction,
            "credential": self.credential,
            "door": self.door,
        }

    @classmethod
    def from_wire(cls, payload: bytes | str, gate: str) -> DoorEvent:
        """Read a door event published for ``gate``; ``ValueError`` when it breaks the
        contract."""
        message = _object(payload)
        direction = message.get("direction", "in")
        if direction not in DIRECTIONS:
            raise ValueError("direction must be in or out")
        return cls(
            event_id=_string(message, "event_id"),
            at=parse_time(message.get("at"), "at"),
            gate=gate,
            direction=direction,
            credential=_string(message, "credential", required=False),
            door=_string(message, "door", required=False),
        )
