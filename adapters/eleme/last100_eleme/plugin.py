"""The Ele.me plugin: the hub's hooks on top of :class:`~last100_eleme.client.ElemeClient`.

This module only maps: settings to a client, Ele.me's answers to the hub's model, the
client's errors to the hub's errors. The protocol lives in the client, the signatures in
:mod:`last100_eleme.signing`, the push format in :mod:`last100_eleme.messages`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import marshmallow
import requests
from marshmallow import fields, validate

from hub.core.clients import ClientCache, load_settings
from hub.core.errors import CredentialRejected, PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.hookspecs import hookimpl
from hub.core.masking import mask_phones_in
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Health,
    Notice,
    Order,
    OrderStatus,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    RiderStatus,
)
from last100_eleme import __version__
from last100_eleme.client import (
    PRODUCTION_URL,
    ElemeAuthError,
    ElemeClient,
    ElemeClientError,
    ElemeError,
    ElemeProtocolError,
    ElemeTimeout,
)
from last100_eleme.messages import (
    ACK,
    DELIVERY_STATE_TYPES,
    ORDER_STATUS_TYPES,
    PushAuthError,
    PushFormatError,
    PushMessage,
    verify_push,
)
from last100_eleme.partner import DEFAULT_ACTIONS, DEFAULT_RIDER_PUSH_TYPE, PartnerFields
from last100_eleme.states import delivery_status, order_only_status, order_status

log = logging.getLogger(__name__)

PLUGIN_NAME = "eleme"

#: A platform that has not accepted a TCP connection within this long is down; the rest
#: of the connection's time budget is left for the answer.
CONNECT_TIMEOUT_S = 1.0

#: Ele.me's own code for "the parameters are wrong": the platform read the request and
#: refused its content, which for a publication or a notice is an answer, not a failure.
VALIDATION_FAILED = "VALIDATION_FAILED"

_REJECTED_TOKEN = (
    "饿了么平台未能验证您的骑手身份，请在饿了么骑手App中重新打开通行页面",
    "Ele.me could not verify you as one of its riders; open the pass again in the Ele.me rider app",
)
_REJECTED_CODE = ("验证码无效或已过期，请重新获取", "The code is invalid or has expired; get a new one")
_NO_ENTRY_CODES = (
    "饿了么骑手请使用骑手App或输入验证码",
    "Ele.me riders sign in with the rider app or a typed code",
)


class ElemeSettings(marshmallow.Schema):
    """One Ele.me connection: an app (key, secret, id) with an access token, and the
    partner endpoints' names (see :mod:`last100_eleme.partner`)."""

    base_url = fields.Url(
        load_default=PRODUCTION_URL,
        require_tld=False,
        schemes={"http", "https"},
        metadata={"description": "Open Platform host; sandbox: https://open-api-sandbox.shop.ele.me"},
    )
    app_key = fields.String(
        required=True, validate=validate.Length(min=1), metadata={"secret": False, "description": "the app's key"}
    )
    secret = fields.String(
        required=True, validate=validate.Length(min=1), metadata={"secret": True, "description": "the app's secret"}
    )
    token = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={"secret": True, "description": "OAuth access token; renew it before it expires"},
    )
    app_id = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d+$", error="app_id is the app's numeric id (appId in pushes)"),
        metadata={"description": "the app's numeric id; pushes for another app are refused"},
    )
    push_tolerance_s = fields.Integer(
        load_default=300,
        validate=validate.Range(min=1, max=3600),
        metadata={"description": "how far a push's timestamp may be from now, either way"},
    )
    cache_seconds = fields.Integer(
        load_default=300,
        validate=validate.Range(min=0, max=86400),
        metadata={"description": "how long the hub may reuse a rider's verification"},
    )
    verify_action = fields.String(load_default=DEFAULT_ACTIONS["verify_action"], validate=validate.Length(min=1))
    orders_action = fields.String(load_default=DEFAULT_ACTIONS["orders_action"], validate=validate.Length(min=1))
    profile_action = fields.String(load_default=DEFAULT_ACTIONS["profile_action"], validate=validate.Length(min=1))
    notice_action = fields.String(load_default=DEFAULT_ACTIONS["notice_action"], validate=validate.Length(min=1))
    rider_push_type = fields.Integer(
        load_default=DEFAULT_RIDER_PUSH_TYPE,
        metadata={"description": "push type of the partner's rider-status message"},
    )
    partner_fields = fields.Dict(
        keys=fields.String(validate=validate.OneOf(PartnerFields.names())),
        values=fields.String(validate=validate.Length(min=1)),
        load_default=dict,
        metadata={"description": "wire names of partner fields that differ from the defaults"},
    )


