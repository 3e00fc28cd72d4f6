"""A per-process cache of the catalog: communities, zones, gates, connections, API keys.

Every entry reads the same few rows — the API key, the gate, its community and zones,
the connections — and they change a few times a month. Reading them through the ORM
cost several milliseconds of CPU per decision; a dictionary lookup costs microseconds.

Consistency: every change to the catalog goes through :class:`~hub.core.store.Store`,
which raises the database's catalog version in the same transaction
(``catalog_state``, migration 0008) and, once committed, empties this process's cache.
Other processes (another web node, the command line) notice the new version at their
next check, at most ``max_age_s`` later, and empty theirs. So a change made here is
seen here at once, and everywhere within ``max_age_s`` (``catalog_cache_s``, default
1 s; 0 checks the version before every read). What is not found is never cached: an
unknown gate code always goes to the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import LRUCache

T = TypeVar("T")

#: Entries kept per process (all kinds together): the hot part of a city's catalog.
DEFAULT_SIZE = 20_000


class CatalogCache:
    """Values loaded from the catalog, by kind and key, until the catalog changes.

    :param read_version: reads the database's catalog version (a cheap query).
    :param max_age_s: how long a checked version is trusted before it is read again.
    """

    def __init__(
        self,
        read_version: Callable[[], int],
        max_age_s: float,
        *,
        size: int = DEFAULT_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age_s < 0:
            raise ValueError(f"max_age_s must be 0 or more, not {max_age_s}")
        self._read_version = read_version
        self._max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._values: LRUCache[tuple[str, Hashable], Any] = LRUCache(size)
        self._version: int | None = None
        self._checked_at = float("-inf")
        # Raised on every emptying: a value loaded before it is not kept after it.
        self._generation = 0

    def get(self, kind: str, key: Hashable, load: Callable[[], T]) -> T:
        """The cached value of ``(kind, key)``, or ``load()``'s, kept for next time.
        Exceptions from ``load`` (e.g. ``NotFound``) pass through and nothing is kept."""
        self._check_version()
        with self._lock:
            found = self._values.get((kind, key), _MISSING)
            generation = self._generation
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if generation == self._generation:
                self._values[(kind, key)] = value
        return value

    def forget(self, kind: str, key: Hashable) -> None:
        """Drop one value (it changed in a way that is not a catalog change, e.g. an
        API key's last use)."""
        with self._lock:
            self._values.pop((kind, key), None)
            self._generation += 1

    def clear(self) -> None:
        """Empty the cache: this process changed the catalog."""
        with self._lock:
            self._values.clear()
            self._generation += 1
            self._checked_at = float("-inf")

    def _check_version(self) -> None:
        now = self._monotonic()
        if self._max_age_s and now - self._checked_at < self._max_age_s:
            return
        version = self._read_version()
        with self._lock:
            if version != self._version:
                self._values.clear()
                self._generation += 1
                self._version = version
            self._checked_at = now


_MISSING = object()
