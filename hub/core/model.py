"""The hub's domain model: the plain, typed values that hooks take and return.

Every value here is a frozen dataclass or an enum, so a plugin can neither mutate what
the hub hands it nor be surprised by a dict with a missing key. Times are timezone-aware
``datetime`` objects in UTC unless a field says otherwise.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

# ---------------------------------------------------------------------------
# Plugins and connections
# ---------------------------------------------------------------------------


class PluginKind(enum.StrEnum):
    """What a plugin connects to. A plugin may be of several kinds."""

    PLATFORM = "platform"  # a delivery platform: riders, orders, pushes
    ACCESS = "access"  # gate and door access control
    LOCKER = "locker"  # smart food lockers
    VISITOR = "visitor"  # a property's visitor-management system
    POLICY = "policy"  # votes on entries (hub_evaluate_entry)
    CORE = "core"  # the hub's own built-in plugins


_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def _frozen_set(values: Any) -> frozenset:
    if isinstance(values, str):
        values = [values]
    return frozenset(values)


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin says about itself (returned by ``hub_plugin_info``).

    ``settings_schema`` is a marshmallow ``Schema`` class describing one connection's
    settings; fields holding secrets carry ``metadata={"secret": True}`` so the hub
    encrypts them at rest and never shows or logs them.
    """

    name: str
    kinds: frozenset[PluginKind]
    version: str
    capabilities: frozenset[str] = frozenset()
    description: str = ""
    docs_url: str = ""
    settings_schema: type | None = None
    #: JSON body the hub answers an accepted push with (platforms expect their own).
    push_ack: Mapping[str, Any] = field(default_factory=lambda: {"status": "ok"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", frozenset(PluginKind(k) for k in _frozen_set(self.kinds)))
        object.__setattr__(self, "capabilities", _frozen_set(self.capabilities))

    @staticmethod
    def valid_name(name: str) -> bool:
        return bool(_NAME.match(name))


@dataclass(frozen=True)
class Health:
    """Result of ``hub_check_connection``: can the hub reach the system, with these
    credentials? ``message`` is shown to the person who configured the connection."""

    ok: bool
    message: str = ""
    latency_ms: float | None = None


@dataclass(frozen=True)
class JobOutcome:
    """What a job run did: ``items`` handled, of which ``errors`` failed (to be tried
    again on a later run). A job that raises has failed as a whole instead."""

    items: int
    errors: int = 0


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job a plugin contributes (returned in a list by ``hub_jobs``).

    ``trigger`` and ``trigger_args`` are APScheduler 3 trigger arguments, e.g.
    ``trigger="interval", trigger_args={"minutes": 5}``. ``func`` receives a
    :class:`hub.core.jobs.JobContext` and returns the number of items it handled, or a
    :class:`JobOutcome` with how many of them failed.

    ``partitions`` (optional) splits a run into independent parts for Celery workers:
    called with a context (whose ``partition`` is ``None``) when the job is due, it
    returns the keys of the parts that have work, e.g. connection ids; each part then
    runs as its own task with ``context.partition`` set to its key. ``None``: the job
    always runs whole. In one process the job always runs whole (``partition`` None).
    """

    id: str
    func: Callable[..., JobOutcome | int | None]
    trigger: str
    trigger_args: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    partitions: Callable[..., Sequence[str]] | None = None


@dataclass(frozen=True)
class Connection:
    """One configured instance of a plugin: a platform account, an access controller,
    a locker bank. ``settings`` are already validated against the plugin's schema and
    include decrypted secrets; never log them."""

    id: str
    plugin: str
    name: str
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    timeout_s: float = 3.0
    freshness_s: int = 120
    enabled: bool = True


# ---------------------------------------------------------------------------
# Communities and gates
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CommunityPolicy:
    """A community's entry rules, read by the default policy plugin.

    ``allowed_platforms`` holds plugin names or connection ids; empty allows every
    platform connection the community has. ``opening`` and ``closing`` are local wall
    clock times in the community's timezone; ``None`` means always open. When closing is
    earlier than opening the window runs over midnight.
    """

    allowed_platforms: frozenset[str] = frozenset()
    opening: time | None = None
    closing: time | None = None
    require_active_order: bool = True
    max_pass_minutes: int = 30
    exit_grace_minutes: int = 5
    max_entries_per_hour: int = 6
    require_presence: bool = False
    lockers_only: bool = False
    visitor_record: bool = False
    retention_days: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_platforms", _frozen_set(self.allowed_platforms))


@dataclass(frozen=True)
class Building:
    """A building (or unit entrance) inside a community."""

    id: str
    name: str
    door_no: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Community:
    """A residential community. ``platform_refs`` maps a platform connection id to the
    community's id at that platform; ``geofence`` is a list of (latitude, longitude)
    points."""

    id: str
    name: str
    address: str = ""
    timezone: str = "Asia/Shanghai"
    policy: CommunityPolicy = field(default_factory=CommunityPolicy)
    buildings: tuple[Building, ...] = ()
    geofence: tuple[tuple[float, float], ...] = ()
    platform_refs: Mapping[str, str] = field(default_factory=dict)

    def platform_ref(self, connection: Connection) -> str:
        """The community's id at a platform (falls back to the hub's own id)."""
        return self.platform_refs.get(connection.id, self.id)


@dataclass(frozen=True)
class Gate:
    """A gate or door riders pass. ``access_connection_id`` names the access-control
    connection that issues passes there (``None``: a guard checks the pass by eye)."""

    id: str
    community_id: str
    name: str
    code: str
    door_no: str = "1"
    access_connection_id: str | None = None


# ---------------------------------------------------------------------------
# Riders and orders
# ---------------------------------------------------------------------------


class CredentialKind(enum.StrEnum):
    TOKEN = "token"  # a platform token handed over by the rider app
    TYPED_CODE = "typed_code"  # a short code the rider typed on the rider page
    ENTRY_CODE = "entry_code"  # a signed offline entry code read at the gate


@dataclass(frozen=True)
class Credential:
    """What a rider presents. ``value`` is secret: never log it."""

    kind: CredentialKind
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CredentialKind(self.kind))


class RiderStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RiderIdentity:
    """Who the rider is, as the platform vouches (returned by ``hub_verify_rider``).

    Names and phones are masked by the platform (``"王*"``, ``"138****5678"``); the hub
    never asks for more. ``cache_seconds`` says how long the hub may reuse this answer
    for the same credential. ``order_refs`` carries order references that came with the
    credential itself (a signed entry code names its orders).

    ``single_use_id`` marks a credential that may open the gate only once (the ``jti`` of
    a signed entry code): the hub records it and refuses it the second time, across
    every process of the deployment, until ``single_use_until``.
    """

    platform_ref: str
    masked_name: str = ""
    masked_phone: str = ""
    status: RiderStatus = RiderStatus.ACTIVE
    cache_seconds: int = 0
    order_refs: tuple[str, ...] = ()
    single_use_id: str = ""
    single_use_until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", RiderStatus(self.status))


@dataclass(frozen=True)
class RiderClaim:
    """The rider as far as the hub knows when it asks for orders.

    ``platform_ref`` is set when the identity is already known (cached, or read from a
    signed entry code); otherwise the platform must resolve the rider from the
    ``credential``. This lets the hub ask for identity and orders at the same time.
    """

    credential: Credential
    platform_ref: str | None = None


class OrderStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    PICKED_UP = "picked_up"
    DELIVERING = "delivering"
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)

    @property
    def in_progress(self) -> bool:
        """Being delivered: a rider may need to enter for it."""
        return self in (OrderStatus.PICKED_UP, OrderStatus.DELIVERING, OrderStatus.ARRIVED)


@dataclass(frozen=True)
class Order:
    """One delivery order, as the platform reports it.

    ``community_ref`` is the community's id at the platform; ``building`` is the
    building name or door number from the delivery address. ``updated_at`` is when the
    platform last changed the status.
    """

    ref: str
    status: OrderStatus
    rider_ref: str = ""
    community_ref: str = ""
    building: str = ""
    address: str = ""
    eta: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OrderStatus(self.status))


# ---------------------------------------------------------------------------
# Pushes and publishing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PushRequest:
    """An inbound HTTP push, independent of any web framework.

    ``url`` is the URL as the sender addressed it, without the query string (some
    platforms sign it);
    ``query`` holds the query-string parameters and ``form`` the form fields of an
    ``application/x-www-form-urlencoded`` body (empty otherwise). Header names are
    case-insensitive: look them up in lower case.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})


