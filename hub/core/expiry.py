"""Pass expiry: every pass past its end is taken back at its gate's device.

A device's pass is revoked through ``hub_revoke_access`` (shared with a rider's exit:
:func:`hub.core.revocation.revoke_pass`); only the device's confirmation marks it
revoked. A failure is audited (``access.revoked.failed``), counted on the pass and tried
again on a later run after :func:`~hub.core.revocation.retry_after` (2, 4, 8 … minutes),
so a dead device is not asked every minute; after
:data:`~hub.core.revocation.MAX_ATTEMPTS` failures the pass is given up on (audited
``pass.revoke_given_up``). Passes not taken back are listed on the console's jobs page.
A guard's pass (no device) is marked revoked at once (``pass.revoked``).

At most :data:`MAX_PER_RUN` passes are handled per run, those never tried first. A run
that crashed halfway is simply run again: a pass already revoked is not listed again,
and a device forgets a pass it no longer knows without complaint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from hub.core.model import Connection, Gate
from hub.core.plugins import Hub
from hub.core.revocation import MAX_ATTEMPTS, revoke_pass
from hub.core.store import Store

log = logging.getLogger(__name__)

#: Passes handled per run at most; the rest wait for the next run.
MAX_PER_RUN = 200
#: Who the audit log says revoked a pass.
ACTOR = "job:passes.expire"


@dataclass(frozen=True)
class ExpiryReport:
    """What one run did: passes revoked, and attempts that failed (to be retried)."""

    revoked: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.revoked + self.failed


def expire_passes(
    hub: Hub,
    store: Store,
    *,
    limit: int = MAX_PER_RUN,
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
    without_device: bool = False,
) -> ExpiryReport:
    """Take back the passes that are due (of one device connection, or only those
    without a device, when asked); never raises for a device's failure."""
    due = store.passes_to_revoke(limit, connection_id=connection_id, without_device=without_device)
    gates: dict[str, Gate] = {}
    devices: dict[str, Connection] = {}
    revoked = failed = 0
    for done, expired in enumerate(due, start=1):
        gate = gates.get(expired.gate_id) or gates.setdefault(expired.gate_id, store.get_gate(expired.gate_id))
        device = None
        if expired.connection_id is not None:
            device = devices.get(expired.connection_id) or devices.setdefault(
                expired.connection_id, store.get_connection(expired.connection_id)
            )
        confirmed = revoke_pass(
            hub, store, entry_id=expired.entry_id, grant=expired.grant, gate=gate, device=device, actor=ACTOR
        )
        if confirmed:
            revoked += 1
        else:
            failed += 1
            attempt = expired.attempts + 1
            given_up = " and is given up on" if attempt >= MAX_ATTEMPTS else ""
            log.warning(
                "pass %s was not taken back at %s (attempt %d of %d)%s",
                expired.grant.grant_id,
                expired.connection_id,
                attempt,
                MAX_ATTEMPTS,
                given_up,
            )
        if progress is not None:
            progress(done, len(due), expired.grant.grant_id)
    return ExpiryReport(revoked, failed)