@dataclass(frozen=True)
class _Account:
    """A connection's loaded settings with its client."""

    settings: dict[str, Any]
    fields: PartnerFields
    client: ElemeClient


class ElemePlugin:
    """The hub plugin for Ele.me. One instance serves every Ele.me connection; each
    connection gets its own client and HTTP session, made on first use.

    :param session_factory: makes each connection's ``requests.Session``.
    :param clock: wall-clock seconds, for request timestamps.
    """

    def __init__(
        self,
        session_factory: Callable[[], requests.Session] = requests.Session,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        # Rebuilt when a connection's settings or time budget change: a new secret must
        # not keep using the old client.
        self._accounts: ClientCache[_Account] = ClientCache(self._build)

    # -- connections ---------------------------------------------------------------

    def _build(self, connection: Connection) -> _Account:
        settings = load_settings(ElemeSettings, connection)
        timeout = (min(CONNECT_TIMEOUT_S, connection.timeout_s), connection.timeout_s)
        client = ElemeClient(
            settings["base_url"],
            settings["app_key"],
            settings["secret"],
            settings["token"],
            session=self._session_factory(),
            timeout=timeout,
            clock=self._clock,
        )
        return _Account(settings, PartnerFields.with_overrides(settings["partner_fields"]), client)

    def _call(self, connection: Connection, account: _Account, setting: str, params: Mapping[str, Any]) -> Any:
        """Call the partner action named by ``setting``; failures in the hub's terms."""
        action = account.settings[setting]
        try:
            return account.client.call(action, params)
        except ElemeClientError as exc:
            raise _upstream(connection, exc, action, setting) from exc

    # -- metadata --------------------------------------------------------------------

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            name=PLUGIN_NAME,
            kinds={"platform"},
            version=__version__,
            capabilities={
                "verify_rider",
                "active_orders",
                "get_order",
                "push",
                "publish_community",
                "notify_rider",
            },
            description="Ele.me (饿了么) over the Open Platform's NOP protocol, with partner rider endpoints",
            docs_url="https://open.shop.ele.me/",
            settings_schema=ElemeSettings,
            push_ack=dict(ACK),
        )

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        try:
            account = self._accounts.get(connection)
        except SettingsError as exc:
            return Health(ok=False, message=str(exc))
        started = time.monotonic()
        try:
            user = account.client.get_user()
        except ElemeClientError as exc:
            return Health(ok=False, message=_explain(exc, "eleme.user.getUser", None))
        latency_ms = (time.monotonic() - started) * 1000
        who = user.get("userName") or user.get("userId") or "an Ele.me account"
        return Health(
            ok=True, message=f"Ele.me accepted app_key, secret and token (account {who})", latency_ms=latency_ms
        )

    # -- riders and orders -------------------------------------------------------------

    @hookimpl
    def hub_verify_rider(self, connection: Connection, credential: Credential) -> RiderIdentity:
        account = self._accounts.get(connection)
        f = account.fields
        if credential.kind is CredentialKind.ENTRY_CODE:
            raise CredentialRejected("Ele.me issues no offline entry codes", *_NO_ENTRY_CODES)
        result = _object(self._call(connection, account, "verify_action", _credential_params(f, credential)), "verify")
        if result.get(f.valid) is not True:
            words = _REJECTED_CODE if credential.kind is CredentialKind.TYPED_CODE else _REJECTED_TOKEN
            reason = result.get(f.reason)
            message = f"Ele.me did not verify the rider ({reason})" if reason else "Ele.me did not verify the rider"
            raise CredentialRejected(message, *words)
        suspended = result.get(f.suspended)
        status = {True: RiderStatus.SUSPENDED, False: RiderStatus.ACTIVE}.get(suspended, RiderStatus.UNKNOWN)
        return RiderIdentity(
            platform_ref=_text(result, f.rider_id, "verify", required=True),
            masked_name=mask_name(_text(result, f.masked_name, "verify")),
            masked_phone=mask_phone(_text(result, f.masked_phone, "verify")),
            status=status,
            cache_seconds=account.settings["cache_seconds"],
        )

    @hookimpl
    def hub_active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        account = self._accounts.get(connection)
        f = account.fields
        community_ref = community.platform_ref(connection)
        params: dict[str, Any] = {f.community_id: community_ref}
        if rider.platform_ref:
            params[f.rider_id] = rider.platform_ref
        elif rider.credential.kind is CredentialKind.ENTRY_CODE:
            return []  # nothing Ele.me could resolve the rider from
        else:
            params.update(_credential_params(f, rider.credential))
        result = _object(self._call(connection, account, "orders_action", params), "orders")
        items = result.get(f.orders) or []
        if not isinstance(items, list):
            raise UpstreamError(f"{connection.name}: Ele.me's orders answer has no list of orders")
        rider_ref = rider.platform_ref or _text(result, f.rider_id, "orders")
        orders = [_order(connection, f, item, rider_ref=rider_ref) for item in items]
        # The platform was asked for this rider and community, but only what it says about
        # each order counts: an order for another community or rider, or naming none, is
        # no evidence (the hub would count it for anyone).
        return [
            o
            for o in orders
            if o.community_ref == community_ref and o.rider_ref and (not rider_ref or o.rider_ref == rider_ref)
        ]

    @hookimpl
    def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
        account = self._accounts.get(connection)
        try:
            data = account.client.get_order(order_ref)
        except ElemeClientError as exc:
            raise _upstream(connection, exc, "eleme.order.getOrder", None) from exc
        if data is None:
            return None
        order = _order(connection, account.fields, data, rider_ref="")
        if _unvouched(order):
            raise UpstreamError(
                f"{connection.name}: Ele.me reports order {order_ref} in delivery without naming its rider "
                f"and community ({account.fields.rider_id}, {account.fields.community_id}; see partner_fields)"
            )
        return order

    # -- pushes --------------------------------------------------------------------------

    @hookimpl
    def hub_parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        account = self._accounts.get(connection)
        settings = account.settings
        try:
            push = verify_push(
                request.body,
                secret=settings["secret"],
                app_id=settings["app_id"],
                now_ms=int(request.received_at.timestamp() * 1000),
                tolerance_s=settings["push_tolerance_s"],
            )
        except PushAuthError as exc:
            raise PushRejected(str(exc), status=401) from exc
        except PushFormatError as exc:
            raise PushRejected(str(exc), status=400) from exc
        try:
            event = self._event(account, push)
        except ValueError as exc:
            raise PushRejected(f"Ele.me push type {push.type} is malformed: {exc}", status=400) from exc
        if event is None:
            return []
        if event.order is not None and _unvouched(event.order):
            # A pushed state is trusted on the entry path: an order in delivery that names
            # no rider or community must not become evidence for anyone, anywhere.
            log.warning(
                "%s: push %s puts order %s in delivery without rider and community; ignored",
                connection.id,
                push.event_id,
                event.order.ref,
            )
            return []
        return [event]

    def _event(self, account: _Account, push: PushMessage) -> PushEvent | None:
        f, m = account.fields, push.message
        if push.type in DELIVERY_STATE_TYPES:
            updated = _from_ms(m.get(f.updated_at)) or _from_ms(push.sent_at_ms)
            return PushEvent(
                push.event_id, updated, order=_pushed_order(f, m, delivery_status(m.get("state")), updated)
            )
        if push.type in ORDER_STATUS_TYPES:
            status = order_only_status(m.get("state"))
            if status is OrderStatus.UNKNOWN:
                # "pending" or "refunding" say nothing about the delivery: storing them
                # would hide the delivery state the hub already knows.
                return None
            updated = _from_seconds(m.get("updateTime")) or _from_ms(push.sent_at_ms)
            return PushEvent(push.event_id, updated, order=_pushed_order(f, m, status, updated))
        if push.type == account.settings["rider_push_type"]:
            updated = _from_ms(m.get(f.updated_at)) or _from_ms(push.sent_at_ms)
            suspended = m.get(f.suspended)
            if not isinstance(suspended, bool):
                raise ValueError(f"{f.suspended!r} is not true or false")
            rider_ref = m.get(f.rider_id)
            if not isinstance(rider_ref, str) or not rider_ref:
                raise ValueError(f"{f.rider_id!r} is missing")
            status = RiderStatus.SUSPENDED if suspended else RiderStatus.ACTIVE
            return PushEvent(push.event_id, updated, rider_ref=rider_ref, rider_status=status)
        # New orders, refunds, reminders, shop and authorisation messages: acknowledged,
        # nothing for the gate to learn.
        return None

    # -- publishing and notices ------------------------------------------------------------

    @hookimpl
    def hub_publish_community(self, connection: Connection, profile: CommunityProfile) -> Receipt:
        account = self._accounts.get(connection)
        f = account.fields
        params = {f.community_id: profile.community.platform_ref(connection), f.profile: profile_document(profile)}
        try:
            result = self._call(connection, account, "profile_action", params)
        except UpstreamError as exc:
            return _refusal(exc)
        ref = result.get(f.profile_ref) if isinstance(result, dict) else None
        return Receipt(accepted=True, ref=str(ref or ""), message=f"profile version {profile.version} published")

    @hookimpl
    def hub_notify_rider(self, connection: Connection, rider_ref: str, notice: Notice) -> Receipt:
        account = self._accounts.get(connection)
        f = account.fields
        params = {
            f.rider_id: rider_ref,
            f.notice_kind: notice.kind,
            f.notice_zh: notice.text_zh,
            f.notice_en: notice.text_en,
            f.notice_data: dict(notice.data),
        }
        try:
            result = self._call(connection, account, "notice_action", params)
        except UpstreamError as exc:
            return _refusal(exc)
        ref = result.get(f.message_id) if isinstance(result, dict) else None
        return Receipt(accepted=True, ref=str(ref or ""))


