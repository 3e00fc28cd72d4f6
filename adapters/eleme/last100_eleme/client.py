"""A client for the Ele.me Open Platform's NOP protocol: signed JSON envelopes over HTTP POST.

Every call is one POST of::

    {"nop": "1.0.0", "id": "<uuid>", "action": "<service.method>", "token": "<access token>",
     "metas": {"app_key": "...", "timestamp": <unix seconds>}, "params": {...},
     "signature": "<see last100_eleme.signing>"}

to ``<base_url>/api/v1/``; the platform answers ``{"id", "result", "error"}`` where
``error`` is ``null`` or ``{"code", "message"}``. This module knows nothing about the hub:
it signs, sends, reads and raises the typed errors below.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from last100_eleme.signing import canonical_json, request_signature

NOP_VERSION = "1.0.0"
API_PATH = "/api/v1/"

#: Public hosts (the sandbox is ``https://open-api-sandbox.shop.ele.me``).
PRODUCTION_URL = "https://open-api.shop.ele.me"

#: Error codes that mean the app's credentials or permissions were refused.
AUTH_CODES = frozenset(
    {"UNAUTHORIZED", "INVALID_SIGNATURE", "ACCESS_DENIED", "PERMISSION_DENIED", "METHOD_NOT_ALLOWED"}
)

#: The largest reply the client reads; Ele.me's replies are a few kilobytes.
MAX_REPLY_BYTES = 2 * 1024 * 1024

_RESERVED_PARAMS = frozenset({"app_key", "timestamp"})


class ElemeClientError(Exception):
    """Base class of every error this client raises on purpose."""


class ElemeError(ElemeClientError):
    """The platform answered with an error document.

    :ivar code: Ele.me's error code (``SERVER_ERROR``, ``VALIDATION_FAILED``, ...).
    :ivar message: the platform's words; may be Chinese.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ElemeAuthError(ElemeError):
    """The platform refused the app's credentials or permissions (a code in
    :data:`AUTH_CODES`): wrong secret, expired token, action not granted."""


class ElemeTransportError(ElemeClientError):
    """The platform could not be reached, or failed at the HTTP level (a 5xx status)."""


class ElemeTimeout(ElemeTransportError):
    """The platform did not answer, or did not finish answering, in time."""


class ElemeProtocolError(ElemeClientError):
    """The platform answered something that is not a NOP reply."""


def _raise_for_error(error: Any) -> None:
    if not isinstance(error, Mapping) or not isinstance(error.get("code"), str):
        raise ElemeProtocolError("the reply's error is not an object with a code")
    code, message = error["code"], str(error.get("message") or "")
    raise (ElemeAuthError if code in AUTH_CODES else ElemeError)(code, message)


