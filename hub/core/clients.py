"""Per-connection plumbing for plugin authors: a cache of the clients a plugin keeps for
each connection, and loading a connection's settings through the plugin's schema.

A plugin instance serves every connection of its plugin, from many threads at once. It
usually keeps one client (an HTTP session, a broker connection) per connection, made on
first use and made anew when the connection is edited::

    class AcmePlatform:
        def __init__(self) -> None:
            self._clients = ClientCache(self._connect)

        def _connect(self, connection: Connection) -> AcmeClient:
            values = load_settings(AcmeSettings, connection)
            return AcmeClient(values["base_url"], values["api_key"], timeout=connection.timeout_s)

        @hookimpl
        def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
            return to_order(self._clients.get(connection).order(order_ref))
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import marshmallow

from hub.core import urlpolicy
from hub.core.errors import SettingsError
from hub.core.model import Connection

T = TypeVar("T")


@dataclass(frozen=True)
class _Entry(Generic[T]):
    settings: dict[str, Any]
    timeout_s: float
    pid: int
    value: T


class ClientCache(Generic[T]):
    """One object per connection id, made by ``make(connection)`` on first use and made
    anew when the connection's settings or ``timeout_s`` differ from those it was made
    for, or when the process is a fork of the one that made it. Safe to call from many
    threads: concurrent first calls make the object once.

    The object a newer one replaces is not closed, since a call on another thread may
    still be using it (an HTTP session closes its sockets when it is collected), unless
    ``on_replace`` is given: it is then called with it, outside the cache's lock, also
    when making the new one fails. It is never called with an object made by another
    process (the parent of a fork still owns it).

    :param make: builds the object for a connection; its errors (e.g.
        :class:`~hub.core.errors.SettingsError`) reach the caller of :meth:`get`.
    :param on_replace: lets go of an object the cache no longer hands out (e.g. closes
        a broker connection, whose network thread must not outlive its settings).
    :param track_timeout: ``False`` for an object that reads ``connection.timeout_s``
        at each call, so that a new timeout keeps it.
    """

    def __init__(
        self,
        make: Callable[[Connection], T],
        on_replace: Callable[[T], None] | None = None,
        *,
        track_timeout: bool = True,
    ) -> None:
        self._make = make
        self._on_replace = on_replace
        self._track_timeout = track_timeout
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry[T]] = {}

    def get(self, connection: Connection) -> T:
        """The connection's object, made now if it has none that is current."""
        entry = self._entries.get(connection.id)  # the usual case needs no lock
        if entry is not None and self._current(entry, connection):
            return entry.value
        stale: _Entry[T] | None = None
        try:
            with self._lock:
                entry = self._entries.get(connection.id)
                if entry is not None and self._current(entry, connection):
                    return entry.value
                stale = self._entries.pop(connection.id, None)
                value = self._make(connection)
                self._entries[connection.id] = _Entry(
                    copy.deepcopy(dict(connection.settings)), connection.timeout_s, os.getpid(), value
                )
                return value
        finally:
            if stale is not None:
                self._retire(stale, self._on_replace)

    def discard(self, connection_id: str) -> None:
        """Forget the connection's object (passing it to ``on_replace``); the next
        :meth:`get` makes a new one."""
        with self._lock:
            entry = self._entries.pop(connection_id, None)
        if entry is not None:
            self._retire(entry, self._on_replace)

    def close(self, closer: Callable[[T], None] | None = None) -> None:
        """Forget every object, passing each one this process made to ``closer``
        (by default ``on_replace``). The cache can be used again afterwards."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            self._retire(entry, closer or self._on_replace)

    def _current(self, entry: _Entry[T], connection: Connection) -> bool:
        return (
            entry.pid == os.getpid()
            and entry.settings == dict(connection.settings)
            and (not self._track_timeout or entry.timeout_s == connection.timeout_s)
        )

    @staticmethod
    def _retire(entry: _Entry[T], closer: Callable[[T], None] | None) -> None:
        if closer is not None and entry.pid == os.getpid():
            closer(entry.value)


def load_settings(schema: type[marshmallow.Schema], connection: Connection) -> dict[str, Any]:
    """``connection.settings`` loaded through the plugin's settings schema: validated,
    defaults filled in, and the URL settings held to the deployment's URL policy
    (:mod:`hub.core.urlpolicy`: schemes, no credentials in URLs, literal addresses; the
    addresses a host name resolves to are checked when the connection is opened).

    :raises SettingsError: naming every wrong setting and what is wrong with it, with
        marshmallow's messages by setting in ``errors``. The values given are not
        repeated (they may be secrets).
    """
    try:
        values = schema().load(dict(connection.settings))
    except marshmallow.ValidationError as exc:
        errors = exc.normalized_messages()
        raise SettingsError(f"invalid settings for connection {connection.id}: {_describe(errors)}", errors) from None
    # No DNS lookup here: this runs on the entry path, and a name checked now may resolve
    # elsewhere by the time it is called; the connection itself is checked when opened.
    urlpolicy.check_settings(schema, values, connection.id, resolve_names=False)
    return values


def _describe(errors: Mapping[Any, Any]) -> str:
    """``{"url": ["Not a valid URL."], "field_map": {"a": ["…"]}}`` as
    ``field_map: a: …; url: Not a valid URL.``"""
    return "; ".join(f"{name}: {_messages(errors[name])}" for name in sorted(errors, key=str))


def _messages(problems: Any) -> str:
    if isinstance(problems, Mapping):
        return ", ".join(f"{key}: {_messages(problems[key])}" for key in sorted(problems, key=str))
    if isinstance(problems, list | tuple):
        return " ".join(_messages(p) for p in problems)
    return str(problems)
