"""The Hikvision access-control plugin: the hub's property-side hooks, answered by a
Hikvision access controller or face terminal over ISAPI.

This module only maps: the client and the push reader do the work and raise the errors
of :mod:`last100_hikvision.errors`; here they become the hub's model and the errors of
:mod:`hub.core.errors`:

==================================================  ========================================
device                                              hub
==================================================  ========================================
no answer in time, deletion still processing        ``UpstreamTimeout``
unreachable, TLS refused, 401, ``ResponseStatus``    ``UpstreamError`` naming the setting or
error (``badParameters``, ``notSupport``, …)         the device's ``subStatusCode``
push without the connection's token                 ``PushRejected(status=401)``
push with the token but not an event message        ``PushRejected(status=400)``
==================================================  ========================================

A pass is a visitor user on the device (``employeeNo`` from the grant id) allowed through
the gate's door inside the pass's window, holding one card whose number (an HMAC of the
grant id) the rider's QR carries.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from requests.adapters import HTTPAdapter

from hub.core.clients import ClientCache, load_settings
from hub.core.clock import Clock
from hub.core.errors import PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Connection,
    Gate,
    GrantRequest,
    Health,
    PassKind,
    PluginInfo,
    PushEvent,
    PushRequest,
)
from last100_hikvision import __version__
from last100_hikvision.auth import DeviceAuth
from last100_hikvision.cards import EMPLOYEE_NO_LENGTH, card_number, employee_no
from last100_hikvision.client import IsapiClient
from last100_hikvision.errors import (
    AuthenticationError,
    AuthSchemeError,
    BadParametersError,
    CardConflictError,
    DeviceError,
    HikvisionError,
    HikvisionTimeout,
    LowPrivilegeError,
    NotSupportedError,
    PushAuthError,
    PushFormatError,
    TLSError,
    TransportError,
)
from last100_hikvision.push import read_push
from last100_hikvision.settings import HikvisionSettings
from last100_hikvision.wire import DoorEvent

#: Concurrent requests to one device before connections are opened and dropped.
POOL_SIZE = 8

#: Longest wait for a TCP/TLS connection to a device on the property's network.
CONNECT_TIMEOUT_S = 2.0


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class _Link:
    """Everything the plugin keeps for one connection, built from its settings."""

    client: IsapiClient
    card_secret: str
    card_length: int
    push_token: str
    zone: tzinfo


@contextlib.contextmanager
def _device(connection: Connection, doing: str) -> Iterator[None]:
    """Put the client's errors in the hub's terms, naming the setting or the device's
    own status code so the person reading the log knows what to fix."""
    name = connection.name
    try:
        yield
    except HikvisionTimeout as exc:
        raise UpstreamTimeout(f"{name} did not {doing} within {connection.timeout_s:g} s ({exc})") from exc
    except AuthSchemeError as exc:
        raise UpstreamError(f"{name} could not {doing}: {exc}; set the auth setting to auto") from exc
    except AuthenticationError as exc:
        raise UpstreamError(f"{name} could not {doing}: {exc}; check the username and password settings") from exc
    except TLSError as exc:
        raise UpstreamError(f"{name} could not {doing}: {exc}; check base_url and verify_tls") from exc
    except TransportError as exc:
        raise UpstreamError(f"{name} could not {doing}: the device at base_url cannot be reached ({exc})") from exc
    except LowPrivilegeError as exc:
        raise UpstreamError(
            f"{name} could not {doing}: the account in the username setting may not do this (lowPrivilege)"
        ) from exc
    except NotSupportedError as exc:
        raise UpstreamError(f"{name} could not {doing}: the device does not support it (notSupport)") from exc
    except BadParametersError as exc:
        raise UpstreamError(f"{name} could not {doing}: the device refused a value ({exc})") from exc
    except DeviceError as exc:
        raise UpstreamError(f"{name} could not {doing}: the device answered {exc.sub_status or exc}") from exc
    except CardConflictError as exc:
        raise UpstreamError(f"{name} could not {doing}: {exc}") from exc
    except HikvisionError as exc:
        raise UpstreamError(f"{name} could not {doing}: {exc}") from exc


def _door(gate: Gate) -> int:
    """The gate's door number on the device: a positive integer."""
    if not gate.door_no.isdigit() or int(gate.door_no) < 1:
        raise UpstreamError(f"gate {gate.id} has door_no {gate.door_no!r}; a Hikvision door number is 1, 2, …")
    return int(gate.door_no)


def _access_event(event: DoorEvent, gate_id: str = "") -> AccessEvent:
    return AccessEvent(
        event_id=str(event.serial_no),
        occurred_at=event.occurred_at,
        direction=event.direction,
        credential_value=event.card_no,
        door_no="" if event.door_no is None else str(event.door_no),
        gate_id=gate_id,
    )


