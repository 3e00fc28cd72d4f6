"""State the web processes must agree on: kept in each process, or shared in Redis.

Behind a load balancer a rider's next request may reach another process, so what
decides entries must not depend on which process answers. Three things are kept here:

- the verification cache (:mod:`hub.plugins.cache`): a rider verified by one process is
  not verified again by the next;
- the circuit breakers (:mod:`hub.plugins.breaker`): a platform that failed in one
  process is not called by the others until its trial;
- the single-use entry codes and gate-screen presence codes already used
  (:meth:`RedisSharedState.claim`): a code is accepted once by the whole deployment.

``shared_state_url`` chooses where. Empty (the default): each process keeps the cache
and the breakers in its memory, as one process needs, and used codes go to the database
(``Store.claim_single_use``). ``redis://``, ``rediss://`` or ``unix://``: all three live
in that Redis. Idempotency keys of entries are never here: they are a column of the
entry's row, written in the entry's transaction, so they stay in the database.

With Redis, used codes exist only in Redis until they expire: run it with persistence
(``appendonly yes``) and ``maxmemory-policy noeviction``, or a restart (or an eviction)
lets a code still inside its lifetime be used again.

Every Redis operation is bounded: 0.25 s to connect, 0.25 s per command, 0.25 s to get a
connection from the pool, no retry (a retried ``SET NX`` could refuse the rider's own
code). After an operation timed out, the process does not ask Redis for
``SLOW_BACKOFF_S`` seconds (each operation fails at once), so that a Redis that accepts
connections but does not answer costs one wait per second, not one per operation. When
Redis is unreachable or slow each user of it decides what that means:

- verification cache: a miss, the platform is asked;
- circuit breakers: they fail open, calls go ahead as if every circuit were closed;
- used codes: they fail *closed*. :class:`SharedStateUnavailable` tells the engine the
  code cannot be known unused, and the entry goes to a guard's manual check.

Each logs one WARNING per kind of use at most every ``WARN_EVERY_S`` seconds, and one
INFO line when Redis answers again. No entry fails because of Redis.

Key layout (``<prefix>`` is ``shared_state_key_prefix``; ``:`` and ``%`` inside a
connection id, code id or rider ref are written ``%3A`` and ``%25``)::

    <prefix>:vcache:<connection id>:<sha256 of credential>   a cached identity (PX)
    <prefix>:vcache-rider:<connection id>:<rider ref>        set of those keys (for forget)
    <prefix>:vcache-expiry                                    sorted set: key -> expiry (count, size)
    <prefix>:breaker:<connection id>:<hook>                  hash: one circuit
    <prefix>:breakers                                         set of circuit names
    <prefix>:claim:<connection id>:<code id>                 "1" until the code expires (PXAT)

The cache's forget, its size bound and the breakers' ``states`` touch keys found in a set
or sorted set, so Redis Cluster is not supported: use one Redis (with a replica).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from hub.core.clock import Clock
from hub.core.config import ConfigError, check_shared_state_url
from hub.core.errors import UpstreamError

if TYPE_CHECKING:  # redis is an optional extra: imported only when configured
    import redis

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to connect, to run one command, and to wait for a free pooled connection.
REDIS_TIMEOUT_S = 0.25
#: The least time between two warnings that Redis is unavailable for one kind of use.
WARN_EVERY_S = 60.0
#: After a timeout, Redis is not asked again for this long (operations fail at once).
SLOW_BACKOFF_S = 1.0
#: A claim is kept at least this long, even for a code that expires sooner.
MIN_CLAIM_MS = 1000


class SharedStateUnavailable(UpstreamError):
    """Redis did not answer (in time): the shared state could not be read or written."""

    code = "shared_state_unavailable"


def key_name(*parts: str) -> str:
    """``parts`` joined by ``:``, each with its own ``%`` and ``:`` escaped, so that the
    name can be split back (:func:`key_parts`) whatever the ids hold."""
    return ":".join(part.replace("%", "%25").replace(":", "%3A") for part in parts)


def key_parts(name: str) -> tuple[str, ...]:
    """The parts :func:`key_name` joined."""
    return tuple(part.replace("%3A", ":").replace("%25", "%") for part in name.split(":"))


def milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class SharedState:
    """Nothing shared: each process keeps its own cache and circuits, and used codes are
    claimed in the database. The default, and all a single process needs."""

    shared: ClassVar[bool] = False

    def describe(self) -> str:
        return "in each process"

    def close(self) -> None:
        """Let go of connections (none here)."""


class RedisSharedState(SharedState):
    """The state of every process in one Redis.

    :param client: a ``redis.Redis`` (see :meth:`from_url` for the settings it needs).
    :param prefix: starts every key, to keep deployments sharing a Redis apart.
    :param clock: spaces out the warnings (its ``monotonic``).
    """

    shared: ClassVar[bool] = True

    def __init__(self, client: redis.Redis, prefix: str = "last100", *, clock: Clock | None = None) -> None:
        import redis.exceptions

        self.client = client
        self.prefix = prefix
        self._errors = (redis.exceptions.RedisError,)
        self._timeouts = (redis.exceptions.TimeoutError,)
        self._clock = clock or Clock()
        self._quiet_until = 0.0  # after a timeout: when Redis may be asked again (monotonic)
        self._lock = threading.Lock()
        self._warned: dict[str, float] = {}  # kind of use -> when its last warning went out
        self._down: set[str] = set()  # kinds of use whose last operation failed

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str = "last100",
        *,
        max_connections: int = 64,
        timeout_s: float = REDIS_TIMEOUT_S,
        clock: Clock | None = None,
    ) -> RedisSharedState:
        """A client with bounded waits and no retries, over a pool of at most
        ``max_connections`` (a thread waits ``timeout_s`` at most for one)."""
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError(
                "setting 'shared_state_url' names Redis, but the redis package is not installed: "
                "pip install 'last100-hub[redis]'"
            ) from None
        try:
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise ConfigError(f"setting 'shared_state_url': {exc}") from None
        return cls(redis.Redis(connection_pool=pool), prefix, clock=clock)

    def describe(self) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
        return f"in Redis at {where} (keys {self.prefix}:*)"

    def key(self, *parts: str) -> str:
        """``<prefix>:<parts>``, the parts escaped as :func:`key_name` does."""
        return f"{self.prefix}:{key_name(*parts)}"

    def script(self, source: str) -> Callable[..., Any]:
        """A Lua script, run with ``script(keys=[...], args=[...])`` (by its SHA once
        Redis has seen it)."""
        return self.client.register_script(source)

    def run(self, what: str, operation: Callable[[], T], meanwhile: str) -> T:
        """``operation()``; when Redis fails, note it (``what`` is the kind of use,
        ``meanwhile`` what the hub does instead) and raise
        :class:`SharedStateUnavailable`. Within ``SLOW_BACKOFF_S`` of a timeout Redis
        is not asked: the operation fails at once."""
        if self._quiet_until and self._clock.monotonic() < self._quiet_until:
            skipped = TimeoutError(f"Redis timed out less than {SLOW_BACKOFF_S:g} s ago; not asked")
            self._note_down(what, skipped, meanwhile)
            raise SharedStateUnavailable(f"shared state unavailable ({what}): Redis slow")
        try:
            result = operation()
        except self._errors as exc:
            if isinstance(exc, self._timeouts):
                self._quiet_until = self._clock.monotonic() + SLOW_BACKOFF_S
            self._note_down(what, exc, meanwhile)
            raise SharedStateUnavailable(f"shared state unavailable ({what}): {type(exc).__name__}") from exc
        if self._down:
            self._note_up(what)
        return result

    def claim(self, connection_id: str, code_id: str, until: datetime, now: datetime) -> bool:
        """Accept a single-use code once, across every process: ``False`` when it was
        claimed before. The claim is kept until ``until`` (the code's own expiry), and
        at least a second.

        :raises SharedStateUnavailable: Redis did not answer; the code must not be
            taken as unused.
        """
        at_ms = max(milliseconds(until), milliseconds(now) + MIN_CLAIM_MS)
        key = self.key("claim", connection_id, code_id)
        done = self.run(
            "single-use codes",
            lambda: self.client.set(key, 1, nx=True, pxat=at_ms),
            "entries with a single-use or presence code go to a manual check",
        )
        return bool(done)

    def close(self) -> None:
        self.client.close()
        self.client.connection_pool.disconnect()

    def _note_down(self, what: str, exc: Exception, meanwhile: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            self._down.add(what)
            last = self._warned.get(what)
            if last is not None and now - last < WARN_EVERY_S:
                return
            self._warned[what] = now
        log.warning(
            "shared state: Redis unavailable for the %s (%s: %s); %s. Said at most every %g s.",
            what,
            type(exc).__name__,
            exc,
            meanwhile,
            WARN_EVERY_S,
        )

    def _note_up(self, what: str) -> None:
        with self._lock:
            if what not in self._down:
                return
            self._down.discard(what)
        log.info("shared state: Redis answers again for the %s", what)


def open_shared_state(
    url: str, prefix: str = "last100", *, max_connections: int = 64, clock: Clock | None = None
) -> SharedState:
    """The shared state ``url`` names: empty, each process its own; a Redis URL, that
    Redis (nothing is connected until first use).

    :raises ConfigError: the URL is not empty nor Redis, or the redis package is missing.
    """
    try:
        url = check_shared_state_url(url)
    except ValueError as exc:
        raise ConfigError(f"setting 'shared_state_url': {exc}") from None
    if not url:
        return SharedState()
    return RedisSharedState.from_url(url, prefix, max_connections=max_connections, clock=clock)