# ---------------------------------------------------------------------------
# Mapping helpers
# ---------------------------------------------------------------------------


def _explain(exc: ElemeClientError, action: str, setting: str | None) -> str:
    """What went wrong, in words that name the setting to fix."""
    named = f"{action} (setting {setting})" if setting else action
    if isinstance(exc, ElemeAuthError):
        advice = {
            "INVALID_SIGNATURE": "Ele.me refused the signature: check the secret setting (it must belong to app_key)",
            "UNAUTHORIZED": "Ele.me refused the access token: renew the token setting",
        }.get(exc.code, f"app_key may not call {named}: check the app's permissions")
        return f"{advice} [{exc.code}]"
    if isinstance(exc, ElemeError):
        advice = {
            "INVALID_TIMESTAMP": "Ele.me refused the request's timestamp: check this server's clock",
            "ILLEGAL_REQUEST": "Ele.me refused the request as illegal: check app_key",
        }.get(exc.code, f"Ele.me failed {named}")
        return f"{advice} [{exc.code}: {exc.message}]"
    if isinstance(exc, ElemeTimeout):
        return f"Ele.me did not answer {named} in time"
    if isinstance(exc, ElemeProtocolError):
        return f"Ele.me's answer to {named} is not a NOP reply: check base_url ({exc})"
    return f"Ele.me could not be reached: check base_url ({exc})"


