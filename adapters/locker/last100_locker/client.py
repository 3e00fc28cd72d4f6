"""A client for a locker bank controller speaking the Locker Bank Protocol: signed
requests, bounded waits, typed replies and errors.

It knows nothing of the hub. Every call is signed with
:class:`~last100_locker.signing.RequestSigner`, waits at most ``timeout = (connect,
read)`` seconds per network step and ``deadline_s`` for the whole exchange (a reply whose
body trickles in is given up at the deadline, however short each pause), reads at most
``max_reply_bytes``, and raises a :mod:`last100_locker.errors` error for anything but
the expected reply.

Example::

    client = LockerClient("https://lockers.example/locker", "hub-1", b"shared secret")
    allocation = client.allocate("north-gate", "ORDER-1", size="M", zone="warm", dropoff_minutes=30)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from last100_locker import __version__
from last100_locker.errors import (
    ApiError,
    AuthenticationError,
    LockerTimeout,
    NoFreeCompartment,
    NotFoundError,
    ProtocolError,
    ServerError,
    TransportError,
)
from last100_locker.signing import RequestSigner
from last100_locker.wire import (
    Allocation,
    Compartment,
    OverduePickups,
    read_allocation_reply,
    read_compartments,
    read_overdue,
    require_object,
    require_str,
)

_USER_AGENT = f"last100-locker/{__version__}"
_CHUNK = 16384

#: Replies larger than this are refused: a bank's compartment list is a few kilobytes.
MAX_REPLY_BYTES = 1 << 20


def _segment(value: str) -> str:
    """One path segment, with ``/`` and everything else outside unreserved escaped."""
    return quote(value, safe="")


def _json_bytes(body: Mapping[str, Any]) -> bytes:
    # Compact and UTF-8 as is: the bytes sent are the bytes signed, so keep them stable.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class LockerClient:
    """Calls one locker bank controller as one hub.

    :param base_url: where the controller serves the protocol; ``/v1/...`` is appended.
    :param key_id: the hub's key id at the controller.
    :param secret: the shared HMAC secret's bytes.
    :param session: a ``requests.Session`` to reuse (connection pooling); one is created
        otherwise. The client may be used from several threads at once.
    :param timeout: ``(connect, read)`` seconds for each network step.
    :param deadline_s: the whole exchange, body included; defaults to the read timeout.
    :param now: the clock used for request timestamps, in unix seconds.
    :param max_reply_bytes: the largest reply read.
    """

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: bytes,
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
        self._signer = RequestSigner(key_id, secret, now)

    def close(self) -> None:
        self.session.close()

    # -- the protocol's calls ---------------------------------------------------------

    def ping(self) -> str:
        """Check that the controller answers and accepts the hub's signature.

        :return: the protocol version it speaks, e.g. ``"locker/1"``.
        :raises AuthenticationError: the controller refused the signature.
        """
        return self._read(lambda r: require_str(require_object(r, "reply"), "protocol"), self._call("GET", "/ping"))

    def compartments(self, bank_id: str) -> list[Compartment]:
        """Every compartment of a bank with its size, zone and state.

        :raises NotFoundError: the controller has no such bank.
        """
        return self._read(read_compartments, self._call("GET", f"/banks/{_segment(bank_id)}/compartments"))

    def allocate(self, bank_id: str, order_ref: str, *, size: str, zone: str, dropoff_minutes: int) -> Allocation:
        """Reserve a compartment of ``zone`` and of ``size`` or larger for an order.

        Idempotent on ``order_ref`` at the bank: while the order's allocation is not
        finished, asking again returns it (codes included) instead of reserving another.

        :raises NoFreeCompartment: nothing suitable is free.
        :raises NotFoundError: the controller has no such bank.
        """
        body = {"order_ref": order_ref, "size": size, "zone": zone, "dropoff_minutes": dropoff_minutes}
        reply = self._call("POST", f"/banks/{_segment(bank_id)}/allocations", body)
        allocation = self._read(read_allocation_reply, reply)
        if not allocation.dropoff_code:
            raise ProtocolError("the allocation reply carries no dropoff_code")
        return allocation

    def release(self, bank_id: str, allocation_id: str) -> Allocation | None:
        """End an allocation (order cancelled, or picked up): its codes stop working.

        :return: the finished allocation, or ``None`` when the controller does not know it.
        """
        path = f"/banks/{_segment(bank_id)}/allocations/{_segment(allocation_id)}/release"
        try:
            reply = self._call("POST", path, {})
        except NotFoundError as exc:
            if exc.code == "allocation_not_found":
                return None
            raise
        return self._read(read_allocation_reply, reply)

    def overdue(self, bank_id: str) -> OverduePickups:
        """Allocations whose food was dropped off and not picked up within the bank's
        pickup limit, oldest drop-off first."""
        return self._read(read_overdue, self._call("GET", f"/banks/{_segment(bank_id)}/overdue"))

    def mark_overdue_reported(self, bank_id: str, allocation_id: str) -> Allocation:
        """Record at the controller that the hub has reported this overdue pickup, so it
        is not reported again; repeating it changes nothing.

        :raises NotFoundError: the controller does not know the allocation.
        """
        path = f"/banks/{_segment(bank_id)}/allocations/{_segment(allocation_id)}/overdue-report"
        return self._read(read_allocation_reply, self._call("POST", path, {}))

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
        what = f"{method} {path}"
        started = time.monotonic()
        try:
            # No redirects: the signature covers the path, so a redirected request would
            # carry a signature for another path.
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
            raise LockerTimeout(f"{what}: no answer in time ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        with response:
            content = self._body(response, started, what)
        if 200 <= response.status_code < 300:
            try:
                return json.loads(content)
            except ValueError:
                raise ProtocolError(f"{what}: reply is not JSON") from None
        if response.status_code < 400:
            raise ProtocolError(f"{what}: unexpected HTTP {response.status_code}")
        raise _api_error(response.status_code, content)

    def _body(self, response: requests.Response, started: float, what: str) -> bytes:
        """The reply's body, read as it arrives until ``deadline_s`` after the request
        was sent: the read timeout bounds each pause, the deadline the whole."""
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
                    raise LockerTimeout(f"{what}: reply not complete within {self.deadline_s:g} s")
        # Reading the raw stream raises urllib3's errors, not requests' wrappers of them.
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise LockerTimeout(f"{what}: reply stalled for longer than the read timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{what}: reply broken off ({type(exc).__name__})") from None
        return b"".join(chunks)


def _api_error(status: int, content: bytes) -> ApiError:
    """The typed error of a problem reply (RFC 9457 with the protocol's ``code``); a
    reply that is not one (a proxy's HTML error page) still gets a code, from its status."""
    code, detail = f"http_{status}", ""
    try:
        problem = json.loads(content)
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        if isinstance(problem.get("code"), str) and problem["code"]:
            code = problem["code"]
        if isinstance(problem.get("detail"), str):
            detail = problem["detail"][:200]
    if status == 401:
        return AuthenticationError(status, code, detail)
    if status == 404:
        return NotFoundError(status, code, detail)
    if status == 409 and code == "no_free_compartment":
        return NoFreeCompartment(status, code, detail)
    if status == 429 or status >= 500:
        return ServerError(status, code, detail)
    return ApiError(status, code, detail)
