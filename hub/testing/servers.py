"""Servers on loopback for tests: WSGI apps (a simulator, the hub's own app) in a thread,
and upstreams that misbehave the way real ones do, which ``responses`` cannot imitate: a
peer that accepts the connection and never answers, a reply whose body trickles in, a
reply that is not what the protocol says, an error status, a body far larger than any
reply, a port where nothing listens; and a front for a real upstream that passes its
connections through until it is told to misbehave, and recovers when told to.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, make_server

#: Bodies of the malformed replies :class:`Misbehaving` can give, by variant: every one is
#: a ``200 OK`` whose body no protocol of the hub's adapters accepts.
MALFORMED_REPLIES: dict[str, tuple[str, bytes]] = {
    "html": ("text/html; charset=utf-8", b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"),
    "wrong_json": ("application/json", b'{"unexpected": {"shape": [1, 2, 3]}, "data": null, "result": null}'),
    "truncated_json": ("application/json", b'{"data": {"rider": {"ref": "R1'),
}

#: The body of an error status (``status:<code>``): a proxy's page, as nginx writes it.
ERROR_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head><body></body></html>"

#: The size of the ``huge`` reply's body: fifty mebibytes, sent chunked (no
#: ``Content-Length`` to refuse it by), as fast as the client reads.
HUGE_BODY_BYTES = 50 * 2**20

#: The upstream faults the fault-injection checks inject, each with what the upstream
#: does (``refused``: nothing listens; the others: a :class:`Misbehaving` behaviour).
FAULTS: dict[str, str] = {
    "refused": "refused",
    "silent": "silent",
    "http_5xx": "status:503",
    "malformed_json": "malformed:truncated_json",
    "wrong_content_type": "malformed:html",
    "huge_body": "huge",
    "slow_body": "trickle",
}

#: What each fault looks like from the client's side, for failure messages.
FAULT_DESCRIPTIONS: dict[str, str] = {
    "refused": "nothing listens at the address (connection refused)",
    "silent": "the upstream accepts the connection and never answers",
    "http_5xx": "the upstream answers 503 Service Unavailable with a proxy's HTML page",
    "malformed_json": "the upstream answers 200 OK with JSON cut off in the middle",
    "wrong_content_type": "the upstream answers 200 OK with an HTML page (text/html)",
    "huge_body": f"the upstream answers 200 OK and streams a {HUGE_BODY_BYTES >> 20} MiB body, chunked",
    "slow_body": "the upstream answers 200 OK at once and trickles the body in a byte at a time",
}

#: The names of the threads of :class:`Misbehaving` servers start with this.
THREAD_PREFIX = "misbehaving"


@dataclass
class Served:
    """A WSGI app served on loopback in a thread."""

    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join(timeout=5)
            self.server.server_close()


def serve_wsgi(app: Any) -> Served:
    """Serve a WSGI app on a free loopback port, threaded, until :meth:`Served.stop`."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll keeps shutdown quick; the default half second adds up over many tests.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Served(server, thread)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_behaviour(behaviour: str, backend: str | None) -> None:
    kind, _, variant = behaviour.partition(":")
    plain = ("silent", "trickle", "huge", "refused", "pass")
    if kind in plain and not variant:
        if kind == "pass" and backend is None:
            raise ValueError("the behaviour 'pass' needs a backend to pass connections to")
        return
    if kind == "malformed" and variant in MALFORMED_REPLIES:
        return
    if kind == "status" and variant.isdigit() and 400 <= int(variant) <= 599:
        return
    raise ValueError(
        f"unknown behaviour {behaviour!r}; known: {', '.join(plain)}, status:<4xx or 5xx>, "
        f"malformed:<{'|'.join(MALFORMED_REPLIES)}>"
    )


