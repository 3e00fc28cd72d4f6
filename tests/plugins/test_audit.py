"""Audit: every call that changes something outside the hub becomes an AuditAction."""

from __future__ import annotations

import pytest

from hub.core.errors import UpstreamError
from hub.core.trace import AuditAction, tracing
from tests.factories import (
    make_access_grant,
    make_credential,
    make_gate,
    make_grant_request,
    make_locker_allocation,
    make_locker_bank,
    make_notice,
    make_order,
    make_profile,
    make_visit,
)

# (hook, how to call it, action, subject, data on success)
AUDITED = [
    (
        "hub_grant_access",
        lambda hub, c: hub.grant_access(c, make_gate(), make_grant_request(grant_id="grant-5")),
        "access.granted",
        "grant-5",
        {"gate_id": "g1", "kind": "qr", "valid_until": "2026-01-05T04:30:00+00:00"},
    ),
    (
        "hub_revoke_access",
        lambda hub, c: hub.revoke_access(c, make_gate(), make_access_grant(grant_id="grant-5")),
        "access.revoked",
        "grant-5",
        {"gate_id": "g1", "confirmed": True},
    ),
    (
        "hub_open_door",
        lambda hub, c: hub.open_door(c, make_gate(), "rider's phone is flat"),
        "door.opened",
        "g1",
        {"door_no": "1", "reason": "rider's phone is flat", "confirmed": True},
    ),
    (
        "hub_register_visitor",
        lambda hub, c: hub.register_visitor(c, make_visit(entry_id="entry-8")),
        "visitor.registered",
        "entry-8",
        {"gate_id": "g1", "record_ref": "visit-9"},
    ),
    (
        "hub_allocate_locker",
        lambda hub, c: hub.allocate_locker(c, make_locker_bank(), make_order(ref="order-3")),
        "locker.allocated",
        "alloc-1",
        {"bank_id": "bank-1", "order_ref": "order-3", "locker_no": "14"},
    ),
    (
        "hub_release_locker",
        lambda hub, c: hub.release_locker(c, make_locker_allocation()),
        "locker.released",
        "alloc-1",
        {"bank_id": "bank-1", "confirmed": True},
    ),
    (
        "hub_publish_community",
        lambda hub, c: hub.publish_community(c, make_profile(version=4)),
        "community.published",
        "c1",
        {"version": 4, "accepted": True, "ref": "pub-7"},
    ),
    (
        "hub_notify_rider",
        lambda hub, c: hub.notify_rider(c, "rider-1", make_notice(kind="use_locker")),
        "rider.notified",
        "rider-1",
        {"kind": "use_locker", "accepted": True},
    ),
]
IDS = [row[0] for row in AUDITED]


@pytest.mark.parametrize(("hook", "call", "action", "subject", "data"), AUDITED, ids=IDS)
def test_a_successful_call_is_audited(hub, device_conn, hook, call, action, subject, data):
    with tracing() as trace:
        call(hub, device_conn)

    assert trace.actions == (AuditAction(action, "door-1", subject, data),)


@pytest.mark.parametrize(("hook", "call", "action", "subject", "data"), AUDITED, ids=IDS)
def test_a_failed_call_is_audited_with_the_error(hub, device, device_conn, hook, call, action, subject, data):
    device.script(hook, raises=UpstreamError("device offline"))

    with tracing() as trace, pytest.raises(UpstreamError):
        call(hub, device_conn)

    [recorded] = trace.actions
    assert recorded.action == f"{action}.failed"
    assert recorded.connection_id == "door-1"
    assert recorded.data["error"] == "device offline"


def test_a_failed_locker_allocation_names_the_bank_and_order(hub, device, device_conn):
    device.script("hub_allocate_locker", raises=UpstreamError("no locker free"))

    with tracing() as trace, pytest.raises(UpstreamError):
        hub.allocate_locker(device_conn, make_locker_bank(), make_order(ref="order-3"))

    assert trace.actions == (
        AuditAction(
            "locker.allocated.failed",
            "door-1",
            "",
            {"bank_id": "bank-1", "order_ref": "order-3", "error": "no locker free"},
        ),
    )


def test_audit_records_hold_no_pass_values_pins_or_personal_data(hub, device_conn):
    with tracing() as trace:
        for _hook, call, *_ in AUDITED:
            call(hub, device_conn)

    recorded = repr(trace.actions)
    assert "PASS-VALUE-SECRET" not in recorded  # the pass the device issued
    assert "4321" not in recorded  # the locker's PIN
    assert "王*" not in recorded and "138****5678" not in recorded  # the visit's rider


def test_reading_calls_are_not_audited(hub, plat_conn):
    with tracing() as trace:
        hub.verify_rider(plat_conn, make_credential(), make_gate())

    assert trace.actions == ()