@dataclass(frozen=True)
class AccessEvent:
    """A door event: someone passed a gate, in or out."""

    event_id: str
    occurred_at: datetime
    direction: str = "in"  # "in" or "out"
    credential_value: str = ""
    door_no: str = ""
    gate_id: str = ""


@dataclass(frozen=True)
class PushEvent:
    """One event parsed from a push (returned in a list by ``hub_parse_push``).

    ``event_id`` is unique per connection; the hub drops repeats. Exactly one of
    ``order``, ``rider_status`` or ``access_event`` says what happened.
    """

    event_id: str
    occurred_at: datetime
    order: Order | None = None
    rider_ref: str = ""
    rider_status: RiderStatus | None = None
    access_event: AccessEvent | None = None


@dataclass(frozen=True)
class Zone:
    """A marked area: a rider parking area, a locker bank, a rest station, a no-go
    area or a riding route. ``points`` is a polygon or a path of (lat, lon)."""

    id: str
    kind: str  # parking, locker, rest_station, no_go, route
    name: str
    points: tuple[tuple[float, float], ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class CommunityProfile:
    """What a community publishes to platforms so riders see its rules in their app."""

    community: Community
    gates: tuple[Gate, ...] = ()
    zones: tuple[Zone, ...] = ()
    rules_zh: str = ""
    rules_en: str = ""
    version: int = 1


@dataclass(frozen=True)
class Receipt:
    """A platform's acknowledgement of something the hub sent."""

    accepted: bool
    ref: str = ""
    message: str = ""


@dataclass(frozen=True)
class Notice:
    """A short message for a rider, in both languages."""

    kind: str  # e.g. "gate_open", "use_locker", "pass_expired"
    text_zh: str
    text_en: str
    data: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------
# Passes, visitors and lockers
# ---------------------------------------------------------------------------


class PassKind(enum.StrEnum):
    QR = "qr"  # a code the gate's scanner reads
    CARD = "card"  # a card number (often carried in a QR)
    PIN = "pin"  # digits typed at a keypad
    REMOTE_OPEN = "remote_open"  # the device opened the door once
    GUARD = "guard"  # no device: the guard checks the pass on the rider's phone


@dataclass(frozen=True)
class GrantRequest:
    """What the hub asks an access controller for. ``grant_id`` is stable for one
    entry: granting the same id twice must not create two credentials."""

    grant_id: str
    rider_ref: str
    valid_from: datetime
    valid_until: datetime
    label: str = ""


@dataclass(frozen=True)
class AccessGrant:
    """A pass issued at a gate (returned by ``hub_grant_access``)."""

    grant_id: str
    kind: PassKind
    value: str = field(repr=False)
    valid_from: datetime
    valid_until: datetime
    device_ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PassKind(self.kind))


