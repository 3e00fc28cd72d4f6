"""A client for a visitor system's registration endpoint: one signed, idempotent POST
per visit, and a reply read by configurable paths.

It knows nothing of the hub. Every call:

- is signed (:mod:`last100_visitor_http.signing`) over the exact body bytes sent;
- waits at most ``timeout = (connect, read)`` per network step and ``deadline_s`` for the
  whole exchange, body included, so a system trickling its reply cannot hold the outbox;
- does not follow redirects (the record, and its signature, would go to another address);
- reads at most ``max_reply_bytes``;
- raises an error of :mod:`last100_visitor_http.errors` for anything but success.

Example::

    client = VisitorHttpClient(
        "https://pms.example/openapi/visitor/records", "secret",
        rules=ReplyRules(success_path="code", success_value="0", record_id_path="data.recordId"),
    )
    record_id = client.register({"visitorName": "王*", ...}, idempotency_key=entry_id)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from last100_visitor_http import __version__
from last100_visitor_http.errors import (
    NotAccepted,
    ProtocolError,
    StatusError,
    TransportError,
    VisitorHttpTimeout,
)
from last100_visitor_http.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

#: Replies larger than this are refused: a visitor system acknowledges in a few hundred bytes.
MAX_REPLY_BYTES = 1 << 20

#: Where a reply's human-readable message usually is, when ``message_path`` is not set.
MESSAGE_KEYS = ("message", "msg", "errmsg", "error_description", "error", "detail")

#: The longest system message kept for an error: enough to say what is wrong.
MAX_MESSAGE_CHARS = 200

IDEMPOTENCY_HEADER = "Idempotency-Key"

_USER_AGENT = f"last100-visitor-http/{__version__}"
_CHUNK = 16384
_MISSING = object()


def encode_body(body: Mapping[str, Any]) -> bytes:
    """A record as the bytes sent and signed: compact JSON, keys sorted, UTF-8 as is (no
    ``\\u`` escapes), so the same record always gives the same bytes."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def redact_url(url: str) -> str:
    """``url`` without its query string and user info, fit for a message: either may
    carry a credential."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def read_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` in parsed JSON (``data.recordId``, ``result.0.id``:
    a number indexes a list), or a private sentinel when there is none."""
    value = data
    for segment in path.split("."):
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
    return value


