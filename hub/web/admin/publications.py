"""Community publishing on the console's jobs page: each community's profile version and,
per platform that takes it, what that platform last accepted and the latest error.

The jobs page passes ``publication_states(communities)`` to ``admin/_publications.html``
as ``publications``; managers see their own communities only.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.model import Community
from hub.core.publishing import ProfileVersion, Publication, publishes
from hub.web.context import runtime_of


@dataclass(frozen=True)
class PlatformState:
    connection_id: str
    name: str
    publication: Publication | None  # None: never attempted yet


@dataclass(frozen=True)
class PublicationState:
    community: Community
    version: ProfileVersion | None  # None: the profile was never recorded yet
    platforms: tuple[PlatformState, ...]

    def up_to_date(self, platform: PlatformState) -> bool:
        held = platform.publication
        return (
            self.version is not None
            and held is not None
            and held.error is None
            and held.published_digest == self.version.digest
        )


def publication_states(communities: list[Community]) -> list[PublicationState]:
    """The publication state of each of ``communities``."""
    rt = runtime_of()
    ids = [c.id for c in communities]
    versions = rt.store.profile_versions(ids)
    held = {(p.community_id, p.connection_id): p for p in rt.store.community_publications(ids)}
    return [
        PublicationState(
            community,
            versions.get(community.id),
            tuple(
                PlatformState(connection.id, connection.name, held.get((community.id, connection.id)))
                for connection in rt.store.connections_for_community(community.id)
                if publishes(rt.hub, connection)
            ),
        )
        for community in communities
    ]