class HikvisionPlugin:
    """Connects the hub to Hikvision access controllers and face terminals.

    The hub creates it with no arguments (a class entry point). One HTTP session per
    connection is created on first use and rebuilt when the connection's settings or
    timeout change; the plugin is safe to call from many threads at once.

    :param clock: the time the event searches run up to (tests pass a manual clock).
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
        values = load_settings(HikvisionSettings, connection)
        timeout_s = connection.timeout_s
        zone = ZoneInfo(values["timezone"])
        client = IsapiClient(
            values["base_url"],
            DeviceAuth(values["username"], values["password"], values["auth"]),
            session=self._session_factory(),
            timeout=(min(CONNECT_TIMEOUT_S, timeout_s), timeout_s),
            deadline_s=timeout_s,
            verify_tls=values["verify_tls"],
            zone=zone,
            max_results=values["max_results"],
            now=self._clock.now,
        )
        return _Link(
            client=client,
            card_secret=values["card_secret"],
            card_length=values["card_number_length"],
            push_token=values["push_token"],
            zone=zone,
        )

    # -- metadata ---------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="hikvision",
            kinds={"access"},
            version=__version__,
            capabilities={"qr_pass", "revoke", "remote_open", "access_events", "push"},
            description=(
                "Hikvision access controllers and face terminals over ISAPI (Digest or Basic "
                "authentication): visitor QR passes valid for one door and one window, revoked on "
                "demand; remote opening; door events pulled from the log or pushed by the device."
            ),
            settings_schema=HikvisionSettings,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            link = self._links.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        started = time.monotonic()
        try:
            info = link.client.device_info()
        except AuthSchemeError as exc:
            return Health(ok=False, message=f"auth: {exc}; set auth to auto")
        except AuthenticationError as exc:
            return Health(ok=False, message=f"{exc}: check the username and password settings")
        except HikvisionTimeout:
            return Health(ok=False, message=f"base_url did not answer within {connection.timeout_s:g} s")
        except TLSError:
            return Health(
                ok=False,
                message="base_url: the device's TLS certificate could not be verified (a self-signed "
                "certificate needs verify_tls set to false)",
            )
        except TransportError as exc:
            return Health(ok=False, message=f"base_url cannot be reached ({exc})")
        except LowPrivilegeError:
            return Health(ok=False, message="username: this account may not read the device's information")
        except HikvisionError as exc:
            return Health(ok=False, message=f"base_url did not answer as a Hikvision ISAPI device ({exc})")
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        scheme = link.client.auth.scheme
        firmware = " ".join(p for p in (info.firmware, info.firmware_date) if p) or "unknown"
        notes = [f"{scheme.capitalize()} sign-in accepted"]
        notes.append("pushes on" if link.push_token else "pushes off (no push_token)")
        if scheme == "basic" and urlsplit(link.client.base_url).scheme == "http":
            notes.append("warning: Basic over plain http sends the password readable, use https")
        return Health(
            ok=True,
            message=f"{info.model}, firmware {firmware}: {'; '.join(notes)}",
            latency_ms=latency_ms,
        )

    # -- property side ----------------------------------------------------------------

    @hookimpl
    def hub_grant_access(self, connection: Connection, gate: Gate, grant: GrantRequest) -> AccessGrant:
        link = self._links.get(connection)
        door = _door(gate)
        employee = employee_no(grant.grant_id)
        card = card_number(link.card_secret, grant.grant_id, link.card_length)
        # The label is the hub's own ("rider 1a2b3c4d"): no personal data goes to the device.
        name = (grant.label or f"rider {employee[:8]}")[:EMPLOYEE_NO_LENGTH]
        with _device(connection, "issue a pass"):
            held = link.client.issue_pass(
                employee,
                card,
                name=name,
                door_no=door,
                valid_from=grant.valid_from,
                valid_until=grant.valid_until,
            )
        return AccessGrant(
            grant_id=grant.grant_id,
            kind=PassKind.QR,
            value=held,
            valid_from=grant.valid_from,
            valid_until=grant.valid_until,
            device_ref=employee,
        )

    @hookimpl
    def hub_revoke_access(self, connection: Connection, grant: AccessGrant) -> bool:
        link = self._links.get(connection)
        employee = grant.device_ref or employee_no(grant.grant_id)
        with _device(connection, "revoke a pass"):
            link.client.delete_user(employee, wait_s=connection.timeout_s)
        return True

    @hookimpl
    def hub_open_door(self, connection: Connection, gate: Gate) -> bool:
        link = self._links.get(connection)
        door = _door(gate)
        with _device(connection, f"open door {door}"):
            link.client.open_door(door)
        return True

    @hookimpl
    def hub_access_events(self, connection: Connection, gate: Gate, since: datetime) -> list[AccessEvent]:
        link = self._links.get(connection)
        door = _door(gate)
        with _device(connection, "read the event log"):
            events = link.client.events(since)
        return [_access_event(e, gate.id) for e in events if e.passed and e.door_no == door]

    @hookimpl
    def hub_parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        link = self._links.get(connection)
        try:
            messages = read_push(link.push_token, request.query, request.headers, request.body, link.zone)
        except PushAuthError as exc:
            raise PushRejected(str(exc), status=401) from exc
        except PushFormatError as exc:
            raise PushRejected(str(exc), status=400) from exc
        # Refused swipes and heartbeats are acknowledged and not passed on: a door event
        # says someone went through. The hub maps the door to its gate.
        return [
            PushEvent(
                event_id=str(m.event.serial_no), occurred_at=m.event.occurred_at, access_event=_access_event(m.event)
            )
            for m in messages
            if m.event is not None and m.event.passed
        ]
