"""Every request gets a request id (see :mod:`hub.core.logs`): the client's sane
``X-Request-ID``, or a new one. It is current while the request is handled — in the
views, the entry engine's upstream threads, the outbox rows the request enqueues — and
returned in the response's ``X-Request-ID`` header, errors included.

It wraps the WSGI app rather than hooking into Flask, so it also covers what runs
before Flask's request handling and its error pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hub.core.logs import REQUEST_ID_HEADER, new_request_id, request_id_scope, sane_request_id

_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


class RequestIdMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = sane_request_id(environ.get(_ENVIRON_KEY)) or new_request_id()
        environ["last100.request_id"] = request_id

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [(name, value) for name, value in headers if name.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        with request_id_scope(request_id):
            return self.app(environ, start)
