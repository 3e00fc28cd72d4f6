"""Audit: a record of everything the hub did to the outside world.

Every call that changes something outside the hub (a pass granted or revoked, a door
opened, a visitor registered, a locker allocated or released, a community published, a
rider notified) becomes an :class:`~hub.core.trace.AuditAction` in the current trace; the
engine and the outbox persist them in the append-only audit log. A failed call is
recorded too, as ``<action>.failed`` with the error, so the log shows what was attempted.

Actions hold identifiers and small facts only: no rider names or phones, no pass values,
no locker PINs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.core.errors import describe_error
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessGrant,
    CommunityProfile,
    Connection,
    Gate,
    GrantRequest,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    PluginInfo,
    Receipt,
    Visit,
    VisitorRecord,
)
from hub.core.trace import AuditAction, current_trace
from hub.plugins.info import builtin_info

_MAX_REASON = 200


@dataclass
class _Record:
    """What an audited call will be recorded as; the call's result may fill it in."""

    subject: str
    data: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _audited(action: str, connection: Connection, subject: str = "", **data: Any) -> Iterator[_Record]:
    """Record ``action`` when the block succeeds, ``action + ".failed"`` with the error
    when it raises (and re-raise)."""
    record = _Record(subject, dict(data))
    try:
        yield record
    except Exception as exc:
        failed = {**record.data, "error": describe_error(exc)}
        _add(AuditAction(f"{action}.failed", connection.id, record.subject, failed))
        raise
    _add(AuditAction(action, connection.id, record.subject, record.data))


def _add(action: AuditAction) -> None:
    trace = current_trace()
    if trace is not None:
        trace.add_action(action)


class Audit:
    """Wraps the hooks that change something outside the hub and records each call.

    Every hook gets its own short wrapper because each names its own subject (a grant id,
    a gate id, an allocation id) from its own arguments; the recording itself is shared.
    """

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "audit",
            "Records every pass, door opening, visitor record, locker, publication and rider notice for the audit log.",
            {"audit"},
        )

    @hookimpl(wrapper=True)
    def hub_grant_access(
        self, connection: Connection, gate: Gate, grant: GrantRequest
    ) -> Generator[None, AccessGrant | None, AccessGrant | None]:
        with _audited("access.granted", connection, grant.grant_id, gate_id=gate.id) as record:
            access = yield
            if access is not None:
                record.data.update(kind=str(access.kind), valid_until=access.valid_until.isoformat())
        return access

    @hookimpl(wrapper=True)
    def hub_revoke_access(
        self, connection: Connection, gate: Gate, grant: AccessGrant
    ) -> Generator[None, bool | None, bool | None]:
        with _audited("access.revoked", connection, grant.grant_id, gate_id=gate.id) as record:
            revoked = yield
            record.data["confirmed"] = bool(revoked)
        return revoked

    @hookimpl(wrapper=True)
    def hub_open_door(
        self, connection: Connection, gate: Gate, reason: str
    ) -> Generator[None, bool | None, bool | None]:
        with _audited("door.opened", connection, gate.id, door_no=gate.door_no, reason=reason[:_MAX_REASON]) as record:
            opened = yield
            record.data["confirmed"] = bool(opened)
        return opened

    @hookimpl(wrapper=True)
    def hub_register_visitor(
        self, connection: Connection, visit: Visit
    ) -> Generator[None, VisitorRecord | None, VisitorRecord | None]:
        with _audited("visitor.registered", connection, visit.entry_id, gate_id=visit.gate_id) as record:
            visitor = yield
            if visitor is not None:
                record.data["record_ref"] = visitor.ref
        return visitor

    @hookimpl(wrapper=True)
    def hub_allocate_locker(
        self, connection: Connection, bank: LockerBank, order: Order
    ) -> Generator[None, LockerAllocation | None, LockerAllocation | None]:
        # The allocation id only exists once the bank answered; a failure is recorded
        # against the bank and order instead.
        with _audited("locker.allocated", connection, bank_id=bank.id, order_ref=order.ref) as record:
            allocation = yield
            if allocation is not None:
                record.subject = allocation.allocation_id
                record.data["locker_no"] = allocation.locker_no
        return allocation

    @hookimpl(wrapper=True)
    def hub_release_locker(
        self, connection: Connection, allocation: LockerAllocation
    ) -> Generator[None, bool | None, bool | None]:
        with _audited("locker.released", connection, allocation.allocation_id, bank_id=allocation.bank_id) as record:
            released = yield
            record.data["confirmed"] = bool(released)
        return released

    @hookimpl(wrapper=True)
    def hub_publish_community(
        self, connection: Connection, profile: CommunityProfile
    ) -> Generator[None, Receipt | None, Receipt | None]:
        with _audited("community.published", connection, profile.community.id, version=profile.version) as record:
            receipt = yield
            if receipt is not None:
                record.data.update(accepted=receipt.accepted, ref=receipt.ref)
        return receipt

    @hookimpl(wrapper=True)
    def hub_notify_rider(
        self, connection: Connection, rider_ref: str, notice: Notice
    ) -> Generator[None, Receipt | None, Receipt | None]:
        with _audited("rider.notified", connection, rider_ref, kind=notice.kind) as record:
            receipt = yield
            if receipt is not None:
                record.data["accepted"] = receipt.accepted
        return receipt
