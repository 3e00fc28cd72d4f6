"""The hook contract: every hook a Last100 plugin can implement.

A plugin is any object (usually a module or a class instance) with methods named like the
hooks below and marked with ``@hookimpl``::

    from hub import hookimpl, PluginInfo, RiderIdentity

    class AcmePlatform:
        @hookimpl
        def hub_plugin_info(self):
            return PluginInfo(name="acme", kinds={"platform"}, version="1.0")

        @hookimpl
        def hub_verify_rider(self, connection, credential):
            ...

An implementation may accept fewer arguments than the spec lists (pluggy passes only the
ones it names), so hooks can gain arguments without breaking plugins.

**Routing.** Hooks that take a ``connection`` are *capability hooks*: the hub calls only
the implementation of the plugin that owns that connection (``connection.plugin``), while
the hub's built-in wrappers (timing, audit, cache, timeouts, circuit breaker) run around
it. An adapter never checks whether a connection is its own. Capability hooks return the
first non-``None`` result.

**Errors.** Capability hooks raise the errors of :mod:`hub.core.errors`:
``CredentialRejected`` when a rider is not who they claim, ``UpstreamError`` (or
``UpstreamTimeout``) when the external system fails, ``PushRejected`` for a forged or
malformed push. Any other exception is treated as an ``UpstreamError``.
"""

from __future__ import annotations

from datetime import datetime

import pluggy

from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    CommunityProfile,
    Connection,
    Credential,
    Entry,
    EntryContext,
    Gate,
    GrantRequest,
    Health,
    JobSpec,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    Verdict,
    Visit,
    VisitorRecord,
)

PROJECT = "last100"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Hooks routed to the plugin that owns the ``connection`` argument.
CAPABILITY_HOOKS = (
    "hub_check_connection",
    "hub_verify_rider",
    "hub_active_orders",
    "hub_get_order",
    "hub_parse_push",
    "hub_publish_community",
    "hub_notify_rider",
    "hub_grant_access",
    "hub_revoke_access",
    "hub_open_door",
    "hub_access_events",
    "hub_register_visitor",
    "hub_allocate_locker",
    "hub_release_locker",
)


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


@hookspec
def hub_plugin_info() -> PluginInfo:
    """Describe the plugin: its name, kinds, capabilities, version and settings.

    Called once per plugin when it is loaded; the answer is validated (unique name, known
    kinds, ``settings_schema`` a marshmallow ``Schema`` with secret fields marked by
    ``metadata={"secret": True}``). A plugin that fails validation stops the hub with a
    message naming the plugin.

    :return: a :class:`~hub.core.model.PluginInfo`.

    Example::

        class Settings(marshmallow.Schema):
            base_url = fields.Url(required=True)
            app_secret = fields.String(required=True, metadata={"secret": True})

        @hookimpl
        def hub_plugin_info():
            return PluginInfo(name="acme", kinds={"platform"}, version="1.2.0",
                              capabilities={"push"}, settings_schema=Settings)
    """


@hookspec(firstresult=True)
def hub_check_connection(connection: Connection) -> Health:
    """Check that the external system answers and accepts the connection's credentials.

    Runs before a connection is saved in the console ("test connection") and from the
    health job. Report failures in the returned ``Health`` rather than raising; the
    ``message`` is shown to the person configuring the connection, so name the setting
    that is wrong where you can.

    :param connection: the connection to check.
    :return: a :class:`~hub.core.model.Health`. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_check_connection(connection):
            try:
                client_for(connection).ping()
            except AuthError:
                return Health(ok=False, message="app_secret was refused")
            return Health(ok=True)
    """


@hookspec
def hub_jobs() -> list[JobSpec]:
    """Scheduled jobs the plugin contributes.

    Every plugin's list is collected; job ids must be unique across plugins. Jobs run in
    the scheduler process, or, with Celery configured, in ``last100 worker`` processes
    (a job with ``partitions`` as one task per part); never in web workers. A run may be
    delivered again after a crash: a job works on what is due when it runs, so running
    it again does no harm (see docs/jobs.md).

    :return: a list of :class:`~hub.core.model.JobSpec`.

    Example::

        @hookimpl
        def hub_jobs():
            return [JobSpec(id="acme.refresh_keys", func=refresh_keys,
                            trigger="interval", trigger_args={"hours": 1})]
    """


