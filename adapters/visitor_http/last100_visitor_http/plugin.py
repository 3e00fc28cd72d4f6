"""The visitor-http plugin: the hub's visitor hook, answered by any property-management
system that takes visitor records as a signed JSON POST.

This module only maps: the client and the field map do the work and raise the errors of
:mod:`last100_visitor_http.errors`; here they become the hub's model and errors:

==============================================  ============================================
visitor system                                  hub
==============================================  ============================================
2xx (and ``success_path`` == ``success_value``)  ``VisitorRecord(ref=<record id or entry id>)``
401 / 403                                       ``UpstreamError`` naming secret and key_id
other 4xx                                       ``UpstreamError`` naming the status and the
                                                system's message (the outbox dead-letters
                                                the visit after its attempts)
2xx with another value at ``success_path``        ``UpstreamError`` with the value and message
5xx, 429, unreachable, unreadable reply         ``UpstreamError``
no answer in time (connect, read or whole body) ``UpstreamTimeout``
==============================================  ============================================

The hub calls ``hub_register_visitor`` from its outbox, with retries; every attempt
carries the visit's ``entry_id`` as its ``Idempotency-Key``, so a retry after a lost
reply does not make a second record.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter

from hub.core.clients import ClientCache, load_settings
from hub.core.clock import Clock
from hub.core.errors import SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import Connection, Health, PluginInfo, Visit, VisitorRecord
from last100_visitor_http import __version__
from last100_visitor_http.client import HeaderNames, Probe, ReplyRules, VisitorHttpClient, redact_url
from last100_visitor_http.errors import (
    NotAccepted,
    StatusError,
    TransportError,
    VisitorHttpError,
    VisitorHttpTimeout,
)
from last100_visitor_http.mapping import RecordLayout, compile_field_map
from last100_visitor_http.settings import VisitorHttpSettings

#: Concurrent requests to one system before connections are opened and dropped.
POOL_SIZE = 8

_SIGNATURE_HINT = "check secret, key_id and this machine's clock"


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class _Link:
    """Everything the plugin keeps for one connection, built from its settings."""

    client: VisitorHttpClient
    layout: RecordLayout


@contextlib.contextmanager
def _upstream(connection: Connection) -> Iterator[None]:
    """Put the client's errors in the hub's terms."""
    name = connection.name
    try:
        yield
    except VisitorHttpTimeout as exc:
        raise UpstreamTimeout(f"{name} did not answer within {connection.timeout_s:g} s") from exc
    except StatusError as exc:
        said = f"HTTP {exc.status}" + (f": {exc.message}" if exc.message else "")
        if exc.signature_refused:
            raise UpstreamError(f"{name} refused the hub's signature ({said}); {_SIGNATURE_HINT}") from exc
        if exc.client_error:
            raise UpstreamError(
                f"{name} refused the visitor record ({said}); check field_map and static_fields"
            ) from exc
        raise UpstreamError(f"{name} failed ({said})") from exc
    except NotAccepted as exc:
        raise UpstreamError(f"{name} did not accept the visitor record ({exc})") from exc
    except TransportError as exc:
        raise UpstreamError(f"{name} cannot be reached ({exc})") from exc
    except VisitorHttpError as exc:  # a ProtocolError: a reply the settings cannot read
        raise UpstreamError(f"{name} answered unexpectedly ({exc})") from exc


class VisitorHttpPlugin:
    """Writes the hub's visits into any visitor system that takes a signed JSON POST.

    The hub creates it with no arguments (a class entry point). One HTTP session per
    connection is created on first use and rebuilt when the connection's settings or
    timeout change; the plugin is safe to call from many threads at once.

    :param clock: the time for request signatures (tests pass a manual clock).
    :param session_factory: makes each connection's ``requests.Session``.
    """

    def __init__(
        self, clock: Clock | None = None, session_factory: Callable[[], requests.Session] = _new_session
    ) -> None:
        self._clock = clock or Clock()
        self._session_factory = session_factory
        self._links: ClientCache[_Link] = ClientCache(self._open)

    # -- per-connection state ---------------------------------------------------------

    def _open(self, connection: Connection) -> _Link:
        values = load_settings(VisitorHttpSettings, connection)
        timeout_s = connection.timeout_s
        client = VisitorHttpClient(
            values["url"],
            values["secret"],
            key_id=values["key_id"],
            headers=HeaderNames(values["signature_header"], values["timestamp_header"], values["key_id_header"]),
            rules=ReplyRules(
                values["success_path"], values["success_value"], values["record_id_path"], values["message_path"]
            ),
            health_url=values["health_url"],
            session=self._session_factory(),
            timeout=(min(values["connect_timeout_s"], timeout_s), timeout_s),
            deadline_s=timeout_s,
            now=lambda: self._clock.now().timestamp(),
        )
        layout = RecordLayout(
            field_map=compile_field_map(values["field_map"]),
            static_fields=values["static_fields"],
            idempotency_field=values["idempotency_field"],
            timezone=ZoneInfo(values["timezone"]),
        )
        return _Link(client, layout)

    # -- metadata ---------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="visitor-http",
            kinds={"visitor"},
            version=__version__,
            capabilities={"register_visitor"},
            description=(
                "Any property-management system's visitor book that takes a signed JSON POST "
                "(HMAC-SHA256, Idempotency-Key), with a configurable field mapping."
            ),
            settings_schema=VisitorHttpSettings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            link = self._links.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        where = redact_url(link.client.health_url or link.client.url)
        setting = "health_url" if link.client.health_url else "url"
        started = time.monotonic()
        try:
            probe = link.client.probe()
        except VisitorHttpTimeout:
            return Health(ok=False, message=f"{where} ({setting}) did not answer within {connection.timeout_s:g} s")
        except VisitorHttpError as exc:
            return Health(ok=False, message=f"{where} ({setting}) cannot be reached ({exc})")
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        ok, message = _judge(probe, where, setting)
        return Health(ok=ok, message=message, latency_ms=latency_ms if ok else None)

    # -- property side ----------------------------------------------------------------

    @hookimpl
    def hub_register_visitor(self, connection: Connection, visit: Visit) -> VisitorRecord:
        link = self._links.get(connection)
        with _upstream(connection):
            record_id = link.client.register(link.layout.record(visit), idempotency_key=visit.entry_id)
        # Without a record_id_path the system knows the record by the key the hub sent.
        return VisitorRecord(ref=record_id or visit.entry_id)


def _judge(probe: Probe, where: str, setting: str) -> tuple[bool, str]:
    """Whether a probe's answer means the system is there and takes the hub's signature,
    and what to tell the person configuring the connection."""
    status = probe.status
    said = f"HTTP {status}" + (f": {probe.message}" if probe.message else "")
    if 200 <= status < 300:
        return True, f"{where} answered {probe.method} with HTTP {status}; signature accepted"
    if 300 <= status < 400:
        target = f" to {redact_url(probe.location)}" if probe.location else ""
        return False, f"{where} ({setting}) redirects{target}; set {setting} to the final address"
    if status in (401, 403):
        return False, f"{where} refused the hub's signature ({said}); {_SIGNATURE_HINT}"
    if status == 404:
        return False, f"{where} ({setting}) answered HTTP 404: check {setting}"
    if status >= 500 or status == 429:
        return False, f"{where} ({setting}) is failing ({said})"
    if probe.method == "HEAD":
        # Many systems only route POST on the endpoint (405) or want a body (400): the
        # system is there, but it says nothing about the signature until a visit is sent.
        return True, f"{where} is reachable (HEAD answered HTTP {status}); the signature is checked on the first visit"
    return False, f"{where} (health_url) answered {said}"