@dataclass
class Misbehaving:
    """A TCP server on loopback that misbehaves in one way, for every connection:

    - ``silent``: accepts the connection, reads what it is sent, never answers (a device
      that hangs, a broker that never sends CONNACK);
    - ``trickle``: answers ``200 OK`` at once with a ``Content-Length``, then sends the
      body a few bytes at a time over ``trickle_s`` seconds (each gap is short, the whole
      is long: only a deadline for the whole reply stops a client);
    - ``malformed:<variant>``: answers ``200 OK`` with one of :data:`MALFORMED_REPLIES`;
    - ``status:<code>``: answers with that error status and a proxy's HTML page;
    - ``huge``: answers ``200 OK`` and streams a :data:`HUGE_BODY_BYTES` body, chunked,
      as fast as the client reads it (:attr:`most_body_sent`: how far it got);
    - ``refused``: does not listen at all (the port is kept for :meth:`switch`);
    - ``pass``: passes every connection through to ``backend`` (a real upstream, e.g. a
      simulator): a front that misbehaves only once it is switched.

    :meth:`switch` changes the behaviour for the connections that follow and drops the
    open ones (so a client's kept-alive connection meets the new behaviour too).
    :meth:`close` closes the listening socket and every connection, so a client still
    waiting on it (one that ignores its timeout) is released.
    """

    behaviour: str
    trickle_s: float = 30.0
    backend: str | None = None
    _sockets: list[socket.socket] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        _check_behaviour(self.behaviour, self.backend)
        #: Connections accepted, by the behaviour they met.
        self.connections: Counter[str] = Counter()
        #: The request line of every request a misbehaving connection read (not ``pass``).
        self.requests: list[str] = []
        #: The most bytes of a ``huge`` body sent on one connection, counted before they
        #: are sent: a client that read the whole body makes it reach HUGE_BODY_BYTES.
        self.most_body_sent = 0
        self._generation = 0
        self._listener: socket.socket | None = None
        self.port: int = closed_port() if self.behaviour == "refused" else 0
        if self.behaviour != "refused":
            self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def switch(self, behaviour: str) -> None:
        """Behave as ``behaviour`` from now on; open connections are dropped."""
        _check_behaviour(behaviour, self.backend)
        with self._lock:
            self.behaviour = behaviour
            self._generation += 1
            sockets, self._sockets = self._sockets, []
            listener = self._listener
            if behaviour == "refused":
                self._listener = None
        if behaviour == "refused" and listener is not None:
            _drop(listener)
        for sock in sockets:
            _drop(sock)
        if behaviour != "refused" and listener is None and not self._closed.is_set():
            self._listen()

    def _listen(self) -> None:
        # SO_REUSEADDR (create_server's default here) lets a recovering front take its
        # port back at once, past the connections of its earlier life.
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        name = f"{THREAD_PREFIX} accept :{self.port}"
        threading.Thread(target=self._accept, args=(listener,), name=name, daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed.is_set():
                    sock.close()
                    return
                self._sockets.append(sock)
                behaviour, generation = self.behaviour, self._generation
                self.connections[behaviour] += 1
            name = f"{THREAD_PREFIX} {behaviour} :{self.port}"
            threading.Thread(target=self._serve, args=(sock, behaviour, generation), name=name, daemon=True).start()

    def _serve(self, sock: socket.socket, behaviour: str, generation: int) -> None:
        kind, _, variant = behaviour.partition(":")
        try:
            if kind == "refused":  # accepted as the listener was closing: turned away
                return
            if kind == "pass":
                self._pass(sock, generation)
                return
            if kind == "silent":
                self._listen_silently(sock)
                return
            self._note(_read_request(sock))
            if kind == "trickle":
                self._trickle(sock)
            elif kind == "huge":
                self._huge(sock)
            else:
                if kind == "status":
                    head = _head("text/html", len(ERROR_PAGE), f"{variant} {_REASONS.get(int(variant), 'Error')}")
                    sock.sendall(head + ERROR_PAGE)
                else:
                    content_type, body = MALFORMED_REPLIES[variant]
                    sock.sendall(_head(content_type, len(body)) + body)
                _linger_then_close(sock)
        except OSError:
            return
        finally:
            self._forget(sock)

    def _note(self, request: bytes) -> None:
        line = request.partition(b"\r\n")[0].decode("latin-1")
        if line:
            with self._lock:
                self.requests.append(line)

    def _listen_silently(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        received = b""
        while not self._closed.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            if b"\r\n" not in received:
                received += chunk[:4096]
                if b"\r\n" in received:
                    self._note(received)

    def _trickle(self, sock: socket.socket) -> None:
        body = b'{"data": "' + b"x" * 400 + b'"}'
        sock.sendall(_head("application/json", len(body)))
        pause = self.trickle_s / len(body)
        for i in range(len(body)):
            if self._closed.wait(pause):
                return
            sock.sendall(body[i : i + 1])

    def _huge(self, sock: socket.socket) -> None:
        sock.sendall(_head("application/json", None))
        piece = 1 << 16
        data = b'{"data": "' + b"x" * (piece - 10)
        sent = 0
        while sent < HUGE_BODY_BYTES:
            if self._closed.is_set():
                return
            sent += len(data)
            with self._lock:
                self.most_body_sent = max(self.most_body_sent, sent)
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            data = b"x" * min(piece, HUGE_BODY_BYTES - sent)
        sock.sendall(b"0\r\n\r\n")
        _linger_then_close(sock)

    def _pass(self, sock: socket.socket, generation: int) -> None:
        address = urlsplit(self.backend or "")
        try:
            upstream = socket.create_connection((address.hostname, address.port or 80), timeout=5)
        except OSError:
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_READ, upstream)
                selector.register(upstream, selectors.EVENT_READ, sock)
                while not self._closed.is_set() and self._generation == generation:
                    for key, _ in selector.select(timeout=0.2):
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
        except OSError:
            return
        finally:
            self._forget(upstream)
            _drop(upstream)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._sockets.remove(sock)
        _close_quietly(sock)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            _drop(listener)
        for sock in sockets:
            _drop(sock)


_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _drop(sock: socket.socket) -> None:
    """Shut a socket down and close it: a listening one's ``accept`` blocked in another
    thread returns (closing alone leaves it listening until a connection comes)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    _close_quietly(sock)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _head(content_type: str, length: int | None, status: str = "200 OK") -> bytes:
    size = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{size}\r\nConnection: close\r\n\r\n".encode("ascii")


def _read_request(sock: socket.socket, patience_s: float = 0.2) -> bytes:
    """Read an HTTP request's head and its body (by ``Content-Length``), so that closing
    the socket afterwards does not reset the client's connection; what was read. A peer
    that does not speak HTTP (an MQTT client) is answered after ``patience_s`` of
    silence."""
    sock.settimeout(patience_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            body += chunk
    except TimeoutError:
        return data
    finally:
        sock.settimeout(None)
    return data


def _linger_then_close(sock: socket.socket) -> None:
    """Close after the client had a moment to read the reply."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + 1.0
    sock.settimeout(0.1)
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    _close_quietly(sock)
