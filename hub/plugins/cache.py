"""The verification cache: a rider verified once is not verified again at every gate.

A platform says how long its answer may be reused (``RiderIdentity.cache_seconds``); for
that long the hub answers ``hub_verify_rider`` for the same credential on the same
connection without asking the platform, even while the platform is down. Only an active
rider with ``cache_seconds > 0`` is cached; an identity served from the cache is marked
``served_from_cache`` and never stored again (its life is not pushed back).

Where the identities live is the hub's shared state (:mod:`hub.core.shared`):

- In the process (the default): a cachetools ``TLRUCache`` per process, timed by the
  clock's ``monotonic``; when full, the least recently used identity goes first. A miss
  in another process costs one platform call, not a wrong answer.
- In Redis, shared by every process: each identity is a JSON string (every field of
  ``RiderIdentity``, with its expiry) under ``<prefix>:vcache:<connection id>:<sha256>``
  with ``PX`` = ``cache_seconds``; the expiry is also checked against the clock's wall
  time (``timestamp``) on reading, to the millisecond. ``forget`` finds a rider's keys in
  the set ``<prefix>:vcache-rider:<connection id>:<rider ref>`` (kept as long as the
  longest-lived identity in it), never by SCAN. The sorted set
  ``<prefix>:vcache-expiry`` (key → expiry) bounds the cache to ``maxsize`` identities
  for the whole deployment, the soonest to expire going first, and makes ``len`` cheap:
  one script that drops the expired members (O(log N) each) and counts the rest
  (ZCARD, O(1)). When Redis cannot be asked, a lookup is a miss (the platform is asked),
  storing and forgetting are skipped, ``len`` is 0, all logged (see
  :mod:`hub.core.shared`); nothing is raised into the entry. A rider suspended while
  Redis was unreachable stays cached until the identity expires.

Keys hold a SHA-256 of the credential, never its value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import threading
import types
import typing
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

from cachetools import TLRUCache

from hub.core.clock import Clock
from hub.core.hookspecs import hookimpl
from hub.core.model import Connection, Credential, PluginInfo, PushEvent, RiderIdentity, RiderStatus
from hub.core.shared import RedisSharedState, SharedState, SharedStateUnavailable
from hub.plugins.callstate import call_scope, current_call
from hub.plugins.info import builtin_info

CacheKey = tuple[str, str]


def cache_key(connection_id: str, credential: Credential) -> CacheKey:
    """The key an identity is cached under: the connection and a SHA-256 of the
    credential, so a credential's value is never kept longer than its call."""
    digest = hashlib.sha256(f"{credential.kind}\0{credential.value}".encode()).hexdigest()
    return connection_id, digest


def _cacheable(identity: RiderIdentity | None) -> bool:
    # Only an active rider: a suspended or unknown one must be asked about again, so that
    # reinstatement (or suspension of someone else's reused token) is seen at once.
    return identity is not None and identity.status is RiderStatus.ACTIVE and identity.cache_seconds > 0


def _expires_at(_key: CacheKey, identity: RiderIdentity, now: float) -> float:
    return now + identity.cache_seconds


# -- an identity as JSON ------------------------------------------------------------------


def _decoder(hint: Any) -> Callable[[Any], Any]:
    """How to turn the JSON form of a field of type ``hint`` back into its value."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        decode = _decoder(inner)
        return lambda value: None if value is None else decode(value)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"no JSON form for {hint}")
        decode = _decoder(args[0])
        return lambda value: tuple(decode(item) for item in value)
    if hint is datetime:
        return datetime.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if hint in (str, int, float, bool):
        return hint
    raise TypeError(f"no JSON form for {hint}")


# Built when the module is imported: a field of a type with no JSON form fails here, not
# in a rider's entry.
_HINTS = typing.get_type_hints(RiderIdentity)
_DECODERS = {f.name: _decoder(_HINTS[f.name]) for f in dataclasses.fields(RiderIdentity)}


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def identity_to_json(identity: RiderIdentity) -> dict[str, Any]:
    """Every field of ``identity`` in JSON types (enums by value, datetimes in ISO 8601
    with their offset, tuples as lists)."""
    return {name: _plain(getattr(identity, name)) for name in _DECODERS}


def identity_from_json(data: dict[str, Any]) -> RiderIdentity:
    """The identity :func:`identity_to_json` wrote."""
    return RiderIdentity(**{name: _DECODERS[name](value) for name, value in data.items()})


# -- where the identities live --------------------------------------------------------------


class _ProcessIdentities:
    """In this process's memory."""

    def __init__(self, clock: Clock, maxsize: int) -> None:
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        self._identities: TLRUCache[CacheKey, RiderIdentity] = TLRUCache(
            maxsize=maxsize, ttu=_expires_at, timer=clock.monotonic
        )

    def get(self, key: CacheKey) -> RiderIdentity | None:
        with self._lock:
            return self._identities.get(key)

    def put(self, key: CacheKey, identity: RiderIdentity) -> None:
        with self._lock:
            self._identities[key] = identity

    def forget(self, connection_id: str, platform_ref: str) -> int:
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

    def count(self) -> int:
        with self._lock:
            self._identities.expire()
            return len(self._identities)

    def keys(self) -> list[CacheKey]:
        with self._lock:
            return list(self._identities.keys())