# ---------------------------------------------------------------------------
# Delivery platform side
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_verify_rider(connection: Connection, credential: Credential, gate: Gate) -> RiderIdentity:
    """Check a rider's credential and say who the rider is.

    The credential is a platform token from the rider app, a code the rider typed on the
    rider page, or a signed entry code read at the gate (verify that one locally, with no
    network call, so it works while the platform is down).

    :param connection: the platform connection.
    :param credential: what the rider presented; never log ``credential.value``.
    :param gate: the gate the rider stands at.
    :return: a :class:`~hub.core.model.RiderIdentity`; set ``cache_seconds`` to let the
        hub reuse it. First non-``None`` result wins.
    :raises CredentialRejected: the credential is invalid, expired or unknown.
    :raises UpstreamError: the platform could not be asked.

    Example::

        @hookimpl
        def hub_verify_rider(connection, credential):
            rider = client_for(connection).verify(credential.value)
            return RiderIdentity(platform_ref=rider["id"], masked_name=rider["name"],
                                 cache_seconds=300)
    """


@hookspec(firstresult=True)
def hub_active_orders(connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
    """The rider's orders being delivered into this community now.

    The hub may call this at the same time as ``hub_verify_rider``: when
    ``rider.platform_ref`` is ``None``, resolve the rider from ``rider.credential``.
    Use ``community.platform_ref(connection)``, its address, geofence and buildings to
    filter; return only orders into this community.

    :param connection: the platform connection.
    :param rider: the rider: ``rider.platform_ref`` when the hub already knows it, otherwise
        resolve it from ``rider.credential``.
    :param community: the community the rider wants to enter.
    :return: a list of :class:`~hub.core.model.Order` (empty when none). First non-``None``
        result wins.
    :raises UpstreamError: the platform could not be asked.

    Example::

        @hookimpl
        def hub_active_orders(connection, rider, community):
            ref = community.platform_ref(connection)
            return [to_order(o) for o in client_for(connection).orders(rider.platform_ref)
                    if o["community_id"] == ref]
    """


@hookspec(firstresult=True)
def hub_get_order(connection: Connection, order_ref: str) -> Order | None:
    """Fetch one order, for reconciliation of entries whose orders are not final.

    :param connection: the platform connection.
    :param order_ref: the order's reference at the platform (``Order.ref``).
    :return: the :class:`~hub.core.model.Order`, or ``None`` if the platform does not know
        it. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_get_order(connection, order_ref):
            data = client_for(connection).order(order_ref)
            return to_order(data) if data else None
    """


@hookspec(firstresult=True)
def hub_parse_push(connection: Connection, request: PushRequest) -> list[PushEvent]:
    """Authenticate and parse an inbound push (order status changed, rider suspended,
    a door event from a device).

    Check the signature and the timestamp tolerance before parsing; the hub drops events
    whose ``event_id`` it has already seen for this connection.

    :param connection: the connection the push was addressed to; its settings hold the push
        secret.
    :param request: the raw request: method, path, headers, body and when it arrived.
    :return: a list of :class:`~hub.core.model.PushEvent`. First non-``None`` result wins.
    :raises PushRejected: forged, stale (``status=401``) or malformed (``status=400``).

    Example::

        @hookimpl
        def hub_parse_push(connection, request):
            body = verify_signature(connection.settings["push_secret"], request)
            return [PushEvent(event_id=body["id"], occurred_at=parse(body["at"]),
                              order=to_order(body["order"]))]
    """


@hookspec(firstresult=True)
def hub_publish_community(connection: Connection, profile: CommunityProfile) -> Receipt:
    """Send the community's entry rules, gates, buildings, parking areas, lockers, rest
    stations and no-go areas to the platform, so riders see them in their app.

    :param connection: the platform connection.
    :param profile: what to publish; ``profile.version`` grows with every change.
    :return: a :class:`~hub.core.model.Receipt`. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_publish_community(connection, profile):
            ref = client_for(connection).put_profile(to_wire(profile))
            return Receipt(accepted=True, ref=ref)
    """


@hookspec(firstresult=True)
def hub_notify_rider(connection: Connection, rider_ref: str, notice: Notice) -> Receipt:
    """Tell a rider something through their platform app ("gate 2 is open", "use
    locker 14"). Delivered from the outbox, never on the rider's critical path.

    :param connection: the platform connection.
    :param rider_ref: the rider's reference at the platform (``RiderIdentity.platform_ref``).
    :param notice: the message, in Simplified Chinese and English.
    :return: a :class:`~hub.core.model.Receipt`. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_notify_rider(connection, rider_ref, notice):
            client_for(connection).message(rider_ref, notice.text_zh)
            return Receipt(accepted=True)
    """


# ---------------------------------------------------------------------------
# Property side
# ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_grant_access(connection: Connection, gate: Gate, grant: GrantRequest) -> AccessGrant:
    """Issue a time-limited credential at a gate: a QR or card number, a PIN, or a
    single remote open.

    Must be idempotent on ``grant.grant_id``: a retry returns the same pass instead of
    creating a second one.

    :param connection: the access-control connection (``gate.access_connection_id``).
    :param gate: where the pass works; ``gate.door_no`` names the door on the device.
    :param grant: the grant id, the rider and the validity window.
    :return: an :class:`~hub.core.model.AccessGrant`. First non-``None`` result wins.
    :raises UpstreamError: the device refused or could not be reached.

    Example::

        @hookimpl
        def hub_grant_access(connection, gate, grant):
            card = client_for(connection).add_visitor(grant.grant_id, gate.door_no,
                                                     grant.valid_from, grant.valid_until)
            return AccessGrant(grant_id=grant.grant_id, kind=PassKind.CARD, value=card,
                               valid_from=grant.valid_from, valid_until=grant.valid_until)
    """


@hookspec(firstresult=True)
def hub_revoke_access(connection: Connection, gate: Gate, grant: AccessGrant) -> bool:
    """Take a pass back before it expires (order delivered, rider suspended, expiry).

    Revoking a pass the device no longer knows is not an error.

    :param connection: the access-control connection.
    :param gate: the gate the pass was issued at.
    :param grant: the pass ``hub_grant_access`` returned.
    :return: ``True`` once the device no longer accepts the pass. First non-``None``
        result wins.

    Example::

        @hookimpl
        def hub_revoke_access(connection, gate, grant):
            client_for(connection).delete_user(grant.grant_id)
            return True
    """


@hookspec(firstresult=True)
def hub_open_door(connection: Connection, gate: Gate, reason: str) -> bool:
    """Open the gate's door once, now (a guard's remote open from the console).

    :param connection: the access-control connection.
    :param gate: the gate to open.
    :param reason: why, in the guard's words; kept in the audit log.
    :return: ``True`` when the device confirmed. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_open_door(connection, gate):
            return client_for(connection).open(gate.door_no)
    """


@hookspec(firstresult=True)
def hub_access_events(connection: Connection, gate: Gate, since: datetime) -> list[AccessEvent]:
    """Door events at the gate since a time (oldest first), to record when riders
    really entered and left.

    :param connection: the access-control connection.
    :param gate: the gate whose door events to read.
    :param since: a timezone-aware UTC time; return only events after it.
    :return: a list of :class:`~hub.core.model.AccessEvent`. First non-``None`` result
        wins.

    Example::

        @hookimpl
        def hub_access_events(connection, gate, since):
            return [to_event(e) for e in client_for(connection).events(gate.door_no, since)]
    """


@hookspec(firstresult=True)
def hub_register_visitor(connection: Connection, visit: Visit) -> VisitorRecord:
    """Write a visit into the property's visitor-management system, for communities
    that must keep a visitor record. Delivered from the outbox.

    :param connection: the visitor-system connection.
    :param visit: the visit; the rider's name and phone arrive masked.
    :return: a :class:`~hub.core.model.VisitorRecord`. First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_register_visitor(connection, visit):
            return VisitorRecord(ref=client_for(connection).add_visit(to_wire(visit)))
    """


@hookspec(firstresult=True)
def hub_allocate_locker(connection: Connection, bank: LockerBank, order: Order) -> LockerAllocation:
    """Reserve a locker in a bank for an order; the rider drops the food there.

    :param connection: the locker connection (``bank.connection_id``).
    :param bank: the locker bank to reserve in.
    :param order: the order the locker is for.
    :return: a :class:`~hub.core.model.LockerAllocation`. First non-``None`` result wins.
    :raises UpstreamError: no locker free, or the bank could not be reached.

    Example::

        @hookimpl
        def hub_allocate_locker(connection, bank, order):
            box = client_for(connection).reserve(bank.id, order.ref)
            return LockerAllocation(allocation_id=box["id"], bank_id=bank.id,
                                    locker_no=box["no"], pin=box["pin"])
    """


@hookspec(firstresult=True)
def hub_release_locker(connection: Connection, allocation: LockerAllocation) -> bool:
    """Release a locker reservation (order cancelled, or picked up).

    :param connection: the locker connection.
    :param allocation: the reservation ``hub_allocate_locker`` returned.
    :return: ``True`` once released; releasing an unknown allocation is not an error.
        First non-``None`` result wins.

    Example::

        @hookimpl
        def hub_release_locker(connection, allocation):
            client_for(connection).release(allocation.allocation_id)
            return True
    """


# ---------------------------------------------------------------------------
# Decision pipeline
# ---------------------------------------------------------------------------


@hookspec
def hub_evaluate_entry(context: EntryContext) -> Verdict | None:
    """Vote on an entry. Every policy plugin is asked; all votes count.

    Any deny wins over manual, manual wins over allow; with no vote at all the entry
    goes to a guard. Return ``None`` to abstain. Whatever the votes, the hub never grants
    without a verified rider.

    :param context: everything known about the entry: community, gate, rider, orders,
        earlier entries and upstream problems.
    :return: a :class:`~hub.core.model.Verdict` or ``None``.

    Example::

        @hookimpl
        def hub_evaluate_entry(context):
            if context.gate.id == "service-gate" and context.now.hour >= 22:
                return Verdict.deny("service_gate_closed", "夜间请走正门",
                                    "Use the main gate at night")
    """


@hookspec
def hub_entry_decided(entry: Entry) -> None:
    """Called after an entry's decision is committed: notify, count, forward.

    Runs after the commit, so an exception here is logged and neither undoes the entry
    nor keeps the other listeners from being called. Keep it fast; slow work belongs in
    the outbox.

    :param entry: the committed entry: decision, reasons, pass and timed hook calls.
    :return: nothing; the hub ignores what listeners return.

    Example::

        @hookimpl
        def hub_entry_decided(entry):
            metrics.increment(f"entries.{entry.decision}")
    """


@hookspec
def hub_push_received(connection: Connection, event: PushEvent) -> None:
    """Called for each new event of an accepted push, after it is stored: an order's new
    status, a rider suspended, a door event. Repeats of an event are not passed on.

    Like ``hub_entry_decided`` it runs after the commit; an exception is logged and
    does not keep the other listeners from being called. The built-in verification cache
    uses it to forget a suspended rider at once.

    :param connection: the connection the push came in on.
    :param event: the event, as the connection's plugin parsed it.
    :return: nothing; the hub ignores what listeners return.

    Example::

        @hookimpl
        def hub_push_received(connection, event):
            if event.rider_status is RiderStatus.SUSPENDED:
                alert_guards(connection, event.rider_ref)
    """
