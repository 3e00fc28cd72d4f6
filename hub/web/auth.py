"""API-key authentication for the JSON API.

A client sends its key as ``Authorization: Bearer <key>`` (or ``X-Api-Key: <key>``).
A missing, malformed, unknown or revoked key gets ``401 unauthorized`` with a
``WWW-Authenticate: Bearer`` challenge; all of them get the same answer, so the reply
never says whether a key exists. What the key may do (its scope) is checked by each view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from hub.core import apikeys
from hub.core.apikeys import ApiKey
from hub.web.context import runtime_of
from hub.web.errors import api_error

REALM = "last100"


def presented_key() -> str | None:
    """The key the request carries, if any (``Authorization`` first)."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-Api-Key", "").strip() or None


def unauthorized(message: str, *, presented: bool) -> Response:
    response = api_error(401, "unauthorized", message)
    challenge = f'Bearer realm="{REALM}"'
    if presented:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def forbidden(message: str) -> Response:
    return api_error(403, "forbidden", message)


def current_key() -> ApiKey:
    """The key of the request being served (only inside an :func:`api_key_required` view)."""
    return g.api_key


def request_key() -> ApiKey | None:
    """The active API key the request carries, or ``None``: authenticated once per
    request (the rate limits, which run before the view, ask too)."""
    if "api_key_checked" not in g:
        presented = presented_key()
        key = None
        if presented is not None:
            rt = runtime_of()
            key = apikeys.authenticate(rt.store, presented, rt.clock.now())
        g.api_key_checked = key
    return g.api_key_checked


def api_key_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the view only to a request with an active API key (kept in ``g.api_key``)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if presented_key() is None:
            return unauthorized("send an API key: Authorization: Bearer <key>", presented=False)
        key = request_key()
        if key is None:
            return unauthorized("this API key is not valid (unknown, mistyped or revoked)", presented=True)
        g.api_key = key
        return view(*args, **kwargs)

    return guarded
