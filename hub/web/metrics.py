"""``GET /metrics``: the Prometheus metrics of :mod:`hub.core.metrics`.

Like ``/healthz`` it is for machines: no console login, no rate limit, not in the
API's OpenAPI document. With ``metrics_token`` set it needs ``Authorization: Bearer
<metrics_token>`` (compared in constant time; anything else gets ``401``); empty, it is
open — keep it then to a network only Prometheus reaches.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from flask import Flask, Response, current_app, request

from hub.core import metrics
from hub.plugins import Resilience, find_builtin
from hub.runtime import Runtime
from hub.web.context import runtime_of

EXTENSION = "last100.metrics"


def init_app(app: Flask, runtime: Runtime) -> None:
    def circuits() -> Mapping[str, str]:
        try:
            resilience = find_builtin(runtime.hub.pm.get_plugins(), Resilience)
        except LookupError:  # the built-in was disabled: no breakers
            return {}
        return resilience.states()

    def connections() -> list[str]:
        return [c.id for c in runtime.store.list_connections()]

    app.extensions[EXTENSION] = metrics.HubCollector(runtime.store, circuits, connections)
    app.add_url_rule("/metrics", "metrics", metrics_view)


def _authorized(token: str) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def metrics_view() -> Response:
    token = runtime_of().config.metrics_token
    if token and not _authorized(token):
        return Response(
            "metrics need Authorization: Bearer <metrics_token>\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="last100 metrics"'},
            mimetype="text/plain",
        )
    body, content_type = metrics.exposition([current_app.extensions[EXTENSION]])
    return Response(body, 200, {"Cache-Control": "no-store"}, content_type=content_type)
