"""A small client for the Meituan Open Platform (美团开放平台) wire protocol.

It signs requests, sends them with explicit timeouts, reads Meituan's reply envelope and
raises typed errors. It knows nothing of the hub: no pluggy, no Flask, no ``hub``
imports, so it can be used and tested on its own.

Two kinds of endpoint are spoken:

- **Public conventions**: the store-id list used as a cheap signed ping, the order
  detail and the delivery (logistics) status of an order.
- **Partner endpoints** (rider verification, a rider's orders, community profiles,
  rider notices) belong to agreements between Meituan and a partner and are not
  public: their paths (:class:`Endpoints`) and field names (:class:`FieldNames`) are
  configuration, and the defaults are what this package's simulator serves.

Replies come in Meituan's envelope: ``{"data": ...}`` on success, and
``{"data": "ng", "error": {"code": 703, "msg": "签名验证错误"}}`` on failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import requests
import urllib3

from last100_meituan.privacy import mask_name, mask_phone
from last100_meituan.signing import sign

#: Where the public API lives.
DEFAULT_BASE_URL = "https://waimaiopen.meituan.com"

#: Error codes that mean the app credentials were refused: 702 app_id unknown, 703
#: signature check failed (a wrong app_secret, or a clock far off).
AUTH_ERROR_CODES = frozenset({702, 703})

# Meituan's replies are small; a larger body is a misrouted request or an attack.
_MAX_BODY_BYTES = 2 * 1024 * 1024
_READ_CHUNK = 16 * 1024


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class MeituanClientError(Exception):
    """Base of every error this client raises."""


class MeituanError(MeituanClientError):
    """Meituan answered with an error envelope."""

    def __init__(self, code: int | None, msg: str) -> None:
        super().__init__(f"Meituan error {code}: {msg}")
        self.code = code
        self.msg = msg


class MeituanAuthError(MeituanError):
    """Meituan refused the app credentials (``app_id`` unknown or ``sig`` wrong)."""


class MeituanTransportError(MeituanClientError):
    """Meituan could not be reached, or answered with an HTTP failure."""


class MeituanTimeout(MeituanTransportError):
    """Meituan did not answer, or did not finish answering, in time."""


class MeituanProtocolError(MeituanClientError):
    """Meituan answered something that is not its envelope, or not the expected data."""


# ---------------------------------------------------------------------------
# Configuration and wire values
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    """Paths below the base URL. ``ping``, ``order_detail`` and ``logistics_status``
    follow the public API; the others are partner endpoints (defaults served by the
    simulator). An empty ``logistics_status`` skips that second call."""

    ping: str = "/api/v1/poi/getids"
    order_detail: str = "/api/v1/order/getOrderDetail"
    logistics_status: str = "/api/v1/order/logistics/status"
    rider_verify: str = "/api/v1/partner/rider/verify"
    rider_orders: str = "/api/v1/partner/rider/orders"
    community_profile: str = "/api/v1/partner/community/profile/save"
    rider_notice: str = "/api/v1/partner/rider/notice"


@dataclass(frozen=True)
class FieldNames:
    """Parameter and field names of the partner endpoints and partner callback fields."""

    credential: str = "credential"  # request parameter carrying the rider's credential
    credential_type: str = "credential_type"  # "token" (from the app) or "code" (typed)
    rider_ref: str = "rider_id"
    rider_name: str = "rider_name"
    rider_phone: str = "rider_phone"
    rider_status: str = "rider_status"  # 1 active, 2 suspended
    community_ref: str = "community_id"
    building: str = "building"


#: Values of the partner ``rider_status`` field.
RIDER_ACTIVE = 1
RIDER_SUSPENDED = 2


@dataclass(frozen=True)
class MeituanRider:
    """A rider as the partner verification endpoint describes them, already masked."""

    ref: str
    masked_name: str
    masked_phone: str
    status: int | None


@dataclass(frozen=True)
class MeituanOrder:
    """An order's delivery facts. ``status`` and ``logistics_status`` are Meituan's codes
    as sent (``None`` when absent or not a number); times are Unix seconds."""

    order_id: str
    status: int | None
    logistics_status: int | None
    rider_ref: str = ""
    community_ref: str = ""
    building: str = ""
    delivery_time: int | None = None  # expected delivery; Meituan sends 0 for "as soon as possible"
    updated_at: int | None = None


def as_int(value: Any) -> int | None:
    """``value`` as an int when it is one (Meituan sends numbers as numbers or strings),
    else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def order_from_wire(data: Mapping[str, Any], names: FieldNames) -> MeituanOrder:
    """Read an order from a reply or a callback.

    :raises MeituanProtocolError: no ``order_id``.
    """
    order_id = str(data.get("order_id") or "").strip()
    if not order_id:
        raise MeituanProtocolError("an order without order_id")
    delivery_time = as_int(data.get("delivery_time"))
    return MeituanOrder(
        order_id=order_id,
        status=as_int(data.get("status")),
        logistics_status=as_int(data.get("logistics_status")),
        rider_ref=str(data.get(names.rider_ref) or ""),
        community_ref=str(data.get(names.community_ref) or ""),
        building=str(data.get(names.building) or ""),
        delivery_time=delivery_time or None,
        updated_at=as_int(data.get("utime")),
    )


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