def _upstream(connection: Connection, exc: ElemeClientError, action: str, setting: str | None) -> UpstreamError:
    message = f"{connection.name}: {_explain(exc, action, setting)}"
    return UpstreamTimeout(message) if isinstance(exc, ElemeTimeout) else UpstreamError(message)


def _refusal(exc: UpstreamError) -> Receipt:
    """A publication or notice whose content Ele.me refused is a refused receipt; any
    other failure stays an error, for the outbox to retry."""
    cause = exc.__cause__
    if isinstance(cause, ElemeError) and cause.code == VALIDATION_FAILED:
        return Receipt(accepted=False, message=cause.message)
    raise exc


def _credential_params(f: PartnerFields, credential: Credential) -> dict[str, str]:
    name = f.typed_code if credential.kind is CredentialKind.TYPED_CODE else f.token
    return {name: credential.value}


def _object(result: Any, what: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise UpstreamError(f"Ele.me's {what} answer is not an object")
    return result


def _text(data: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # Ele.me ids are numbers in some answers, strings in others
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise UpstreamError(f"Ele.me's {what} answer has no valid {key!r}")
    return value


def _from_ms(value: Any) -> datetime | None:
    return _from_unix(value, 1000)


def _from_seconds(value: Any) -> datetime | None:
    return _from_unix(value, 1)


def _from_unix(value: Any, per_second: int) -> datetime | None:
    """A positive Unix time in seconds (or milliseconds) as a datetime; ``None`` when it
    is not one. :raises ValueError: a time no calendar date has (past year 9999)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / per_second, UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"time {value} is out of range") from None


def _order(connection: Connection, f: PartnerFields, data: Any, *, rider_ref: str) -> Order:
    """An order from an OOrder-shaped object with the partner extension fields."""
    if not isinstance(data, dict):
        raise UpstreamError(f"{connection.name}: Ele.me answered an order that is not an object")
    # Public OOrder carries its id as both "id" and "orderId"; the partner's orders say "orderId".
    id_key = f.order_id if f.order_id in data else "id"
    return Order(
        ref=_text(data, id_key, "order", required=True),
        status=order_status(data.get(f.order_status), data.get(f.delivery_state)),
        rider_ref=_text(data, f.rider_id, "order") or rider_ref,
        community_ref=_text(data, f.community_id, "order"),
        building=_text(data, f.building, "order"),
        address=_text(data, f.address, "order"),
        eta=_from_ms(data.get(f.eta)),
        updated_at=_from_ms(data.get(f.updated_at)),
    )


def _pushed_order(f: PartnerFields, m: Mapping[str, Any], status: OrderStatus, updated: datetime) -> Order:
    ref = m.get("orderId")
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref:
        raise ValueError("'orderId' is missing")
    rider, community = m.get(f.rider_id), m.get(f.community_id)
    return Order(
        ref=ref,
        status=status,
        rider_ref=rider if isinstance(rider, str) else "",
        community_ref=community if isinstance(community, str) else "",
        updated_at=updated,
    )


def _unvouched(order: Order) -> bool:
    """An order in delivery that does not say for which rider and community: the hub
    counts an order without them for anyone, so it must not be reported as such."""
    return order.status.in_progress and not (order.rider_ref and order.community_ref)


def mask_phone(phone: str) -> str:
    """A phone number as the hub may keep it: ``138****5678``. Ele.me's partner answer is
    masked already; whatever digits it left whole are masked here rather than stored."""
    return mask_phones_in(phone)


def mask_name(name: str) -> str:
    """A name as the hub may keep it: the first character, the rest starred."""
    if not name or "*" in name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def profile_document(profile: CommunityProfile) -> dict[str, Any]:
    """The community profile as published to Ele.me (the partner agreement adopts this
    document as it is; see the README)."""
    community, policy = profile.community, profile.community.policy
    return {
        "version": profile.version,
        "name": community.name,
        "address": community.address,
        "timezone": community.timezone,
        "rules": {"zh": profile.rules_zh, "en": profile.rules_en},
        "hours": {
            "opens": policy.opening.strftime("%H:%M") if policy.opening else None,
            "closes": policy.closing.strftime("%H:%M") if policy.closing else None,
        },
        "lockersOnly": policy.lockers_only,
        "geofence": [[lat, lng] for lat, lng in community.geofence],
        "buildings": [
            {"id": b.id, "name": b.name, "doorNo": b.door_no, "lat": b.latitude, "lng": b.longitude}
            for b in community.buildings
        ],
        # Gate codes stay off the platform: they are printed at the gate, not handed out.
        "gates": [{"id": g.id, "name": g.name} for g in profile.gates],
        "zones": [
            {
                "id": z.id,
                "kind": z.kind,
                "name": z.name,
                "points": [[lat, lng] for lat, lng in z.points],
                "notes": z.notes,
            }
            for z in profile.zones
        ],
    }
