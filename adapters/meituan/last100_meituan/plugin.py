"""The Meituan plugin: maps :mod:`last100_meituan.client` onto the hub's hooks, model
and errors. Vendor protocol details live in the client; this module only translates.

The hub creates :class:`MeituanPlugin` with no arguments (entry point
``meituan = last100_meituan.plugin:MeituanPlugin``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import requests

from hub.core.clients import ClientCache, load_settings
from hub.core.errors import CredentialRejected, PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Health,
    Notice,
    Order,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    RiderStatus,
)
from last100_meituan import __version__
from last100_meituan.client import (
    RIDER_ACTIVE,
    RIDER_SUSPENDED,
    FieldNames,
    MeituanAuthError,
    MeituanClient,
    MeituanClientError,
    MeituanError,
    MeituanOrder,
    MeituanTimeout,
    MeituanTransportError,
    as_int,
    order_from_wire,
)
from last100_meituan.settings import MeituanSettings, MeituanSettingsSchema
from last100_meituan.signing import CallbackForged, CallbackMalformed, verify_callback
from last100_meituan.status import order_status

PLUGIN_NAME = "meituan"

#: What Meituan expects in answer to an accepted callback.
PUSH_ACK: Mapping[str, Any] = {"data": "ok"}

# How the partner verification endpoint names the kinds of credential. A signed offline
# entry code is not something Meituan issues, so it has no entry here.
_CREDENTIAL_TYPES = {CredentialKind.TOKEN: "token", CredentialKind.TYPED_CODE: "code"}

_RIDER_STATUS = {RIDER_ACTIVE: RiderStatus.ACTIVE, RIDER_SUSPENDED: RiderStatus.SUSPENDED}

_REJECTED_ZH = "美团未能验证骑手身份：凭证无效或已过期，请在美团骑手App中重新获取"
_REJECTED_EN = "Meituan could not verify you: the code is invalid or expired. Get a new one in the Meituan rider app."


@dataclass(frozen=True)
class _Bound:
    """A connection's loaded settings and its client."""

    settings: MeituanSettings
    client: MeituanClient


def _utc(seconds: int | None) -> datetime | None:
    """A Unix time in seconds as a datetime (``None`` for none).

    :raises ValueError: a time no calendar date has (past year 9999)."""
    if not seconds:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"time {seconds} is out of range") from None


def to_order(order: MeituanOrder) -> Order:
    """Meituan's order facts as the hub's :class:`~hub.core.model.Order`."""
    return Order(
        ref=order.order_id,
        status=order_status(order.status, order.logistics_status),
        rider_ref=order.rider_ref,
        community_ref=order.community_ref,
        building=order.building,
        eta=_utc(order.delivery_time),
        updated_at=_utc(order.updated_at),
    )


@contextmanager
def _upstream(connection: Connection, what: str) -> Iterator[None]:
    """Turn the client's errors into the hub's. Messages name the connection and the
    call, never a URL (it may carry a credential) or a secret."""
    try:
        yield
    except MeituanTimeout as exc:
        raise UpstreamTimeout(f"{connection.name}: Meituan did not answer the {what} in time") from exc
    except MeituanAuthError as exc:
        raise UpstreamError(
            f"{connection.name}: Meituan refused the app credentials for the {what} ({exc.code}: {exc.msg})"
        ) from exc
    except MeituanError as exc:
        raise UpstreamError(f"{connection.name}: Meituan answered the {what} with error {exc.code}: {exc.msg}") from exc
    except MeituanClientError as exc:
        raise UpstreamError(f"{connection.name}: the {what} failed: {exc}") from exc