# KEYS: the identity, its rider's set, the expiry index. ARGV: the value, its life in ms,
# its expiry (wall ms), now (wall ms), maxsize. Identities expired or pushed out of the
# index are dropped from it; the rider's set lives as long as its longest-lived member.
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[3], ARGV[3], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
local over = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[3], over)
  for i = 1, #popped, 2 do
    redis.call('DEL', popped[i])
  end
end
return 0
"""

# KEYS: the rider's set, the expiry index. ARGV: the rider's ref, now (wall ms). A key in
# the set may since hold another rider's identity (a reused token): that one stays.
_FORGET = """
local dropped = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local value = redis.call('GET', key)
  if value then
    local held = cjson.decode(value)
    if held['identity']['platform_ref'] == ARGV[1] then
      redis.call('DEL', key)
      redis.call('ZREM', KEYS[2], key)
      if tonumber(held['until']) > tonumber(ARGV[2]) then
        dropped = dropped + 1
      end
    end
  end
end
redis.call('DEL', KEYS[1])
return dropped
"""

# KEYS: the expiry index. ARGV: now (wall ms).
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
"""

_MEANWHILE = "the verification cache misses: platforms are asked"


class _RedisIdentities:
    """In Redis, shared by every process (see the module's docstring)."""

    def __init__(self, shared: RedisSharedState, clock: Clock, maxsize: int) -> None:
        self._shared = shared
        self._clock = clock
        self._maxsize = maxsize
        self._expiry = shared.key("vcache-expiry")
        self._store = shared.script(_STORE)
        self._forget = shared.script(_FORGET)
        self._count = shared.script(_COUNT)

    def get(self, key: CacheKey) -> RiderIdentity | None:
        try:
            raw = self._run(lambda: self._shared.client.get(self._key(key)))
        except SharedStateUnavailable:
            return None
        if raw is None:
            return None
        try:
            held = json.loads(raw)
            if self._now_ms() >= held["until"]:
                return None
            return identity_from_json(held["identity"])
        except (KeyError, TypeError, ValueError):
            # Written by another version of the hub (a field added or gone): ask again.
            return None

    def put(self, key: CacheKey, identity: RiderIdentity) -> None:
        now = self._now_ms()
        life_ms = identity.cache_seconds * 1000
        held = {"until": now + life_ms, "identity": identity_to_json(identity)}
        value = json.dumps(held, ensure_ascii=False, separators=(",", ":"))
        keys = [self._key(key), self._rider(key[0], identity.platform_ref), self._expiry]
        args = [value, life_ms, now + life_ms, now, self._maxsize]
        with contextlib.suppress(SharedStateUnavailable):  # not stored: a miss next time
            self._run(lambda: self._store(keys=keys, args=args))

    def forget(self, connection_id: str, platform_ref: str) -> int:
        keys = [self._rider(connection_id, platform_ref), self._expiry]
        try:
            return int(self._run(lambda: self._forget(keys=keys, args=[platform_ref, self._now_ms()])))
        except SharedStateUnavailable:
            return 0

    def count(self) -> int:
        try:
            return int(self._run(lambda: self._count(keys=[self._expiry], args=[self._now_ms()])))
        except SharedStateUnavailable:
            return 0

    def _key(self, key: CacheKey) -> str:
        return self._shared.key("vcache", *key)

    def _rider(self, connection_id: str, platform_ref: str) -> str:
        return self._shared.key("vcache-rider", connection_id, platform_ref)

    def _run(self, operation: Callable[[], Any]) -> Any:
        return self._shared.run("verification cache", operation, _MEANWHILE)

    def _now_ms(self) -> int:
        return int(self._clock.timestamp() * 1000)


# -- the plugin -------------------------------------------------------------------------------


class VerificationCache:
    """Answers ``hub_verify_rider`` from the cache for as long as the platform allowed.

    :param clock: times the identities (``monotonic`` in the process, ``timestamp`` in
        Redis, where the processes must agree).
    :param maxsize: how many identities to keep (per process, or for the whole deployment
        in Redis).
    :param shared: where the identities live; by default in this process.
    """

    def __init__(self, clock: Clock, maxsize: int = 10000, shared: SharedState | None = None) -> None:
        #: How many identities it keeps at most.
        self.maxsize = maxsize
        self._identities: _ProcessIdentities | _RedisIdentities
        if isinstance(shared, RedisSharedState):
            self._identities = _RedisIdentities(shared, clock, maxsize)
        else:
            self._identities = _ProcessIdentities(clock, maxsize)

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
                self._identities.put(cache_key(connection.id, credential), identity)
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
        return self._identities.forget(connection_id, platform_ref)

    def __len__(self) -> int:
        """How many identities are cached now (for the console)."""
        return self._identities.count()
