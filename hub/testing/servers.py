"""Servers on loopback for tests: WSGI apps (a simulator, the hub's own app) in a thread,
and upstreams that misbehave the way real ones do, which ``responses`` cannot imitate: a
peer that accepts the connection and never answers, a reply whose body trickles in, a
reply that is not what the protocol says, a port where nothing listens.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

#: Bodies of the malformed replies :class:`Misbehaving` can give, by variant: every one is
#: a ``200 OK`` whose body no protocol of the hub's adapters accepts.
MALFORMED_REPLIES: dict[str, tuple[str, bytes]] = {
    "html": ("text/html; charset=utf-8", b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"),
    "wrong_json": ("application/json", b'{"unexpected": {"shape": [1, 2, 3]}, "data": null, "result": null}'),
    "truncated_json": ("application/json", b'{"data": {"rider": {"ref": "R1'),
}


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


@dataclass
class Misbehaving:
    """A TCP server on loopback that misbehaves in one way, for every connection:

    - ``silent``: accepts the connection, reads what it is sent, never answers (a device
      that hangs, a broker that never sends CONNACK);
    - ``trickle``: answers ``200 OK`` at once with a ``Content-Length``, then sends the
      body a few bytes at a time over ``trickle_s`` seconds (each gap is short, the whole
      is long: only a deadline for the whole reply stops a client);
    - ``malformed:<variant>``: answers ``200 OK`` with one of :data:`MALFORMED_REPLIES`.

    :meth:`close` closes the listening socket and every connection, so a client still
    waiting on it (one that ignores its timeout) is released.
    """

    behaviour: str
    trickle_s: float = 30.0
    _sockets: list[socket.socket] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        kind, _, variant = self.behaviour.partition(":")
        if kind not in ("silent", "trickle", "malformed") or (kind == "malformed") != bool(variant):
            raise ValueError(f"unknown behaviour {self.behaviour!r}")
        if kind == "malformed" and variant not in MALFORMED_REPLIES:
            raise ValueError(f"unknown malformed reply {variant!r}; known: {', '.join(MALFORMED_REPLIES)}")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed.is_set():
                    sock.close()
                    return
                self._sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        kind, _, variant = self.behaviour.partition(":")
        try:
            if kind == "silent":
                sock.settimeout(0.2)
                while not self._closed.is_set():
                    try:
                        if not sock.recv(65536):
                            return
                    except TimeoutError:
                        continue
                return
            _read_request(sock)
            if kind == "trickle":
                self._trickle(sock)
            else:
                content_type, body = MALFORMED_REPLIES[variant]
                sock.sendall(_head(content_type, len(body)) + body)
                _linger_then_close(sock)
        except OSError:
            return

    def _trickle(self, sock: socket.socket) -> None:
        body = b'{"data": "' + b"x" * 400 + b'"}'
        sock.sendall(_head("application/json", len(body)))
        pause = self.trickle_s / len(body)
        for i in range(len(body)):
            if self._closed.wait(pause):
                return
            sock.sendall(body[i : i + 1])

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def _head(content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def _read_request(sock: socket.socket, patience_s: float = 0.2) -> None:
    """Read an HTTP request's head and its body (by ``Content-Length``), so that closing
    the socket afterwards does not reset the client's connection. A peer that does not
    speak HTTP (an MQTT client) is answered after ``patience_s`` of silence."""
    sock.settimeout(patience_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
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
                return
            body += chunk
    except TimeoutError:
        return
    finally:
        sock.settimeout(None)


def _linger_then_close(sock: socket.socket) -> None:
    """Close after the client had a moment to read the reply."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    deadline = time.monotonic() + 1.0
    sock.settimeout(0.1)
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    with contextlib.suppress(OSError):
        sock.close()
