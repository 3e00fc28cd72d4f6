"""The RiderPass platform plugin: the hub's hooks, answered by any platform that speaks
the RiderPass protocol.

This module only maps: the client, push verifier and entry-code verifier do the work and
raise the errors of :mod:`last100_riderpass.errors`; here they become the hub's model and
the errors of :mod:`hub.core.errors`:

=================================================  ==========================================
RiderPass                                          hub
=================================================  ==========================================
``credential_invalid`` / ``credential_expired``    ``CredentialRejected`` (rider-facing words)
entry code invalid, expired, other community       ``CredentialRejected`` (rider-facing words)
no answer in time (connect, read or whole body)    ``UpstreamTimeout``
unreachable, 5xx, 429, 401, malformed reply        ``UpstreamError``
push forged, stale or unsigned                     ``PushRejected(status=401)``
push authentic but malformed                       ``PushRejected(status=400)``
=================================================  ==========================================

Communities are identified on the wire by the hub's own community id (the hub publishes
each community's profile to the platform under that id), so a RiderPass connection needs
no per-community platform ref.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from hub.core.clients import ClientCache, load_settings
from hub.core.clock import Clock
from hub.core.errors import CredentialRejected, PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    Health,
    Notice,
    Order,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
)
from last100_riderpass import PROTOCOL, __version__
from last100_riderpass.client import RiderPassClient
from last100_riderpass.entrycodes import EntryCode, EntryCodeVerifier, load_public_key
from last100_riderpass.errors import (
    AuthenticationError,
    ConflictError,
    CredentialError,
    EntryCodeError,
    NotFoundError,
    PushFormatError,
    PushVerificationError,
    RiderPassError,
    RiderPassTimeout,
    TransportError,
)
from last100_riderpass.mapping import (
    RIDER_STATUSES,
    code_identity,
    notice_to_wire,
    profile_to_wire,
    to_identity,
    to_order,
)
from last100_riderpass.settings import RiderPassSettings
from last100_riderpass.signing import decode_signing_secret
from last100_riderpass.webhooks import OrderStatusChanged, RiderStatusChanged, decode_push_secret, read_push

#: Concurrent requests to one platform before connections are opened and dropped: the
#: hub's entry engine runs up to 32 upstream calls at once.
POOL_SIZE = 32

# What a rider is told when a platform rejects their credential, by the protocol's code.
_CREDENTIAL_WORDS: dict[str, tuple[str, str]] = {
    "credential_expired": (
        "平台登录凭证已过期，请在骑手 App 中重新打开入场页面",
        "Your platform sign-in has expired; open the entry page in the rider app again",
    ),
    "credential_invalid": ("平台未能验证此骑手身份", "The platform could not verify this rider"),
}

# What a rider is told when their entry code cannot be accepted, by problem.
_ENTRY_CODE_WORDS: dict[str, tuple[str, str]] = {
    "invalid": (
        "入场码无效，请在骑手 App 中重新生成",
        "This entry code is not valid; show a new one from the rider app",
    ),
    "expired": ("入场码已过期，请在骑手 App 中刷新", "This entry code has expired; refresh it in the rider app"),
    "not_yet_valid": (
        "入场码时间有误，请检查手机时间后在骑手 App 中刷新",
        "This entry code's time is wrong; check your phone's clock and refresh it in the rider app",
    ),
    "too_long_lived": (
        "入场码有效期过长，请在骑手 App 中刷新",
        "This entry code is valid for too long to be accepted; refresh it in the rider app",
    ),
    "wrong_community": ("此入场码不是本小区的", "This entry code is for another community"),
}

_NO_ENTRY_CODES = (
    "此平台在本小区未启用入场码，请在骑手 App 中验证身份",
    "Entry codes of this platform are not accepted here; verify in the rider app instead",
)


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class _Link:
    """Everything the plugin keeps for one connection, built from its settings."""

    client: RiderPassClient
    push_secrets: tuple[bytes, ...]
    entry_codes: EntryCodeVerifier
    max_cache_seconds: int


@contextlib.contextmanager
def _upstream(connection: Connection) -> Iterator[None]:
    """Put the client's errors in the hub's terms."""
    try:
        yield
    except CredentialError as exc:
        zh, en = _CREDENTIAL_WORDS.get(exc.code, _CREDENTIAL_WORDS["credential_invalid"])
        raise CredentialRejected(f"{connection.name} rejected the credential ({exc.code})", zh, en) from exc
    except RiderPassTimeout as exc:
        raise UpstreamTimeout(f"{connection.name} did not answer within {connection.timeout_s:g} s") from exc
    except AuthenticationError as exc:
        raise UpstreamError(
            f"{connection.name} refused the hub's request signature ({exc.code}): check key_id, "
            "signing_secret and this machine's clock"
        ) from exc
    except RiderPassError as exc:
        raise UpstreamError(f"{connection.name} failed: {exc}") from exc


class RiderPassPlugin:
    """Connects the hub to any delivery platform that implements RiderPass.

    The hub creates it with no arguments (a class entry point). One HTTP session per
    connection is created on first use and rebuilt when the connection's settings or
    timeout change; the plugin is safe to call from many threads at once.

    :param clock: the time for request signatures and entry-code checks (tests pass a
        manual clock).
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
        values = load_settings(RiderPassSettings, connection)
        timeout_s = connection.timeout_s
        client = RiderPassClient(
            values["base_url"],
            values["key_id"],
            decode_signing_secret(values["signing_secret"]),
            session=self._session_factory(),
            timeout=(min(values["connect_timeout_s"], timeout_s), timeout_s),
            deadline_s=timeout_s,
            now=lambda: self._clock.now().timestamp(),
        )
        return _Link(
            client=client,
            push_secrets=tuple(decode_push_secret(s) for s in values["push_secrets"]),
            entry_codes=EntryCodeVerifier(
                [load_public_key(k) for k in values["entry_code_keys"]], leeway_s=values["entry_code_leeway_s"]
            ),
            max_cache_seconds=values["max_cache_seconds"],
        )

    def _entry_code(self, link: _Link, credential: Credential, community_id: str) -> EntryCode:
        if not link.entry_codes.configured:
            raise CredentialRejected("entry codes are not configured for this connection", *_NO_ENTRY_CODES)
        try:
            return link.entry_codes.verify(credential.value, community_id, self._clock.now())
        except EntryCodeError as exc:
            zh, en = _ENTRY_CODE_WORDS[exc.problem]
            raise CredentialRejected(f"entry code refused: {exc}", zh, en) from exc

    # -- metadata ---------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name="riderpass",
            kinds={"platform"},
            version=__version__,
            capabilities={
                "verify_rider",
                "entry_codes",
                "active_orders",
                "get_order",
                "push",
                "publish_community",
                "notify_rider",
            },
            description=(
                "Any delivery platform speaking RiderPass, the hub's open Rider Access Protocol: "
                "signed requests, Standard Webhooks pushes, offline Ed25519 entry codes."
            ),
            settings_schema=RiderPassSettings,
            # Standard Webhooks senders treat any 2xx as delivered and ignore the body.
            push_ack={"status": "ok"},
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            link = self._links.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        started = time.monotonic()
        try:
            protocol = link.client.ping()
        except AuthenticationError as exc:
            return Health(
                ok=False,
                message=f"the platform refused the hub's signature ({exc.code}): check key_id, signing_secret "
                "and this machine's clock",
            )
        except RiderPassTimeout:
            return Health(ok=False, message=f"base_url did not answer within {connection.timeout_s:g} s")
        except TransportError as exc:
            return Health(ok=False, message=f"base_url cannot be reached ({exc})")
        except NotFoundError:
            return Health(ok=False, message="base_url does not serve RiderPass (GET /v1/ping answered 404)")
        except RiderPassError as exc:
            return Health(ok=False, message=f"base_url did not answer as a RiderPass platform ({exc})")
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        if protocol.partition(".")[0] != PROTOCOL:
            return Health(ok=False, message=f"the platform speaks {protocol}; this plugin speaks {PROTOCOL}")
        codes = "entry codes on" if link.entry_codes.configured else "entry codes off (no entry_code_keys)"
        pushes = f"{len(link.push_secrets)} push secret(s)" if link.push_secrets else "pushes off (no push_secrets)"
        return Health(ok=True, message=f"{protocol}: signature accepted; {codes}; {pushes}", latency_ms=latency_ms)

    # -- delivery platform side -------------------------------------------------------

    @hookimpl
    def hub_verify_rider(self, connection: Connection, credential: Credential, gate: Gate) -> RiderIdentity:
        link = self._links.get(connection)
        if credential.kind is CredentialKind.ENTRY_CODE:
            # Verified here, with the platform's public key: no network, so it works
            # while the platform is down. The hub refuses a second use of its jti.
            return code_identity(self._entry_code(link, credential, gate.community_id))
        with _upstream(connection):
            record = link.client.verify_rider(
                credential.kind.value, credential.value, community_id=gate.community_id, gate_id=gate.id
            )
        return to_identity(record, link.max_cache_seconds)

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        link = self._links.get(connection)
        rider_ref = rider.platform_ref
        if rider_ref is None and rider.credential.kind is CredentialKind.ENTRY_CODE:
            # An entry code is never sent to the platform: it names its rider itself.
            rider_ref = self._entry_code(link, rider.credential, community.id).rider_ref
        with _upstream(connection):
            if rider_ref is not None:
                records = link.client.active_orders(community.id, rider_ref=rider_ref)
            else:
                credential = (rider.credential.kind.value, rider.credential.value)
                records = link.client.active_orders(community.id, credential=credential)
        # The platform was asked for this community (and rider) only; an order for
        # another one in its answer is a platform bug that must not open this gate.
        return [
            to_order(r)
            for r in records
            if r.community_id == community.id and (rider_ref is None or r.rider_ref == rider_ref)
        ]

    @hookimpl
    def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
        link = self._links.get(connection)
        with _upstream(connection):
            record = link.client.get_order(order_ref)
        return None if record is None else to_order(record)

    @hookimpl
    def hub_parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        link = self._links.get(connection)
        try:
            push = read_push(link.push_secrets, request.headers, request.body, request.received_at)
        except PushVerificationError as exc:
            raise PushRejected(str(exc), status=401) from exc
        except PushFormatError as exc:
            raise PushRejected(str(exc), status=400) from exc
        event = push.event
        if isinstance(event, OrderStatusChanged):
            return [PushEvent(event_id=push.id, occurred_at=push.occurred_at, order=to_order(event.order))]
        if isinstance(event, RiderStatusChanged):
            return [
                PushEvent(
                    event_id=push.id,
                    occurred_at=push.occurred_at,
                    rider_ref=event.rider_ref,
                    rider_status=RIDER_STATUSES[event.status],
                )
            ]
        return []  # an event type of a newer protocol version: acknowledged, ignored

    @hookimpl
    def hub_publish_community(self, connection: Connection, profile: CommunityProfile) -> Receipt:
        link = self._links.get(connection)
        with _upstream(connection):
            try:
                ack = link.client.publish_profile(profile.community.id, profile_to_wire(profile))
            except ConflictError:
                return Receipt(
                    accepted=False,
                    message=f"{connection.name} already holds a newer profile than version {profile.version}",
                )
        return Receipt(accepted=ack.accepted, ref=ack.ref, message=ack.message)

    @hookimpl
    def hub_notify_rider(self, connection: Connection, rider_ref: str, notice: Notice) -> Receipt:
        link = self._links.get(connection)
        with _upstream(connection):
            try:
                ack = link.client.notify_rider(rider_ref, notice_to_wire(notice))
            except NotFoundError:
                return Receipt(accepted=False, message=f"{connection.name} does not know this rider")
        return Receipt(accepted=ack.accepted, ref=ack.ref, message=ack.message)