class MeituanPlugin:
    """The ``meituan`` platform plugin.

    One ``requests.Session`` per connection, created on first use and replaced (the old
    one closed) when the connection's settings or timeout change; safe to call from many
    threads.

    :param session_factory: makes the sessions (tests pass one that records calls).
    """

    def __init__(self, session_factory: Callable[[], requests.Session] = requests.Session) -> None:
        self._session_factory = session_factory
        # Requests still running on a replaced session finish; its idle connections go.
        self._bound: ClientCache[_Bound] = ClientCache(self._bind, on_replace=lambda bound: bound.client.close())

    def _bind(self, connection: Connection) -> _Bound:
        """The connection's settings and client.

        :raises SettingsError: the connection's settings are invalid.
        """
        settings = MeituanSettings.from_values(load_settings(MeituanSettingsSchema, connection))
        client = MeituanClient(
            settings.base_url,
            settings.app_id,
            settings.app_secret,
            session=self._session_factory(),
            timeout=(min(settings.connect_timeout_s, connection.timeout_s), connection.timeout_s),
            total_timeout_s=connection.timeout_s,
            endpoints=settings.endpoints,
            field_names=settings.field_names,
        )
        return _Bound(settings, client)

    # -- metadata ----------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=PLUGIN_NAME,
            kinds={"platform"},
            version=__version__,
            capabilities={"verify_rider", "active_orders", "get_order", "push", "publish_community", "notify_rider"},
            description="Meituan (美团): verifies riders, finds their orders into a community, takes signed "
            "status callbacks, publishes community profiles and sends rider notices.",
            docs_url="https://developer.waimai.meituan.com/",
            settings_schema=MeituanSettingsSchema,
            push_ack=PUSH_ACK,
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            bound = self._bound.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        settings = bound.settings
        started = time.monotonic()
        try:
            bound.client.ping()
        except MeituanAuthError as exc:
            if exc.code == 702:
                return Health(ok=False, message=f"app_id {settings.app_id!r} was refused by Meituan ({exc.msg})")
            return Health(
                ok=False,
                message=f"app_secret was refused by Meituan ({exc.code}: {exc.msg}); check app_secret, and that "
                "this server's clock is right (requests are signed with the time)",
            )
        except MeituanTimeout:
            return Health(ok=False, message=f"Meituan at {settings.base_url} did not answer in time; check base_url")
        except MeituanTransportError as exc:
            return Health(ok=False, message=f"could not reach Meituan at {settings.base_url} ({exc}); check base_url")
        except MeituanClientError as exc:
            return Health(ok=False, message=f"Meituan answered unexpectedly ({exc}); check base_url and path_ping")
        latency_ms = (time.monotonic() - started) * 1000
        return Health(ok=True, message=f"Meituan answered in {latency_ms:.0f} ms", latency_ms=latency_ms)

    # -- riders and orders -----------------------------------------------------------

    @hookimpl
    def hub_verify_rider(self, connection: Connection, credential: Credential) -> RiderIdentity:
        bound = self._bound.get(connection)
        credential_type = _CREDENTIAL_TYPES.get(credential.kind)
        if credential_type is None:
            raise CredentialRejected(
                "Meituan does not issue offline entry codes",
                "美团骑手请出示美团骑手App中的身份码",
                "Meituan riders show the code from the Meituan rider app",
            )
        with _upstream(connection, "rider verification"):
            try:
                rider = bound.client.verify_rider(credential.value, credential_type)
            except MeituanError as exc:
                if exc.code in bound.settings.codes_credential_rejected:
                    raise CredentialRejected(
                        f"Meituan rejected the credential ({exc.code})", _REJECTED_ZH, _REJECTED_EN
                    ) from exc
                raise
        return RiderIdentity(
            platform_ref=rider.ref,
            masked_name=rider.masked_name,
            masked_phone=rider.masked_phone,
            status=_RIDER_STATUS.get(rider.status, RiderStatus.UNKNOWN),
            cache_seconds=bound.settings.cache_seconds,
        )

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        bound = self._bound.get(connection)
        community_ref = community.platform_ref(connection)
        with _upstream(connection, "rider's orders"):
            if rider.platform_ref:
                orders = bound.client.rider_orders(community_ref, rider_ref=rider.platform_ref)
            else:
                credential_type = _CREDENTIAL_TYPES.get(rider.credential.kind)
                if credential_type is None:
                    return []  # an entry code names its orders itself; there is nothing to ask
                try:
                    orders = bound.client.rider_orders(
                        community_ref, credential=rider.credential.value, credential_type=credential_type
                    )
                except MeituanError as exc:
                    if exc.code in bound.settings.codes_credential_rejected:
                        raise CredentialRejected(
                            f"Meituan rejected the credential ({exc.code})", _REJECTED_ZH, _REJECTED_EN
                        ) from exc
                    raise
        # The endpoint is asked for this community and rider only; check anyway, since an
        # order for another community or rider must never count as evidence here.
        return [
            order
            for order in map(to_order, orders)
            if order.community_ref == community_ref
            and (not rider.platform_ref or order.rider_ref in ("", rider.platform_ref))
            and not order.status.final
        ]

    @hookimpl
    def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
        bound = self._bound.get(connection)
        with _upstream(connection, "order query"):
            try:
                order = bound.client.order(order_ref)
            except MeituanError as exc:
                if exc.code in bound.settings.codes_order_not_found:
                    return None
                raise
        return to_order(order)

    # -- callbacks -----------------------------------------------------------------------

    @hookimpl
    def hub_parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        settings = self._bound.get(connection).settings
        params = _callback_params(request)
        try:
            verified = verify_callback(
                settings.push_url or request.url,
                params,
                app_id=settings.app_id,
                app_secret=settings.app_secret,
                now=request.received_at.timestamp(),
                tolerance_s=settings.push_tolerance_s,
            )
        except CallbackForged as exc:
            raise PushRejected(f"Meituan callback refused: {exc}", status=401) from exc
        except CallbackMalformed as exc:
            raise PushRejected(f"Meituan callback malformed: {exc}", status=400) from exc
        return [_event(verified.params, verified.timestamp, settings.field_names)]

    # -- publishing and notices ----------------------------------------------------------

    @hookimpl
    def hub_publish_community(self, connection: Connection, profile: CommunityProfile) -> Receipt:
        bound = self._bound.get(connection)
        community_ref = profile.community.platform_ref(connection)
        with _upstream(connection, "community profile"):
            ref = bound.client.save_community_profile(community_ref, profile.version, profile_to_wire(profile))
        return Receipt(accepted=True, ref=ref, message=f"version {profile.version} published to Meituan")

    @hookimpl
    def hub_notify_rider(self, connection: Connection, rider_ref: str, notice: Notice) -> Receipt:
        bound = self._bound.get(connection)
        with _upstream(connection, "rider notice"):
            ref = bound.client.send_rider_notice(rider_ref, notice.kind, notice.text_zh, notice.text_en, notice.data)
        return Receipt(accepted=True, ref=ref)


