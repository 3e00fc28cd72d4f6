"""The verification cache: a rider verified once is not verified again at every gate.

A platform says how long its answer may be reused (``RiderIdentity.cache_seconds``); for
that long the hub answers ``hub_verify_rider`` for the same credential on the same
connection from memory, without asking the platform, even while the platform is down.

The cache lives in the process (each web worker has its own): it holds only a few
thousand small values, and a miss costs one platform call, not a wrong answer.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Generator

from cachetools import TLRUCache

from hub.core.clock import Clock
from hub.core.hookspecs import hookimpl
from hub.core.model import Connection, Credential, PluginInfo, PushEvent, RiderIdentity, RiderStatus
from hub.plugins.callstate import call_scope, current_call
from hub.plugins.info import builtin_info

CacheKey = tuple[str, str]


def cache_key(connection_id: str, credential: Credential) -> CacheKey:
    """The key an identity is cached under: the connection and a SHA-256 of the
    credential, so a credential's value is never kept in memory longer than its call."""
    digest = hashlib.sha256(f"{credential.kind}\0{credential.value}".encode()).hexdigest()
    return connection_id, digest


def _cacheable(identity: RiderIdentity | None) -> bool:
    # Only an active rider: a suspended or unknown one must be asked about again, so that
    # reinstatement (or suspension of someone else's reused token) is seen at once.
    return identity is not None and identity.status is RiderStatus.ACTIVE and identity.cache_seconds > 0


def _expires_at(_key: CacheKey, identity: RiderIdentity, now: float) -> float:
    return now + identity.cache_seconds


class VerificationCache:
    """Answers ``hub_verify_rider`` from memory for as long as the platform allowed.

    :param clock: the cache expires entries by ``clock.monotonic()``.
    :param maxsize: how many identities to keep; the soonest to expire go first.
    """

    def __init__(self, clock: Clock, maxsize: int = 10000) -> None:
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self._identities: TLRUCache[CacheKey, RiderIdentity] = TLRUCache(
            maxsize=maxsize, ttu=_expires_at, timer=clock.monotonic
        )

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "verification-cache",
            "Reuses a platform's verification of a rider for as long as the platform allows.",
            {"verification_cache"},
        )

    # Not a wrapper: returning the identity ends the firstresult call before the circuit
    # breaker's guard and the platform's own implementation run (see hub.plugins).
    @hookimpl(tryfirst=True, specname="hub_verify_rider")
    def _serve_cached(self, connection: Connection, credential: Credential) -> RiderIdentity | None:
        with self._lock:
            identity = self._identities.get(cache_key(connection.id, credential))
        call = current_call()
        if identity is not None and call is not None:
            call.served_from_cache = True
        return identity

    @hookimpl(wrapper=True, specname="hub_verify_rider")
    def _remember(
        self, connection: Connection, credential: Credential
    ) -> Generator[None, RiderIdentity | None, RiderIdentity | None]:
        with call_scope("hub_verify_rider", connection) as call:
            identity = yield
            # Storing an identity the cache itself served would push its expiry back.
            if not call.served_from_cache and _cacheable(identity):
                with self._lock:
                    self._identities[cache_key(connection.id, credential)] = identity
            return identity

    @hookimpl
    def hub_push_received(self, connection: Connection, event: PushEvent) -> None:
        """A platform said a rider is no longer active: stop vouching for them at once,
        instead of for the rest of the cache lifetime."""
        if event.rider_status is not None and event.rider_status is not RiderStatus.ACTIVE and event.rider_ref:
            self.forget(connection.id, event.rider_ref)

    def forget(self, connection_id: str, platform_ref: str) -> int:
        """Drop every cached identity of one rider at one connection (e.g. when a push
        says the rider was suspended); returns how many were dropped."""
        with self._lock, self._identities.timer:  # one instant for the whole scan
            # A scan rather than an index: pushes are rare and the cache is small.
            stale = [
                key
                for key, identity in self._identities.items()
                if key[0] == connection_id and identity.platform_ref == platform_ref
            ]
            for key in stale:
                del self._identities[key]
        return len(stale)

    def __len__(self) -> int:
        """How many identities are cached now (for the console)."""
        with self._lock:
            self._identities.expire()
            return len(self._identities)