class MeituanClient:
    """Signed calls to one Meituan app.

    :param base_url: e.g. ``https://waimaiopen.meituan.com``; paths are appended to it.
    :param app_id: the app's id (system parameter ``app_id``).
    :param app_secret: the app's secret; it signs every request and is never sent.
    :param session: the ``requests.Session`` to use (one is created when omitted).
    :param timeout: ``(connect, read)`` seconds for every call.
    :param total_timeout_s: the most one call may take from start to its last byte, so a
        server that trickles its reply cannot hold a call longer (defaults to connect plus
        read timeout).
    :param clock: Unix time in seconds, for the ``timestamp`` system parameter.
    """

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (2.0, 5.0),
        total_timeout_s: float | None = None,
        endpoints: Endpoints | None = None,
        field_names: FieldNames | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.total_timeout_s = total_timeout_s if total_timeout_s is not None else sum(timeout)
        self.endpoints = endpoints or Endpoints()
        self.names = field_names or FieldNames()
        self._clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"MeituanClient({self.base_url!r}, app_id={self.app_id!r})"

    def close(self) -> None:
        self.session.close()

    # -- the wire ----------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def signed_params(self, url: str, params: Mapping[str, Any]) -> dict[str, str]:
        """``params`` plus the system parameters, signed for ``url``. Empty values are
        dropped: they are not signed, so they are not sent either."""
        full = {k: str(v) for k, v in params.items() if v is not None and str(v) != ""}
        full["app_id"] = self.app_id
        full["timestamp"] = str(int(self._clock()))
        full["sig"] = sign(url, full, self._app_secret)
        return full

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Send a signed request and return the envelope's ``data``.

        ``GET`` sends every parameter in the query string. ``POST`` sends the system
        parameters (``app_id``, ``timestamp``, ``sig``) in the query string and the
        others form-encoded in the body, as Meituan's SDKs do; the signature covers both.

        :raises MeituanAuthError: the app credentials were refused.
        :raises MeituanError: any other error envelope.
        :raises MeituanTimeout: no (complete) answer in time.
        :raises MeituanTransportError: not reachable, or an HTTP 5xx.
        :raises MeituanProtocolError: the answer is not Meituan's envelope.
        """
        method = method.upper()
        url = self.url(path)
        signed = self.signed_params(url, params or {})
        if method == "GET":
            query, form = signed, None
        else:
            system = ("app_id", "timestamp", "sig")
            query = {k: signed[k] for k in system}
            form = {k: v for k, v in signed.items() if k not in system}
        status, body = self._send(method, url, path, query, form)
        return self._parse(path, status, body)

    def _send(
        self, method: str, url: str, path: str, query: Mapping[str, str], form: Mapping[str, str] | None
    ) -> tuple[int, bytes]:
        connect_s, read_s = self.timeout
        deadline = time.monotonic() + self.total_timeout_s
        try:
            response = self.session.request(
                method,
                url,
                params=query,
                data=form,
                timeout=(connect_s, min(read_s, self.total_timeout_s)),
                stream=True,  # read the body ourselves, against a deadline
                headers={"Accept": "application/json"},
            )
        except requests.exceptions.Timeout as exc:
            raise MeituanTimeout(f"{path}: no answer within the timeout") from exc
        except requests.exceptions.RequestException as exc:
            # The message of a requests error quotes the URL with its query string; name
            # only the path and the kind of failure.
            raise MeituanTransportError(f"{path}: could not reach Meituan ({type(exc).__name__})") from exc
        with response:
            body = self._read_body(response, path, deadline)
        return response.status_code, body

    def _read_body(self, response: requests.Response, path: str, deadline: float) -> bytes:
        # read1 hands back bytes as they arrive, so a trickling body is noticed when the
        # deadline passes rather than when the whole body is finally in.
        read = getattr(response.raw, "read1", response.raw.read)
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := read(_READ_CHUNK, decode_content=True):
                size += len(chunk)
                if size > _MAX_BODY_BYTES:
                    raise MeituanProtocolError(f"{path}: the answer is larger than {_MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise MeituanTimeout(f"{path}: the answer did not finish arriving in time")
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise MeituanTimeout(f"{path}: the answer stopped arriving") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise MeituanTransportError(f"{path}: the answer broke off ({type(exc).__name__})") from exc
        return b"".join(chunks)

    @staticmethod
    def _parse(path: str, status: int, body: bytes) -> Any:
        if status >= 500:
            raise MeituanTransportError(f"{path}: Meituan answered HTTP {status}")
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MeituanProtocolError(f"{path}: HTTP {status} with a body that is not JSON") from None
        if not isinstance(envelope, dict) or not ({"data", "error"} & envelope.keys()):
            raise MeituanProtocolError(f"{path}: HTTP {status} with a body that is not Meituan's envelope")
        error = envelope.get("error")
        if error or envelope.get("data") == "ng":
            error = error if isinstance(error, dict) else {}
            code = as_int(error.get("code"))
            msg = str(error.get("msg") or "no message")[:200]
            raise (MeituanAuthError if code in AUTH_ERROR_CODES else MeituanError)(code, msg)
        if status != 200:
            raise MeituanProtocolError(f"{path}: HTTP {status} without an error envelope")
        return envelope.get("data")

    # -- public conventions --------------------------------------------------------

    def ping(self) -> Any:
        """A cheap signed call (the app's store ids): proves the URL, app_id and secret."""
        return self.call("GET", self.endpoints.ping)

    def order(self, order_id: str) -> MeituanOrder:
        """One order's delivery facts from the order detail; when the detail carries no
        ``logistics_status``, it is read from the logistics status query.

        :raises MeituanError: e.g. the order is unknown (the code depends on the account).
        """
        data = self.call("GET", self.endpoints.order_detail, {"order_id": order_id})
        if not isinstance(data, dict):
            raise MeituanProtocolError(f"{self.endpoints.order_detail}: the order detail is not an object")
        order = order_from_wire(data, self.names)
        if order.logistics_status is None and self.endpoints.logistics_status:
            logistics = self.call("GET", self.endpoints.logistics_status, {"order_id": order_id})
            if isinstance(logistics, dict):
                order = replace(order, logistics_status=as_int(logistics.get("status")))
        return order

    # -- partner endpoints -------------------------------------------------------------

    def verify_rider(self, credential: str, credential_type: str) -> MeituanRider:
        """Who holds ``credential`` (``credential_type`` ``"token"`` or ``"code"``).

        Sent as a POST so that the credential is never part of a URL (URLs end up in
        access logs)."""
        names = self.names
        data = self.call(
            "POST",
            self.endpoints.rider_verify,
            {names.credential: credential, names.credential_type: credential_type},
        )
        if not isinstance(data, dict) or not data.get(names.rider_ref):
            raise MeituanProtocolError(f"{self.endpoints.rider_verify}: no {names.rider_ref} in the answer")
        return MeituanRider(
            ref=str(data[names.rider_ref]),
            masked_name=mask_name(data.get(names.rider_name)),
            masked_phone=mask_phone(data.get(names.rider_phone)),
            status=as_int(data.get(names.rider_status)),
        )

    def rider_orders(
        self,
        community_ref: str,
        *,
        rider_ref: str | None = None,
        credential: str | None = None,
        credential_type: str | None = None,
    ) -> list[MeituanOrder]:
        """A rider's current orders into a community, naming the rider by ``rider_ref``
        or, when that is not known yet, by their credential."""
        names = self.names
        if rider_ref:
            params = {names.community_ref: community_ref, names.rider_ref: rider_ref}
        else:
            params = {
                names.community_ref: community_ref,
                names.credential: credential,
                names.credential_type: credential_type,
            }
        data = self.call("POST", self.endpoints.rider_orders, params)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise MeituanProtocolError(f"{self.endpoints.rider_orders}: the orders are not a list of objects")
        return [order_from_wire(item, names) for item in data]

    def save_community_profile(self, community_ref: str, version: int, profile: Mapping[str, Any]) -> str:
        """Publish a community profile (sent as a JSON string, Meituan's way of passing
        structured values in a form); returns Meituan's reference for it."""
        data = self.call(
            "POST",
            self.endpoints.community_profile,
            {
                self.names.community_ref: community_ref,
                "version": version,
                "profile": json.dumps(profile, ensure_ascii=False, separators=(",", ":")),
            },
        )
        return _reference(data, "profile_id")

    def send_rider_notice(self, rider_ref: str, kind: str, text_zh: str, text_en: str, data: Mapping[str, Any]) -> str:
        """Send a notice to a rider's app; returns Meituan's reference for it."""
        answer = self.call(
            "POST",
            self.endpoints.rider_notice,
            {
                self.names.rider_ref: rider_ref,
                "kind": kind,
                "text_zh": text_zh,
                "text_en": text_en,
                "data": json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), default=str) if data else "",
            },
        )
        return _reference(answer, "notice_id")


def _reference(data: Any, key: str) -> str:
    if isinstance(data, dict) and data.get(key):
        return str(data[key])
    return ""  # accepted without a reference ({"data": "ok"})
