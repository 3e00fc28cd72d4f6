"""Taking a pass back at its gate's device, for a rider's exit (the entry engine) and for
the pass expiry job alike.

The device is asked through ``hub_revoke_access``; only its confirmation marks the pass
revoked (``passes.revoked_at``). A failure is audited (``access.revoked.failed``), counted
on the pass (``revoke_attempts``, ``revoke_error``) and left to the expiry job, which
tries again after :func:`retry_after` and gives up after :data:`MAX_ATTEMPTS` failed
attempts (audited ``pass.revoke_given_up``). A guard's pass (a gate without a device) is
revoked at once, audited ``pass.revoked``.

The passes a device has not taken back are listed for the console
(:meth:`hub.core.store.Store.unrevoked_passes`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.core.errors import describe_error
from hub.core.model import AccessGrant, Connection, Gate, Problem
from hub.core.trace import AuditAction, tracing

if TYPE_CHECKING:
    from hub.core.plugins import Hub
    from hub.core.store import Store

#: Failed attempts after which a pass is given up on (about four hours of retries).
MAX_ATTEMPTS = 8

#: The audit actions of an attempt at the device (what the back-off is timed from).
ATTEMPT_ACTIONS = ("access.revoked", "access.revoked.failed")

_HOOK = "hub_revoke_access"
_NOT_CONFIRMED = "the device did not confirm"

#: Runs an upstream call for ``(connection, hook, call, problems)`` and returns its
#: result, or ``None`` after appending a :class:`Problem` (the engine's ``_bounded``).
Runner = Callable[[Connection, str, Callable[[], Any], list[Problem]], Any]


def retry_after(attempts: int) -> timedelta:
    """How long after a pass's latest failed attempt it is tried again: 2, 4, 8 … 128
    minutes after the 1st … 7th failure."""
    return timedelta(minutes=2 ** max(attempts, 0))


@dataclass(frozen=True)
class ExpiredPass:
    """A pass past its end that is due to be taken back at its device.

    ``connection_id`` is the device that issued it (``None``: a guard's pass);
    ``attempts`` the failed attempts so far, the latest at ``last_attempt_at``.
    """

    entry_id: str
    gate_id: str
    connection_id: str | None
    grant: AccessGrant
    attempts: int = 0
    last_attempt_at: datetime | None = None


@dataclass(frozen=True)
class UnrevokedPass:
    """A pass its device has not confirmed taking back after one attempt or more; the
    expiry job retries it until ``given_up``."""

    pass_id: str
    entry_id: str
    community_id: str
    gate_id: str
    connection_id: str | None
    valid_until: datetime
    attempts: int
    error: str
    given_up: bool


def revoke_pass(
    hub: Hub,
    store: Store,
    *,
    entry_id: str,
    grant: AccessGrant,
    gate: Gate,
    device: Connection | None,
    actor: str,
    run: Runner | None = None,
) -> bool:
    """Take an entry's pass back at ``device`` (``None``: a guard's pass, revoked at once)
    and record the attempt (:meth:`~hub.core.store.Store.record_pass_revocation`);
    ``True`` when the pass is revoked.

    ``run`` bounds the device call (the engine gives its pooled, deadline-bound runner);
    by default the call is made here, bounded by the adapter's own timeout and the
    circuit breaker. Never raises for the device's failure.
    """
    if device is None:
        action = AuditAction("pass.revoked", "", grant.grant_id, {"kind": grant.kind.value, "device": False})
        store.record_pass_revocation(entry_id, confirmed=True, actions=[action], actor=actor)
        return True
    problems: list[Problem] = []
    with tracing() as trace:
        call = functools.partial(hub.revoke_access, device, gate, grant)
        confirmed = bool((run or _run)(device, _HOOK, call, problems))
    actions = list(trace.actions)
    attempts = [a for a in actions if a.action in ATTEMPT_ACTIONS]
    error = None
    if not confirmed:
        failed = next((a for a in attempts if a.action == "access.revoked.failed"), None)
        error = str(failed.data.get("error") or _NOT_CONFIRMED) if failed else _NOT_CONFIRMED
        if not attempts:
            # Timed out (the audit wrapper has not recorded the call yet) or refused early.
            error = problems[0].message if problems else _NOT_CONFIRMED
            actions.append(AuditAction("access.revoked.failed", device.id, grant.grant_id, {"error": error}))
    elif not attempts:
        # No audit wrapper recorded the call (a hub without the built-ins): the log still shows it.
        done = {"gate_id": gate.id, "confirmed": True}
        actions.append(AuditAction("access.revoked", device.id, grant.grant_id, done))
    store.record_pass_revocation(entry_id, confirmed=confirmed, actions=actions, actor=actor, error=error)
    return confirmed


def _run(device: Connection, hook: str, call: Callable[[], Any], problems: list[Problem]) -> Any:
    try:
        return call()
    except Exception as exc:  # any failure of the device means "not taken back yet"
        problems.append(Problem(hook, device.id, "error", describe_error(exc)))
        return None