def _callback_params(request: PushRequest) -> dict[str, str]:
    """Every parameter a callback is signed over: its query string and its form fields.

    :raises PushRejected: a parameter appears in both (the signature cannot say which
        one is meant).
    """
    clash = request.query.keys() & request.form.keys()
    if clash:
        raise PushRejected(f"Meituan callback malformed: {', '.join(sorted(clash))} both in query and form", 400)
    return {**request.query, **request.form}


def _event(params: Mapping[str, str], timestamp: int, names: FieldNames) -> PushEvent:
    """The event a verified callback reports: an order's new status, or a rider's.

    The event id is built from what the callback says and when the change happened, so a
    callback Meituan sends again is recognised as the same event.

    :raises PushRejected: (400) neither an order nor a rider status, or a bad time.
    """
    raw_time = params.get("time") or params.get("utime")
    changed_at = as_int(raw_time) if raw_time else timestamp
    if changed_at is None:
        raise PushRejected("Meituan callback malformed: its time is not a Unix time in seconds", 400)
    try:
        occurred_at = datetime.fromtimestamp(changed_at, UTC)
        order = to_order(order_from_wire(params, names)) if params.get("order_id") else None
    except (ValueError, OverflowError, OSError):
        raise PushRejected("Meituan callback malformed: a time in it is out of range", 400) from None
    if order is not None:
        if "status" not in params and "logistics_status" not in params:
            raise PushRejected("Meituan callback malformed: an order without status or logistics_status", 400)
        order = replace(order, updated_at=occurred_at)
        event_id = f"order:{order.ref}:{params.get('status', '')}:{params.get('logistics_status', '')}:{changed_at}"
        return PushEvent(event_id=event_id, occurred_at=occurred_at, order=order)
    rider_ref = params.get(names.rider_ref)
    if rider_ref and params.get(names.rider_status):
        status = _RIDER_STATUS.get(as_int(params[names.rider_status]), RiderStatus.UNKNOWN)
        return PushEvent(
            event_id=f"rider:{rider_ref}:{params[names.rider_status]}:{changed_at}",
            occurred_at=occurred_at,
            rider_ref=rider_ref,
            rider_status=status,
        )
    raise PushRejected(
        f"Meituan callback malformed: neither order_id nor {names.rider_ref} with {names.rider_status}", 400
    )


def profile_to_wire(profile: CommunityProfile) -> dict[str, Any]:
    """What is published about a community: rules, entry hours, gates, buildings, the
    geofence and marked zones. Gate codes are not published: the gate's own QR code is
    what a rider scans."""
    community = profile.community
    policy = community.policy
    return {
        "name": community.name,
        "address": community.address,
        "timezone": community.timezone,
        "version": profile.version,
        "rules_zh": profile.rules_zh,
        "rules_en": profile.rules_en,
        "hours": {
            "opening": policy.opening.strftime("%H:%M") if policy.opening else None,
            "closing": policy.closing.strftime("%H:%M") if policy.closing else None,
        },
        "lockers_only": policy.lockers_only,
        "gates": [{"id": g.id, "name": g.name, "door_no": g.door_no} for g in profile.gates],
        "buildings": [
            {"id": b.id, "name": b.name, "door_no": b.door_no, "latitude": b.latitude, "longitude": b.longitude}
            for b in community.buildings
        ],
        "geofence": [list(point) for point in community.geofence],
        "zones": [
            {"id": z.id, "kind": z.kind, "name": z.name, "points": [list(p) for p in z.points], "notes": z.notes}
            for z in profile.zones
        ],
    }