class ElemeClient:
    """Signed calls to one Ele.me app with one access token.

    :param base_url: scheme and host (``https://open-api.shop.ele.me``); calls go to
        ``base_url + "/api/v1/"``.
    :param app_key: the app's key, sent in ``metas``.
    :param secret: the app's secret; only ever used to sign.
    :param token: the OAuth access token, sent in the envelope.
    :param session: a ``requests.Session`` to send with; one is created when omitted.
    :param timeout: ``(connect, read)`` seconds. ``read`` bounds every wait for data;
        the whole call, body included, must also finish within ``connect + read`` seconds
        (a server trickling a body byte by byte is a timeout too).
    :param clock: wall-clock seconds, for ``metas.timestamp``.
    :param new_id: makes each envelope's ``id``.
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        secret: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (2.0, 5.0),
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.url = base_url.rstrip("/") + API_PATH
        self.app_key = app_key
        self._secret = secret
        self._token = token
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self._clock = clock
        self._new_id = new_id

    def __repr__(self) -> str:  # never show the secret or the token
        return f"ElemeClient(url={self.url!r}, app_key={self.app_key!r})"

    # -- the protocol --------------------------------------------------------------

    def envelope(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The signed NOP envelope for one call.

        :raises ValueError: ``params`` uses a key reserved for ``metas``.
        """
        clash = _RESERVED_PARAMS & params.keys()
        if clash:
            raise ValueError(f"params may not use the metas keys {sorted(clash)}")
        metas = {"app_key": self.app_key, "timestamp": int(self._clock())}
        return {
            "nop": NOP_VERSION,
            "id": self._new_id(),
            "action": action,
            "token": self._token,
            "metas": metas,
            "params": dict(params),
            "signature": request_signature(action, self._token, metas, params, self._secret),
        }

    def call(self, action: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``action`` with ``params`` and return the reply's ``result`` (which may be
        ``None``).

        :raises ElemeAuthError: the credentials or permissions were refused.
        :raises ElemeError: the platform answered with another error.
        :raises ElemeTimeout: no complete answer in time.
        :raises ElemeTransportError: the platform could not be reached, or answered 5xx.
        :raises ElemeProtocolError: the answer is not a NOP reply to this request.
        """
        envelope = self.envelope(action, params or {})
        body = canonical_json(envelope).encode("utf-8")
        deadline = time.monotonic() + sum(self.timeout)
        try:
            response = self.session.post(
                self.url,
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
                timeout=self.timeout,
                stream=True,
            )
        except requests.Timeout as exc:
            raise ElemeTimeout(f"{action}: Ele.me did not answer within {self.timeout[1]:g} s") from exc
        except requests.RequestException as exc:
            raise ElemeTransportError(f"{action}: Ele.me could not be reached ({type(exc).__name__})") from exc
        with response:
            raw = self._read(response, action, deadline)
        return self._result(response.status_code, raw, envelope["id"], action)

    # -- reading the answer ---------------------------------------------------------

    def _read(self, response: requests.Response, action: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in _chunks(response, action):
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise ElemeProtocolError(f"{action}: the reply is larger than {MAX_REPLY_BYTES} bytes")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise ElemeTimeout(f"{action}: Ele.me did not finish its answer within {sum(self.timeout):g} s")
        return b"".join(chunks)

    @staticmethod
    def _result(status: int, raw: bytes, request_id: str, action: str) -> Any:
        if status >= 500:
            raise ElemeTransportError(f"{action}: Ele.me answered HTTP {status}")
        try:
            reply = json.loads(raw)
        except ValueError:
            raise ElemeProtocolError(f"{action}: the reply (HTTP {status}) is not JSON") from None
        if not isinstance(reply, dict) or not ({"result", "error"} & reply.keys()):
            raise ElemeProtocolError(f"{action}: the reply (HTTP {status}) is not a NOP reply")
        if reply.get("id") not in (None, request_id):
            raise ElemeProtocolError(f"{action}: the reply answers another request ({reply.get('id')!r})")
        if reply.get("error") is not None:
            _raise_for_error(reply["error"])
        if status != 200:
            raise ElemeProtocolError(f"{action}: Ele.me answered HTTP {status} without an error")
        return reply.get("result")

    # -- public actions ----------------------------------------------------------------

    def get_user(self) -> dict[str, Any]:
        """``eleme.user.getUser``: the account the token belongs to; a cheap signed call
        that proves app key, secret and token together."""
        result = self.call("eleme.user.getUser")
        if not isinstance(result, dict):
            raise ElemeProtocolError("eleme.user.getUser: the result is not an object")
        return result

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        """``eleme.order.getOrder``: one order (``OOrder``), or ``None`` when the platform
        answers with no order."""
        result = self.call("eleme.order.getOrder", {"orderId": order_id})
        if result is not None and not isinstance(result, dict):
            raise ElemeProtocolError("eleme.order.getOrder: the result is not an object")
        return result


def _chunks(response: requests.Response, action: str) -> Iterator[bytes]:
    """The body in pieces as they arrive. ``read1`` returns whatever has come in (a plain
    ``read`` of a chunk size would wait for the whole chunk, hiding a trickling body from
    the deadline); ``b""`` only at the end."""
    raw = response.raw
    try:
        while chunk := raw.read1(8192, decode_content=True):
            yield chunk
    except (ReadTimeoutError, TimeoutError) as exc:
        raise ElemeTimeout(f"{action}: Ele.me stopped sending its answer") from exc
    except (HTTPError, OSError) as exc:
        raise ElemeTransportError(f"{action}: the reply broke off ({type(exc).__name__})") from exc