def as_text(value: Any) -> str:
    """A JSON value as ``success_value`` and record ids are compared and kept: strings
    as they are, numbers in their JSON spelling, ``true``/``false``/``null``."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ReplyRules:
    """How to read a visitor system's reply.

    :ivar success_path: where the system says whether it took the record (``code``);
        empty: any 2xx status is success.
    :ivar success_value: the value at ``success_path`` that means success, as text
        (``0`` matches both ``0`` and ``"0"``).
    :ivar record_id_path: where the system's id of the new record is (``data.recordId``);
        empty: the system gives none, and the caller uses its idempotency key.
    :ivar message_path: where the system's human-readable message is; empty: the first
        of :data:`MESSAGE_KEYS` present at the top of the reply.
    """

    success_path: str = ""
    success_value: str = ""
    record_id_path: str = ""
    message_path: str = ""


@dataclass(frozen=True)
class HeaderNames:
    """The names of the signing headers the system expects."""

    signature: str = SIGNATURE_HEADER
    timestamp: str = TIMESTAMP_HEADER
    key_id: str = KEY_ID_HEADER


@dataclass(frozen=True)
class Probe:
    """A visitor system's answer to a signed ``HEAD`` of its endpoint (or ``GET`` of its
    health URL): the status and, where the system gave them, its message and redirect."""

    method: str
    url: str
    status: int
    message: str = ""
    location: str = ""


class VisitorHttpClient:
    """Sends visits to one visitor system's registration endpoint.

    :param url: the endpoint records are POSTed to.
    :param secret: the shared HMAC secret (its UTF-8 bytes are the key).
    :param key_id: sent in ``headers.key_id`` when not empty (systems that serve several
        callers tell them apart by it).
    :param health_url: probed with a signed ``GET`` by :meth:`probe`; empty: a signed
        ``HEAD`` of ``url``.
    :param session: a ``requests.Session`` to reuse (connection pooling); one is created
        otherwise. The client may be used from several threads at once.
    :param timeout: ``(connect, read)`` seconds for each network step.
    :param deadline_s: the whole exchange, body included; defaults to the read timeout.
    :param now: the clock used for timestamps, in unix seconds.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        key_id: str = "",
        headers: HeaderNames = HeaderNames(),  # frozen: one default instance is safe to share
        rules: ReplyRules = ReplyRules(),
        health_url: str = "",
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (1.0, 3.0),
        deadline_s: float | None = None,
        now: Callable[[], float] = time.time,
        max_reply_bytes: int = MAX_REPLY_BYTES,
    ) -> None:
        self.url = url
        self.health_url = health_url
        self.rules = rules
        self.session = session or requests.Session()
        self.timeout = timeout
        self.deadline_s = timeout[1] if deadline_s is None else deadline_s
        self.max_reply_bytes = max_reply_bytes
        self._secret = secret
        self._key_id = key_id
        self._headers = headers
        self._now = now

    def close(self) -> None:
        self.session.close()

    # -- the calls ----------------------------------------------------------------------

    def register(self, record: Mapping[str, Any], idempotency_key: str) -> str | None:
        """POST one record.

        The idempotency key goes in the ``Idempotency-Key`` header: a system that honours
        it answers a repeated request with the record it already made.

        :return: the system's record id (at ``rules.record_id_path``, as text), or
            ``None`` when no ``record_id_path`` is configured.
        :raises StatusError: the system answered 4xx or 5xx.
        :raises NotAccepted: it answered 2xx but ``success_path`` does not hold
            ``success_value``.
        :raises ProtocolError: the reply cannot be read as configured.
        :raises VisitorHttpTimeout: no complete answer in time.
        :raises TransportError: the system could not be reached.
        """
        body = encode_body(record)
        headers = {"Content-Type": "application/json; charset=utf-8", IDEMPOTENCY_HEADER: idempotency_key}
        status, content, _location = self._exchange("POST", self.url, body, headers)
        if not 200 <= status < 300:
            if 300 <= status < 400:
                raise ProtocolError(f"POST answered HTTP {status} (a redirect); set url to the final address")
            raise StatusError(status, self._message(_parse(content), content))
        return self._accepted(content)

    def probe(self) -> Probe:
        """A signed ``GET`` of ``health_url``, or a signed ``HEAD`` of ``url``, with an
        empty body: whether the system answers and, where it checks signatures on these,
        whether it accepts the hub's.

        :raises VisitorHttpTimeout: no answer in time.
        :raises TransportError: the system could not be reached.
        """
        method, url = ("GET", self.health_url) if self.health_url else ("HEAD", self.url)
        status, content, location = self._exchange(method, url, b"", {})
        message = "" if status < 400 else self._message(_parse(content), content)
        return Probe(method, url, status, message, location)

    # -- reading replies ----------------------------------------------------------------

    def _accepted(self, content: bytes) -> str | None:
        rules = self.rules
        if not (rules.success_path or rules.record_id_path):
            return None
        reply = _parse(content)
        if reply is _MISSING:
            raise ProtocolError("the reply is not JSON, so success_path and record_id_path cannot be read")
        if rules.success_path:
            found = read_path(reply, rules.success_path)
            value = "" if found is _MISSING else as_text(found)
            if value != rules.success_value:
                raise NotAccepted(rules.success_path, value, self._message(reply, content))
        if not rules.record_id_path:
            return None
        record_id = read_path(reply, rules.record_id_path)
        if record_id is _MISSING or record_id is None or record_id == "" or isinstance(record_id, dict | list):
            raise ProtocolError(f"the reply has no record id at {rules.record_id_path}")
        return as_text(record_id)

    def _message(self, reply: Any, content: bytes) -> str:
        """The system's message in a reply: at ``message_path``, else under a usual key,
        else the reply's text when it is not JSON (a proxy's error page)."""
        found: Any = _MISSING
        if reply is not _MISSING:
            if self.rules.message_path:
                found = read_path(reply, self.rules.message_path)
            else:
                found = next(
                    (reply[k] for k in MESSAGE_KEYS if isinstance(reply, Mapping) and isinstance(reply.get(k), str)),
                    _MISSING,
                )
            text = "" if found is _MISSING or found is None else as_text(found)
        else:
            text = content.decode("utf-8", "replace")
        text = re.sub(r"\s+", " ", text).strip()
        return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"

    # -- one exchange -------------------------------------------------------------------

    def _exchange(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        """Send one signed request; return its status, body and ``Location``."""
        timestamp = str(int(self._now()))
        headers = {
            **headers,
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            self._headers.timestamp: timestamp,
            self._headers.signature: sign(self._secret, timestamp, body),
        }
        if self._key_id:
            headers[self._headers.key_id] = self._key_id
        what = f"{method} {redact_url(url)}"
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                data=body or None,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as exc:
            raise VisitorHttpTimeout(f"{what}: no answer in time ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        with response:
            content = b"" if method == "HEAD" else self._body(response, started, what)
        return response.status_code, content, response.headers.get("Location", "")

    def _body(self, response: requests.Response, started: float, what: str) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_reply_bytes:
            raise ProtocolError(f"{what}: reply of {declared} bytes is larger than {self.max_reply_bytes} bytes")
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
                    raise VisitorHttpTimeout(f"{what}: reply not complete within {self.deadline_s:g} s")
        # Reading the raw stream raises urllib3's errors, not requests' wrappers of them.
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise VisitorHttpTimeout(f"{what}: reply stalled for longer than the read timeout") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{what}: reply broken off ({type(exc).__name__})") from None
        return b"".join(chunks)


def _parse(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:  # also UnicodeDecodeError
        return _MISSING
