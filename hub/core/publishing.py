"""Community publishing: each community's profile (its rules, gates, buildings and marked
areas) sent to every platform that serves the community (``hub_publish_community``).

A profile's *version* is the hub's count of its changes: the profile is reduced to a
canonical JSON digest (SHA-256), and whenever the digest differs from the stored one the
version grows (the first time, it is 1). Whoever sees the change first records it, the
publishing job or the API's ``/communities/<id>/profile``, so platforms read the same
number the job sends them.

The job ``communities.publish`` then publishes to each enabled connection linked to the
community whose plugin implements ``hub_publish_community``, when:

- the connection has never accepted the profile, or accepted another digest (a change);
- it accepted it over :data:`REPUBLISH_AFTER` ago (the daily re-publish, so a platform
  that lost it gets it back);
- the last attempt failed: retried after a wait that doubles with the time the
  publication has been failing, from :data:`FIRST_RETRY` up to :data:`LONGEST_RETRY`.

Each attempt is recorded (``community_publications``: the accepted version, digest and
time, the latest attempt and its error) together with its audit records, which the
built-in audit plugin writes around the hook (``community.published`` with the version,
whether the platform accepted it and its reference; ``community.published.failed`` with
the error). One platform's failure does not stop the others. A run that crashes halfway
is run again: what was published is not due any more, the rest is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from hub.core.clock import Clock
from hub.core.errors import describe_error
from hub.core.model import Community, CommunityProfile, Connection
from hub.core.plugins import Hub
from hub.core.profiles import community_profile
from hub.core.trace import tracing

if TYPE_CHECKING:  # the store imports this module's records
    from hub.core.store import Store

log = logging.getLogger(__name__)

HOOK = "hub_publish_community"
#: A profile a platform accepted this long ago is sent again.
REPUBLISH_AFTER = timedelta(hours=24)
#: The wait after a failed attempt: the time the publication has been failing, within these.
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class ProfileVersion:
    """A community's profile as last seen: its digest, its version and when the version
    last changed."""

    community_id: str
    digest: str
    version: int
    changed_at: datetime


@dataclass(frozen=True)
class Publication:
    """The latest attempt to publish a community's profile to one platform connection.
    ``published_*`` describe what the platform last accepted (``None``: never);
    ``error`` is set when the latest attempt failed."""

    community_id: str
    connection_id: str
    published_version: int | None
    published_digest: str | None
    published_at: datetime | None
    attempted_at: datetime
    error: str | None = None


@dataclass(frozen=True)
class PublishReport:
    """What a run did: profiles ``published`` and ``failed`` (attempts), and
    publications that were ``up_to_date`` or waiting for their retry (``waiting``)."""

    published: int = 0
    failed: int = 0
    up_to_date: int = 0
    waiting: int = 0

    @property
    def attempted(self) -> int:
        return self.published + self.failed


# ---------------------------------------------------------------------------
# The profile, its digest and its version
# ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} in a community profile")


def profile_digest(profile: CommunityProfile) -> str:
    """SHA-256 of the profile's canonical JSON (sorted keys, no spaces, UTF-8), without
    its version: everything a plugin is handed, so any change a platform could see
    changes the digest."""
    data = dataclasses.asdict(profile)
    data.pop("version")
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_profile(store: Store, community: Community) -> CommunityProfile:
    """The community's profile now, with its version: the stored one, grown by one when
    the profile changed since it was recorded (recorded the first time as 1)."""
    return versioned_profile(store, community)[0]


def versioned_profile(store: Store, community: Community) -> tuple[CommunityProfile, ProfileVersion]:
    """:func:`current_profile`, with its digest and when its version last changed."""
    profile = community_profile(community, store.list_gates(community.id), store.list_zones(community.id))
    stored = store.record_profile_digest(community.id, profile_digest(profile))
    return dataclasses.replace(profile, version=stored.version), stored


# ---------------------------------------------------------------------------
# When a publication is due
# ---------------------------------------------------------------------------


def retry_delay(publication: Publication, profile: ProfileVersion) -> timedelta:
    """How long to wait after a failed attempt: as long as the publication has been
    failing (so the wait doubles: 5, 5, 10, 20, 40 minutes…), from FIRST_RETRY up to
    LONGEST_RETRY."""
    failing = publication.attempted_at - _due_since(publication, profile)
    return min(LONGEST_RETRY, max(FIRST_RETRY, failing))


def _due_since(publication: Publication, profile: ProfileVersion) -> datetime:
    """When the publication became due: the daily re-publish of the digest the platform
    holds, or else the change it does not have yet."""
    if publication.published_at is not None and publication.published_digest == profile.digest:
        return publication.published_at + REPUBLISH_AFTER
    return max(profile.changed_at, publication.published_at or profile.changed_at)


def due_reason(publication: Publication | None, profile: ProfileVersion, now: datetime) -> str | None:
    """Why the profile must be published to this connection now (``new``, ``changed``,
    ``retry``, ``daily``), or ``None`` when it need not be."""
    if publication is None:
        return "new"
    if publication.error is not None:
        return "retry" if now >= publication.attempted_at + retry_delay(publication, profile) else None
    if publication.published_digest != profile.digest:
        return "changed"
    if publication.published_at is None or now - publication.published_at >= REPUBLISH_AFTER:
        return "daily"
    return None


def publishes(hub: Hub, connection: Connection) -> bool:
    """Whether the connection can take a profile: enabled, its plugin loaded and
    implementing ``hub_publish_community``."""
    return connection.enabled and hub.is_loaded(connection.plugin) and hub.implements(connection.plugin, HOOK)


# ---------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------


def publish_communities(
    hub: Hub,
    store: Store,
    clock: Clock,
    *,
    actor: str = "job:communities.publish",
    progress: Callable[[int, int | None, str], None] | None = None,
    connection_id: str | None = None,
) -> PublishReport:
    """Publish every community's profile where it is due (to one platform connection
    only, when given: the communities it serves); never raises for one platform's
    failure (it is recorded and retried later)."""
    published = failed = up_to_date = waiting = 0
    communities = store.list_communities(connection_id=connection_id)
    for done, community in enumerate(communities, start=1):
        profile, version = versioned_profile(store, community)
        held = {p.connection_id: p for p in store.community_publications([community.id])}
        linked = store.connections_for_community(community.id)
        if connection_id is not None:
            linked = [c for c in linked if c.id == connection_id]
        for connection in linked:
            if not publishes(hub, connection):
                continue
            publication = held.get(connection.id)
            reason = due_reason(publication, version, clock.now())
            if reason is None:
                if publication is not None and publication.error is not None:
                    waiting += 1
                else:
                    up_to_date += 1
                continue
            if _publish(hub, store, connection, profile, version.digest, reason, actor):
                published += 1
            else:
                failed += 1
        if progress is not None:
            progress(done, len(communities), community.id)
    return PublishReport(published, failed, up_to_date, waiting)


def _publish(
    hub: Hub, store: Store, connection: Connection, profile: CommunityProfile, digest: str, reason: str, actor: str
) -> bool:
    """One attempt, recorded with its audit records; ``True`` when the platform accepted."""
    community_id = profile.community.id
    with tracing() as trace:
        try:
            receipt = hub.publish_community(connection, profile)
        except Exception as exc:  # recorded and retried; the other platforms go on
            error: str | None = describe_error(exc)
        else:
            if receipt is None or not receipt.accepted:
                message = receipt.message if receipt is not None and receipt.message else "no reason given"
                error = f"the platform did not accept version {profile.version}: {message}"
            else:
                error = None
    if error is not None:
        log.warning("publishing %s v%d to %s failed: %s", community_id, profile.version, connection.id, error)
    store.record_publication(
        community_id,
        connection.id,
        version=profile.version,
        digest=digest,
        error=error,
        reason=reason,
        actions=trace.actions,
        actor=actor,
    )
    return error is None
