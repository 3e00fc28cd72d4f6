"""A client for a platform's RiderPass endpoints: signed requests, bounded waits, typed
replies and errors.

It knows nothing of the hub. Every call:

- is signed with :class:`~last100_riderpass.signing.RequestSigner`;
- waits at most ``timeout = (connect, read)`` per network step and ``deadline_s`` for the
  whole exchange, body included, so a platform trickling its reply byte by byte cannot
  hold a rider at the gate (``requests`` alone bounds each socket read, not the total);
- reads at most ``max_reply_bytes``;
- raises a :mod:`last100_riderpass.errors` error for anything but the expected reply.

Example::

    client = RiderPassClient("https://platform.example/riderpass", "hub-1", secret)
    rider = client.verify_rider("token", token, community_id="sunny-garden", gate_id="north")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from last100_riderpass import __version__
from last100_riderpass.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    CredentialError,
    NotFoundError,
    ProtocolError,
    RiderPassTimeout,
    ServerError,
    TransportError,
)
from last100_riderpass.signing import RequestSigner
from last100_riderpass.wire import (
    Acknowledgement,
    OrderRecord,
    RiderRecord,
    read_acknowledgement,
    read_order,
    read_orders,
    read_rider,
    require_object,
    require_str,
)

#: Replies larger than this are refused: every RiderPass reply is a few kilobytes at most.
MAX_REPLY_BYTES = 1 << 20

_USER_AGENT = f"last100-riderpass/{__version__}"
_CHUNK = 16384

_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: CredentialError,
    429: ServerError,
}


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    # Compact and UTF-8 as is: the bytes sent are the bytes signed, so keep them stable.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class RiderPassClient:
    """Calls one platform's RiderPass endpoints as one hub.

    :param base_url: where the platform serves the protocol; ``/v1/...`` is appended.
    :param key_id: the hub's key id at the platform.
    :param signing_secret: the HMAC key shared with the platform.
    :param session: a ``requests.Session`` to reuse (connection pooling); one is created
        otherwise. The client may be used from several threads at once.
    :param timeout: ``(connect, read)`` seconds for each network step.
    :param deadline_s: the whole exchange, body included; defaults to the read timeout.
    :param now: the clock used for request timestamps, in unix seconds.
    """

    def __init__(
        self,
        base_url: str,
        key_id: str,
        signing_secret: bytes,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (1.0, 3.0),
        deadline_s: float | None = None,
        now: Callable[[], float] = time.time,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
        self.deadline_s = timeout[1] if deadline_s is None else deadline_s
        self.max_reply_bytes = max_reply_bytes
        self._signer = RequestSigner(key_id, signing_secret, now)

    def close(self) -> None:
        self.session.close()

    # -- the protocol's calls ---------------------------------------------------------

    def ping(self) -> str:
        """Check that the platform answers and accepts the hub's signature.

        :return: the protocol version the platform speaks, e.g. ``"riderpass/1"``.
        :raises AuthenticationError: the platform refused the signature.
        """
        return self._read(lambda r: require_str(require_object(r, "reply"), "protocol"), self._call("GET", "/ping"))

    def verify_rider(self, kind: str, value: str, *, community_id: str, gate_id: str) -> RiderRecord:
        """Ask who holds a rider credential (``kind`` is ``token`` or ``typed_code``).

        :raises CredentialError: the platform rejected the credential.
        """
        body = {"credential": {"kind": kind, "value": value}, "community_id": community_id, "gate_id": gate_id}
        return self._read(read_rider, self._call("POST", "/riders/verify", body))

    def active_orders(
        self,
        community_id: str,
        *,
        rider_ref: str | None = None,
        credential: tuple[str, str] | None = None,
    ) -> list[OrderRecord]:
        """A rider's orders being delivered into a community, by the rider's ref or,
        when the hub does not know it yet, by their credential ``(kind, value)``.

        :raises CredentialError: the platform rejected the credential.
        """
        if (rider_ref is None) == (credential is None):
            raise ValueError("give exactly one of rider_ref and credential")
        rider: dict[str, Any]
        if rider_ref is not None:
            rider = {"ref": rider_ref}
        else:
            kind, value = credential  # type: ignore[misc]
            rider = {"credential": {"kind": kind, "value": value}}
        body = {"rider": rider, "community_id": community_id}
        return self._read(read_orders, self._call("POST", "/orders/active", body))

    def get_order(self, order_ref: str) -> OrderRecord | None:
        """One order, or ``None`` when the platform does not know it."""
        try:
            reply = self._call("GET", f"/orders/{_segment(order_ref)}")
        except NotFoundError:
            return None
        return self._read(lambda r: read_order(require_object(r, "reply").get("order")), reply)

    def publish_profile(self, community_id: str, profile: Mapping[str, Any]) -> Acknowledgement:
        """Put a community's profile (rules, gates, buildings, zones).

        :raises ConflictError: the platform holds a newer version of the profile.
        """
        reply = self._call("PUT", f"/communities/{_segment(community_id)}/profile", profile)
        return self._read(read_acknowledgement, reply)

    def notify_rider(self, rider_ref: str, notice: Mapping[str, Any]) -> Acknowledgement:
        """Send a rider a notice through their app.

        :raises NotFoundError: the platform does not know the rider.
        """
        reply = self._call("POST", f"/riders/{_segment(rider_ref)}/notices", notice)
        return self._read(read_acknowledgement, reply)

    # -- one exchange -----------------------------------------------------------------

    @staticmethod
    def _read(reader: Callable[[Any], Any], reply: Any) -> Any:
        try:
            return reader(reply)
        except ValueError as exc:
            raise ProtocolError(f"malformed reply: {exc}") from None

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send one signed request and return its JSON reply; raise for anything else."""
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        data = None
        if body is not None:
            data = _json_bytes(body)
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            # No redirects: the signature covers the path, and a redirected request would
            # carry a signature for another path (and the rider's credential elsewhere).
            response = self.session.request(
                method,
                f"{self.base_url}/v1{path}",
                data=data,
                headers=headers,
                auth=self._signer,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            raise RiderPassTimeout(f"{method} {path}: no answer in time ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}") from None
        with response:
            content = self._body(response, started, f"{method} {path}")
        return self._outcome(response.status_code, content, f"{method} {path}")

    def _body(self, response: requests.Response, started: float, what: str) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_reply_bytes:
            raise ProtocolError(f"{what}: reply of {declared} bytes is too large")
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                # read1 returns what has arrived instead of waiting for a full chunk, so
                # the deadline is checked while a slow body trickles in.
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_reply_bytes:
                    raise ProtocolError(f"{what}: reply is larger than {self.max_reply_bytes} bytes")
                chunks.append(chunk)
                if time.monotonic() - started > self.deadline_s:
                    raise RiderPassTimeout(f"{what}: reply not complete within {self.deadline_s:g} s")
        # Reading the raw stream raises urllib3's errors, not requests' wrappers of them.
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise RiderPassTimeout(f"{what}: reply stalled for longer than the read timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{what}: reply broken off ({type(exc).__name__})") from None
        return b"".join(chunks)

    @staticmethod
    def _outcome(status: int, content: bytes, what: str) -> Any:
        if 200 <= status < 300:
            try:
                return json.loads(content)
            except ValueError:
                raise ProtocolError(f"{what}: reply is not JSON") from None
        if status < 400:
            raise ProtocolError(f"{what}: unexpected HTTP {status}")
        code, detail = _problem(content, status)
        error = _ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
        raise error(status, code, detail)


def _problem(content: bytes, status: int) -> tuple[str, str]:
    """The ``code`` and ``detail`` of an RFC 9457 problem reply; a reply that is not one
    (a proxy's HTML error page) still gets a code, from its status."""
    try:
        problem = json.loads(content)
    except ValueError:
        problem = None
    if isinstance(problem, dict) and isinstance(problem.get("code"), str) and problem["code"]:
        detail = problem.get("detail")
        return problem["code"], detail if isinstance(detail, str) else ""
    return f"http_{status}", ""


def _segment(value: str) -> str:
    """A value as one path segment: ``/`` and everything else reserved percent-encoded."""
    return quote(value, safe="")


__all__ = [
    "Acknowledgement",
    "OrderRecord",
    "RiderPassClient",
    "RiderRecord",
]