@dataclass(frozen=True)
class Visit:
    """A visit to write into a property's visitor-management system."""

    entry_id: str
    community_id: str
    gate_id: str
    rider_ref: str
    masked_name: str
    masked_phone: str
    platform: str
    started_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class VisitorRecord:
    ref: str


@dataclass(frozen=True)
class LockerBank:
    """A bank of food lockers at a community; one locker connection is one bank, and the
    bank's ``id`` is that connection's id (its id at the vendor is a setting)."""

    id: str
    community_id: str
    name: str
    connection_id: str


@dataclass(frozen=True)
class LockerAllocation:
    """A compartment reserved for an order. ``bank_id`` is the hub's id of the bank (the
    locker connection's id); ``pin`` is the rider's drop-off code; ``valid_until`` the
    drop-off deadline."""

    allocation_id: str
    bank_id: str
    locker_no: str
    pin: str = field(repr=False, default="")
    valid_until: datetime | None = None


# ---------------------------------------------------------------------------
# Decisions
# ---------------------------------------------------------------------------


class Decision(enum.StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    MANUAL_CHECK = "manual_check"


@dataclass(frozen=True)
class Reason:
    """Why a decision went the way it did: a machine code plus words a rider
    understands, in Simplified Chinese and English."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Verdict:
    """One policy plugin's vote (returned by ``hub_evaluate_entry``).

    Any deny wins over manual, manual wins over allow.
    """

    decision: Decision
    reason: Reason | None = None

    @classmethod
    def allow(cls) -> Verdict:
        return cls(Decision.GRANTED)

    @classmethod
    def deny(cls, code: str, zh: str, en: str) -> Verdict:
        return cls(Decision.DENIED, Reason(code, zh, en))

    @classmethod
    def manual(cls, code: str, zh: str, en: str) -> Verdict:
        return cls(Decision.MANUAL_CHECK, Reason(code, zh, en))


@dataclass(frozen=True)
class Problem:
    """An upstream call that failed while deciding an entry. A rejection carries the
    ``reason`` to show the rider, in the platform's words where it gave some."""

    hook: str
    connection_id: str
    code: str  # "timeout", "error", "circuit_open", "rejected"
    message: str
    reason: Reason | None = None


@dataclass(frozen=True)
class EntryContext:
    """Everything policy plugins may look at when voting on an entry.

    ``rider`` is ``None`` when the credential was rejected or the platform could not be
    asked; ``problems`` says which. ``orders`` are the rider's active orders into this
    community. ``entries_last_hour`` counts this rider's earlier entries in the hour.
    """

    community: Community
    gate: Gate
    connection: Connection
    credential_kind: CredentialKind
    now: datetime
    rider: RiderIdentity | None
    orders: tuple[Order, ...] = ()
    order_ref: str | None = None
    presence_verified: bool = False
    entries_last_hour: int = 0
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class HookCall:
    """One timed hook call made while serving a request."""

    hook: str
    plugin: str
    connection_id: str
    started_at: datetime
    duration_ms: float
    outcome: str  # "ok", "cache", "timeout", "error", "circuit_open", "rejected"
    detail: str = ""


@dataclass(frozen=True)
class Entry:
    """A decided entry (handed to ``hub_entry_decided`` after it is committed)."""

    id: str
    community_id: str
    gate_id: str
    connection_id: str
    decision: Decision
    reasons: tuple[Reason, ...]
    created_at: datetime
    decision_ms: float
    rider_ref: str = ""
    order_refs: tuple[str, ...] = ()
    access_pass: AccessGrant | None = None
    #: At a community whose riders use food lockers instead of going in: the compartment.
    locker: LockerAllocation | None = None
    hook_calls: tuple[HookCall, ...] = ()
    #: When the rider's exit was recorded (``None`` while they are inside, or never came).
    exited_at: datetime | None = None
    #: When the gate's device confirmed the pass was taken back (``None``: not yet).
    pass_revoked_at: datetime | None = None
    #: When the gate's device saw the rider go in (a door event; ``None``: not seen).
    entered_at: datetime | None = None


# ---------------------------------------------------------------------------
# Feedback
# ---------------------------------------------------------------------------


class FeedbackSource(enum.StrEnum):
    """Who reported: a rider (the rider page), a resident, a platform (the API), the
    property company, a guard."""

    RIDER = "rider"
    RESIDENT = "resident"
    PLATFORM = "platform"
    PROPERTY = "property"
    GUARD = "guard"


class FeedbackCategory(enum.StrEnum):
    ACCESS = "access"  # getting in or out
    ROUTE = "route"  # finding the way, signs, the map
    PARKING = "parking"  # where e-bikes stand
    SAFETY = "safety"
    CONDUCT = "conduct"  # how someone behaved
    OTHER = "other"


class FeedbackStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


@dataclass(frozen=True)
class FeedbackResponse:
    """An answer to a report. ``author`` is the audit log's actor (``user:anna``);
    ``shared_with_reporter`` answers are what the reporting platform reads back."""

    id: int
    feedback_id: int
    author: str
    body: str
    created_at: datetime
    shared_with_reporter: bool = False


@dataclass(frozen=True)
class Feedback:
    """A report about a community, with its answers (oldest first).

    The reporter's contact is personal data: only its masked form is here
    (``masked_contact``, empty when none was given); ``Store.feedback_contact`` reads it
    whole. ``connection_id`` and ``external_ref`` name a report a platform forwarded.
    """

    id: int
    community_id: str
    source: FeedbackSource
    category: FeedbackCategory
    body: str
    status: FeedbackStatus
    created_at: datetime
    updated_at: datetime
    masked_contact: str = ""
    gate_id: str | None = None
    connection_id: str | None = None
    external_ref: str | None = None
    responses: tuple[FeedbackResponse, ...] = ()
