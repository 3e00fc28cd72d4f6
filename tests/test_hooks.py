"""One test (at least) per hook, each calling it through the ``Hub`` facade.

Capability hooks are checked for routing: two plugins implement the same hook, the owner
of the connection is registered *first*, and pluggy calls the last registered plugin
first, so without routing the rival would answer. Broadcast hooks must reach every plugin.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from hub import hookimpl
from hub.core.errors import CapabilityMissing, PluginError
from hub.core.model import (
    AccessGrant,
    Health,
    JobSpec,
    LockerAllocation,
    PassKind,
    PluginInfo,
    PluginKind,
    PushEvent,
    Receipt,
    RiderStatus,
    Verdict,
    VisitorRecord,
)
from hub.core.plugins import Hub
from tests.factories import (
    NOW,
    make_access_event,
    make_access_grant,
    make_community,
    make_connection,
    make_credential,
    make_entry,
    make_entry_context,
    make_gate,
    make_grant_request,
    make_locker_allocation,
    make_locker_bank,
    make_notice,
    make_order,
    make_profile,
    make_push_request,
    make_rider,
    make_rider_claim,
    make_visit,
)

# ---------------------------------------------------------------------------
# In-test plugins: every answer is tagged with the plugin's name, every call recorded.
# ---------------------------------------------------------------------------


class Fake:
    kinds: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, dict]] = []

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, kinds=set(self.kinds), version="1.0")

    def record(self, hook: str, **kwargs: object) -> None:
        self.calls.append((hook, kwargs))


class Platform(Fake):
    kinds = ("platform",)

    @hookimpl
    def hub_check_connection(self, connection):
        self.record("hub_check_connection", connection=connection)
        return Health(ok=True, message=f"{self.name} is reachable")

    @hookimpl
    def hub_verify_rider(self, connection, credential, gate):
        self.record("hub_verify_rider", connection=connection, credential=credential, gate=gate)
        return make_rider(platform_ref=f"{self.name}:{credential.value}")

    @hookimpl
    def hub_active_orders(self, connection, rider, community):
        self.record("hub_active_orders", connection=connection, rider=rider, community=community)
        return [
            make_order(
                ref=f"{self.name}:order-1",
                rider_ref=rider.platform_ref,
                community_ref=community.platform_ref(connection),
            )
        ]

    @hookimpl
    def hub_get_order(self, connection, order_ref):
        self.record("hub_get_order", connection=connection, order_ref=order_ref)
        return None if order_ref == "unknown" else make_order(ref=f"{self.name}:{order_ref}")

    @hookimpl
    def hub_parse_push(self, connection, request):
        self.record("hub_parse_push", connection=connection, request=request)
        return [PushEvent(event_id=f"{self.name}:ev-1", occurred_at=request.received_at, order=make_order())]

    @hookimpl
    def hub_publish_community(self, connection, profile):
        self.record("hub_publish_community", connection=connection, profile=profile)
        return Receipt(accepted=True, ref=f"{self.name}:{profile.community.id}:v{profile.version}")

    @hookimpl
    def hub_notify_rider(self, connection, rider_ref, notice):
        self.record("hub_notify_rider", connection=connection, rider_ref=rider_ref, notice=notice)
        return Receipt(accepted=True, ref=f"{self.name}:{rider_ref}:{notice.kind}")


class AccessController(Fake):
    kinds = ("access",)

    @hookimpl
    def hub_grant_access(self, connection, gate, grant):
        self.record("hub_grant_access", connection=connection, gate=gate, grant=grant)
        return AccessGrant(
            grant_id=grant.grant_id,
            kind=PassKind.QR,
            value=f"{self.name}:{gate.door_no}",
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
        )

    @hookimpl
    def hub_revoke_access(self, connection, gate, grant):
        self.record("hub_revoke_access", connection=connection, gate=gate, grant=grant)
        return True

    @hookimpl
    def hub_open_door(self, connection, gate, reason):
        self.record("hub_open_door", connection=connection, gate=gate, reason=reason)
        return True

    @hookimpl
    def hub_access_events(self, connection, gate, since):
        self.record("hub_access_events", connection=connection, gate=gate, since=since)
        return [
            make_access_event(
                event_id=f"{self.name}:ev-1", door_no=gate.door_no, occurred_at=since + timedelta(minutes=1)
            )
        ]


class VisitorSystem(Fake):
    kinds = ("visitor",)

    @hookimpl
    def hub_register_visitor(self, connection, visit):
        self.record("hub_register_visitor", connection=connection, visit=visit)
        return VisitorRecord(ref=f"{self.name}:{visit.entry_id}")


class Lockers(Fake):
    kinds = ("locker",)

    @hookimpl
    def hub_allocate_locker(self, connection, bank, order):
        self.record("hub_allocate_locker", connection=connection, bank=bank, order=order)
        return LockerAllocation(allocation_id=f"{self.name}:{order.ref}", bank_id=bank.id, locker_no="14")

    @hookimpl
    def hub_release_locker(self, connection, allocation):
        self.record("hub_release_locker", connection=connection, allocation=allocation)
        return True


class Policy(Fake):
    kinds = ("policy",)

    def __init__(self, name: str, verdict: Verdict | None) -> None:
        super().__init__(name)
        self.verdict = verdict

    @hookimpl
    def hub_evaluate_entry(self, context):
        self.record("hub_evaluate_entry", context=context)
        return self.verdict


class Listener(Fake):
    kinds = ("policy",)

    def __init__(self, name: str, fail: bool = False) -> None:
        super().__init__(name)
        self.fail = fail

    @hookimpl
    def hub_entry_decided(self, entry):
        self.record("hub_entry_decided", entry=entry)
        if self.fail:
            raise RuntimeError(f"{self.name} is down")

    @hookimpl
    def hub_push_received(self, connection, event):
        self.record("hub_push_received", connection=connection, event=event)
        if self.fail:
            raise RuntimeError(f"{self.name} is down")


class Scheduled(Fake):
    kinds = ("platform",)

    def __init__(self, name: str, *job_ids: str) -> None:
        super().__init__(name)
        self.job_ids = job_ids

    @hookimpl
    def hub_jobs(self):
        return [
            JobSpec(id=job_id, func=lambda ctx: 0, trigger="interval", trigger_args={"minutes": 5})
            for job_id in self.job_ids
        ]


def hub_with(*plugins: object) -> Hub:
    hub = Hub()
    for plugin in plugins:
        hub.register(plugin)
    return hub


def routed_pair(cls: type[Fake]) -> tuple[Hub, Fake, Fake]:
    """A hub with the connection's owner ``acme`` registered before a ``rival`` of the same
    kind: without routing, pluggy would ask the rival first and take its answer."""
    owner, rival = cls("acme"), cls("rival")
    return hub_with(owner, rival), owner, rival


# ---------------------------------------------------------------------------
# Metadata
# ---------------------------------------------------------------------------


def test_hook_hub_plugin_info_describes_the_registered_plugin():
    hub = Hub()

    record = hub.register(Platform("acme"))

    assert record.info == PluginInfo(name="acme", kinds={"platform"}, version="1.0")
    assert record.source == "builtin"
    assert "hub_verify_rider" in record.hooks
    assert "hub_grant_access" not in record.hooks
    assert [r.info.name for r in hub.plugins()] == ["acme"]
    assert hub.implements("acme", "hub_parse_push")


class Describing:
    def __init__(self, info: object) -> None:
        self.info = info

    @hookimpl
    def hub_plugin_info(self):
        return self.info


@pytest.mark.parametrize(
    ("info", "problem"),
    [
        ({"name": "acme"}, "must return a PluginInfo"),
        (PluginInfo(name="Acme Inc", kinds={"platform"}, version="1"), "plugin name 'Acme Inc'"),
        (PluginInfo(name="acme", kinds=set(), version="1"), "at least one kind"),
        (PluginInfo(name="acme", kinds={"platform"}, version=""), "must declare its version"),
    ],
)
def test_hook_hub_plugin_info_is_validated_when_registering(info, problem):
    hub = Hub()

    with pytest.raises(PluginError, match=problem):
        hub.register(Describing(info))
    assert hub.plugins() == []


def test_hook_hub_plugin_info_name_must_be_unique():
    hub = hub_with(Platform("acme"))

    with pytest.raises(PluginError, match="two plugins are named 'acme'"):
        hub.register(AccessController("acme"))
    assert [r.info.kinds for r in hub.plugins()] == [frozenset({PluginKind.PLATFORM})]


def test_hook_hub_check_connection_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection = make_connection(plugin="acme")

    health = hub.check_connection(connection)

    assert health == Health(ok=True, message="acme is reachable")
    assert acme.calls == [("hub_check_connection", {"connection": connection})]
    assert rival.calls == []


def test_hook_hub_check_connection_for_a_plugin_that_is_not_loaded_raises_capability_missing():
    hub = hub_with(Platform("acme"))

    with pytest.raises(CapabilityMissing, match="no plugin named 'gone'"):
        hub.check_connection(make_connection(plugin="gone"))


def test_hook_hub_jobs_collects_every_plugins_jobs():
    hub = hub_with(Scheduled("acme", "acme.refresh"), Scheduled("boxes", "boxes.sync", "boxes.prune"))

    jobs = hub.jobs()

    assert sorted(job.id for job in jobs) == ["acme.refresh", "boxes.prune", "boxes.sync"]


def test_hook_hub_jobs_rejects_a_job_id_contributed_twice():
    hub = hub_with(Scheduled("acme", "sync"), Scheduled("boxes", "sync"))

    with pytest.raises(PluginError, match="job with id 'sync'"):
        hub.jobs()


# ---------------------------------------------------------------------------
# Delivery platform side
# ---------------------------------------------------------------------------


def test_hook_hub_verify_rider_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection, credential, gate = make_connection(plugin="acme"), make_credential(value="t-9"), make_gate()

    rider = hub.verify_rider(connection, credential, gate)

    assert rider == make_rider(platform_ref="acme:t-9")
    assert acme.calls == [("hub_verify_rider", {"connection": connection, "credential": credential, "gate": gate})]
    assert rival.calls == []


class CoreTiming(Fake):
    kinds = ("core",)

    @hookimpl(wrapper=True)
    def hub_verify_rider(self, connection):
        self.record("hub_verify_rider", connection=connection)
        rider = yield
        return replace(rider, cache_seconds=60)


class NosyAdapter(Fake):
    kinds = ("platform",)

    @hookimpl(wrapper=True)
    def hub_verify_rider(self, connection):
        self.record("hub_verify_rider", connection=connection)
        return (yield)


def test_hook_hub_verify_rider_runs_core_wrappers_but_no_other_adapters_wrappers():
    core, nosy = CoreTiming("timing"), NosyAdapter("nosy")
    hub = hub_with(Platform("acme"), core, nosy)
    connection = make_connection(plugin="acme")

    rider = hub.verify_rider(connection, make_credential(value="t-1"), make_gate())

    assert rider == make_rider(platform_ref="acme:t-1", cache_seconds=60)
    assert core.calls == [("hub_verify_rider", {"connection": connection})]
    assert nosy.calls == []


def test_hook_hub_active_orders_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection = make_connection(plugin="acme")
    community = make_community(platform_refs={"acme-1": "acme-community-7"})
    rider = make_rider_claim(platform_ref="rider-5")

    orders = hub.active_orders(connection, rider, community)

    assert orders == [make_order(ref="acme:order-1", rider_ref="rider-5", community_ref="acme-community-7")]
    assert [hook for hook, _ in acme.calls] == ["hub_active_orders"]
    assert rival.calls == []


def test_hook_hub_get_order_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection = make_connection(plugin="acme")

    found = hub.get_order(connection, "order-7")
    missing = hub.get_order(connection, "unknown")

    assert found == make_order(ref="acme:order-7")
    assert missing is None
    assert [kwargs["order_ref"] for _, kwargs in acme.calls] == ["order-7", "unknown"]
    assert rival.calls == []


def test_hook_hub_parse_push_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection, request = make_connection(plugin="acme"), make_push_request()

    events = hub.parse_push(connection, request)

    assert events == [PushEvent(event_id="acme:ev-1", occurred_at=NOW, order=make_order())]
    assert acme.calls == [("hub_parse_push", {"connection": connection, "request": request})]
    assert rival.calls == []


def test_hook_hub_publish_community_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection, profile = make_connection(plugin="acme"), make_profile(version=3)

    receipt = hub.publish_community(connection, profile)

    assert receipt == Receipt(accepted=True, ref="acme:c1:v3")
    assert acme.calls == [("hub_publish_community", {"connection": connection, "profile": profile})]
    assert rival.calls == []


class VerifyOnly(Fake):
    kinds = ("platform",)

    @hookimpl
    def hub_verify_rider(self, connection, credential):
        return make_rider(platform_ref=credential.value)


def test_hook_hub_publish_community_missing_from_the_owner_raises_capability_missing():
    rival = Platform("rival")
    hub = hub_with(VerifyOnly("minimal"), rival)

    with pytest.raises(CapabilityMissing, match="'minimal' does not implement hub_publish_community"):
        hub.publish_community(make_connection(plugin="minimal"), make_profile())
    assert rival.calls == []


def test_hook_hub_notify_rider_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Platform)
    connection, notice = make_connection(plugin="acme"), make_notice(kind="use_locker")

    receipt = hub.notify_rider(connection, "rider-3", notice)

    assert receipt == Receipt(accepted=True, ref="acme:rider-3:use_locker")
    assert acme.calls == [("hub_notify_rider", {"connection": connection, "rider_ref": "rider-3", "notice": notice})]
    assert rival.calls == []


# ---------------------------------------------------------------------------
# Property side
# ---------------------------------------------------------------------------


def test_hook_hub_grant_access_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(AccessController)
    connection, gate, grant = make_connection(plugin="acme"), make_gate(door_no="2"), make_grant_request()

    access_pass = hub.grant_access(connection, gate, grant)

    assert access_pass == AccessGrant(
        grant_id="grant-1", kind=PassKind.QR, value="acme:2", valid_from=grant.valid_from, valid_until=grant.valid_until
    )
    assert acme.calls == [("hub_grant_access", {"connection": connection, "gate": gate, "grant": grant})]
    assert rival.calls == []


def test_hook_hub_revoke_access_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(AccessController)
    connection, gate, access_pass = make_connection(plugin="acme"), make_gate(), make_access_grant()

    revoked = hub.revoke_access(connection, gate, access_pass)

    assert revoked is True
    assert acme.calls == [("hub_revoke_access", {"connection": connection, "gate": gate, "grant": access_pass})]
    assert rival.calls == []


def test_hook_hub_open_door_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(AccessController)
    connection, gate = make_connection(plugin="acme"), make_gate()

    opened = hub.open_door(connection, gate, "rider's phone is dead")

    assert opened is True
    assert acme.calls == [
        ("hub_open_door", {"connection": connection, "gate": gate, "reason": "rider's phone is dead"})
    ]
    assert rival.calls == []


class ConnectionOnlyDoor(Fake):
    """Takes fewer arguments than the spec: pluggy passes only the ones it names."""

    kinds = ("access",)

    @hookimpl
    def hub_open_door(self, connection):
        self.record("hub_open_door", connection=connection)
        return connection.settings.get("door_relay") == "on"


def test_hook_hub_open_door_implementation_may_take_only_connection():
    door = ConnectionOnlyDoor("relay")
    hub = hub_with(door)
    connection = make_connection(plugin="relay", settings={"door_relay": "on"})

    opened = hub.open_door(connection, make_gate(), "guard")

    assert opened is True
    assert door.calls == [("hub_open_door", {"connection": connection})]


def test_hook_hub_access_events_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(AccessController)
    connection, gate = make_connection(plugin="acme"), make_gate(door_no="3")

    events = hub.access_events(connection, gate, NOW)

    assert events == [make_access_event(event_id="acme:ev-1", door_no="3", occurred_at=NOW + timedelta(minutes=1))]
    assert acme.calls == [("hub_access_events", {"connection": connection, "gate": gate, "since": NOW})]
    assert rival.calls == []


def test_hook_hub_register_visitor_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(VisitorSystem)
    connection, visit = make_connection(plugin="acme"), make_visit(entry_id="entry-9")

    record = hub.register_visitor(connection, visit)

    assert record == VisitorRecord(ref="acme:entry-9")
    assert acme.calls == [("hub_register_visitor", {"connection": connection, "visit": visit})]
    assert rival.calls == []


def test_hook_hub_allocate_locker_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Lockers)
    connection, bank, order = make_connection(plugin="acme"), make_locker_bank(), make_order(ref="order-4")

    allocation = hub.allocate_locker(connection, bank, order)

    assert allocation == LockerAllocation(allocation_id="acme:order-4", bank_id="bank-1", locker_no="14")
    assert acme.calls == [("hub_allocate_locker", {"connection": connection, "bank": bank, "order": order})]
    assert rival.calls == []


def test_hook_hub_release_locker_is_answered_by_the_connection_owner():
    hub, acme, rival = routed_pair(Lockers)
    connection, allocation = make_connection(plugin="acme"), make_locker_allocation()

    released = hub.release_locker(connection, allocation)

    assert released is True
    assert acme.calls == [("hub_release_locker", {"connection": connection, "allocation": allocation})]
    assert rival.calls == []


# ---------------------------------------------------------------------------
# Decision pipeline
# ---------------------------------------------------------------------------


def test_hook_hub_evaluate_entry_collects_every_policys_vote():
    night = Verdict.deny("service_gate_closed", "夜间请走正门", "Use the main gate at night")
    default, quiet, silent = Policy("default", Verdict.allow()), Policy("quiet", night), Policy("silent", None)
    hub = hub_with(default, quiet, silent)
    context = make_entry_context()

    verdicts = hub.evaluate_entry(context)

    assert sorted(verdicts, key=lambda v: v.decision) == sorted([Verdict.allow(), night], key=lambda v: v.decision)
    for policy in (default, quiet, silent):
        assert policy.calls == [("hub_evaluate_entry", {"context": context})]


def test_hook_hub_entry_decided_reaches_every_listener():
    metrics, notify = Listener("metrics"), Listener("notify")
    hub = hub_with(metrics, notify)
    entry = make_entry()

    hub.entry_decided(entry)

    assert metrics.calls == [("hub_entry_decided", {"entry": entry})]
    assert notify.calls == [("hub_entry_decided", {"entry": entry})]


def test_hook_hub_entry_decided_listener_failure_is_logged_and_swallowed(caplog):
    notify, metrics = Listener("notify"), Listener("metrics", fail=True)
    hub = hub_with(notify, metrics)  # registered last, the failing listener is called first
    entry = make_entry(id="entry-42")

    with caplog.at_level(logging.ERROR, logger="hub.core.plugins"):
        hub.entry_decided(entry)

    assert notify.calls == [("hub_entry_decided", {"entry": entry})]
    [record] = caplog.records
    assert "metrics" in record.getMessage()
    assert "entry-42" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_hook_hub_push_received_reaches_every_listener_despite_a_failure(caplog):
    cache, metrics = Listener("cache"), Listener("metrics", fail=True)
    hub = hub_with(cache, metrics)
    connection = make_connection()
    event = PushEvent(event_id="evt-7", occurred_at=NOW, rider_ref="R1", rider_status=RiderStatus.SUSPENDED)

    with caplog.at_level(logging.ERROR, logger="hub.core.plugins"):
        hub.push_received(connection, event)

    assert cache.calls == [("hub_push_received", {"connection": connection, "event": event})]
    assert metrics.calls == [("hub_push_received", {"connection": connection, "event": event})]
    [record] = caplog.records
    assert "metrics" in record.getMessage() and "evt-7" in record.getMessage()
