"""A client for a locker bank controller speaking the Locker Bank Protocol: signed
requests, bounded waits, typed replies and errors.

It knows nothing of the hub. Every call is signed with
:class:`~last100_locker.signing.RequestSigner`, waits at most ``timeout = (connect,
read)`` seconds per network step, and raises a :mod:`last100_locker.errors` error for
anything but the expected reply.

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
    :param now: the clock used for request timestamps, in unix seconds.
    """

    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: bytes,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (1.0, 3.0),
        now: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout
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
            )
        except requests.Timeout as exc:
            raise LockerTimeout(f"{what}: no answer in time ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        if 200 <= response.status_code < 300:
            try:
                return response.json()
            except ValueError:
                raise ProtocolError(f"{what}: reply is not JSON") from None
        if response.status_code < 400:
            raise ProtocolError(f"{what}: unexpected HTTP {response.status_code}")
        raise _api_error(response.status_code, response.content)


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
