"""The Flask application factory.

Configuration comes from :mod:`hub.core.config` (defaults, the instance's
``last100.toml``, ``LAST100_*`` variables); ``test_config`` overrides it in tests.
The running hub (storage, plugins, engine) is kept in ``app.extensions["last100"]``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.core.config import load_config
from hub.runtime import Runtime, build_runtime
from hub.web import api, i18n, rider, screen
from hub.web.context import runtime_of
from hub.web.errors import register_error_handlers

#: Pushes and API bodies are small; anything larger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(load_config(**(test_config or {})))
    app = Flask(__name__, instance_path=str(runtime.config.instance_path.resolve()))
    app.config.update(SECRET_KEY=runtime.config.secret_key, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.extensions["last100"] = runtime
    app.json.ensure_ascii = False
    if runtime.config.trusted_proxies:
        # Behind a reverse proxy, URLs (which some platforms sign) are the ones the sender used.
        n = runtime.config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    register_error_handlers(app)
    i18n.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(rider.bp)
    app.register_blueprint(screen.bp)

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/healthz", "healthz", healthz)
    return app


def index() -> str:
    rt = runtime_of()
    communities = rt.store.list_communities()
    gates = {c.id: rt.store.list_gates(c.id) for c in communities}
    return render_template(
        "index.html",
        communities=communities,
        gates=gates,
        connections=rt.store.list_connections(),
        plugins=rt.hub.plugins(),
        failures=rt.hub.load_failures,
    )


def healthz():
    rt = runtime_of()
    revision = rt.store.current_revision()
    return jsonify(status="ok" if revision else "not_migrated", schema=revision), 200 if revision else 503
