"""Inbound pushes: a platform or device tells the hub that something changed.

The connection's plugin authenticates and parses the push (``hub_parse_push``); the hub
stores the events it has not seen before, tells listeners (``hub_push_received``) and
answers with the acknowledgement the plugin's system expects. A push that is forged,
stale or malformed changes nothing and is audited, and so does one that crashes the
plugin's parser (answered 400 like a malformed one, logged with the traceback); a repeat
of an event already applied is acknowledged (so the sender stops retrying) and not
applied twice.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.core.errors import CapabilityMissing, HubError, PushRejected, describe_error
from hub.core.model import PushRequest
from hub.core.plugins import Hub
from hub.core.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushOutcome:
    """What to answer the sender: ``status`` with ``body`` (the plugin's ack when
    accepted); ``applied`` new events, ``repeated`` events seen before."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)
    applied: int = 0
    repeated: int = 0
    error: str = ""


def receive_push(hub: Hub, store: Store, connection_id: str, request: PushRequest) -> PushOutcome:
    """Authenticate, parse and apply one push for a connection.

    :raises NotFound: no such connection (the caller answers 404).
    """
    connection = store.get_connection(connection_id)
    actor = f"push:{connection_id}"
    try:
        if not connection.enabled:
            raise PushRejected(f"connection {connection_id} is disabled", status=403)
        events = hub.parse_push(connection, request)
    except CapabilityMissing:
        return _refuse(store, actor, connection_id, PushRejected("this connection does not accept pushes", 404))
    except PushRejected as exc:
        return _refuse(store, actor, connection_id, exc)
    except HubError as exc:  # the plugin failed in a way it did not classify: treat as malformed
        log.warning("push on %s could not be parsed: %s", connection_id, exc)
        return _refuse(store, actor, connection_id, PushRejected(f"the push could not be parsed: {exc}", 400))
    except Exception as exc:
        # A parser that crashed on what it was sent (a time past year 9999, a nesting too
        # deep) is a bug in the plugin, logged with where it happened; the sender gets a
        # 400, as for any push that cannot be read, not a 500 that it would retry for ever.
        # Only the exception's type is kept: its message may quote the push.
        log.error(
            "push on %s crashed the %s plugin's parser (%s) at:\n%s",
            connection_id,
            connection.plugin,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return _refuse(
            store, actor, connection_id, PushRejected(f"the push could not be parsed ({describe_error(exc)})", 400)
        )

    applied = store.apply_push(connection_id, events, actor)
    for event in applied:
        hub.push_received(connection, event)
    ack = hub.plugin(connection.plugin).info.push_ack
    return PushOutcome(200, ack, applied=len(applied), repeated=len(events) - len(applied))


def _refuse(store: Store, actor: str, connection_id: str, exc: PushRejected) -> PushOutcome:
    store.audit(actor, "push.rejected", connection_id, {"status": exc.status, "reason": str(exc)})
    return PushOutcome(exc.status, error=str(exc))
