"""The Flask application factory.

Configuration comes from :mod:`hub.core.config` (defaults, the instance's
``last100.toml``, ``LAST100_*`` variables); ``test_config`` overrides it in tests.
The running hub (storage, plugins, engine) is kept in ``app.extensions["last100"]``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.core import urlpolicy
from hub.core.config import load_config
from hub.runtime import Runtime, build_runtime
from hub.web import admin, api, i18n, limits, metrics, rider, screen
from hub.web.admin.auth import ABSOLUTE_TIMEOUT
from hub.web.context import runtime_of
from hub.web.errors import register_error_handlers
from hub.web.request_id import RequestIdMiddleware

#: Pushes and API bodies are small; anything larger is refused before it is read.
MAX_BODY_BYTES = 1024 * 1024

#: Every form needs its token, except where requests authenticate otherwise: the API
#: (API keys, signed pushes) and the rider and gate-screen pages (their own signed tokens).
csrf = CSRFProtect()
for _exempt in (api.bp, rider.bp, screen.bp):
    csrf.exempt(_exempt)


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(load_config(**(test_config or {})))
    # This process calls the deployment's connections: only where the configuration allows.
    urlpolicy.install(urlpolicy.UrlPolicy.from_config(runtime.config))
    app = Flask(__name__, instance_path=str(runtime.config.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=runtime.config.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # The console's session cookie: never readable by scripts, not sent on other
        # sites' POSTs, and only over HTTPS when the hub is served over HTTPS.
        SESSION_COOKIE_NAME="last100_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=runtime.config.public_url.lower().startswith("https://"),
        # A form's token lasts as long as a console session may.
        WTF_CSRF_TIME_LIMIT=int(ABSOLUTE_TIMEOUT.total_seconds()),
    )
    app.extensions["last100"] = runtime
    app.json.ensure_ascii = False
    # "/g//report" is no gate's page: a 404, not a redirect to another address.
    app.url_map.merge_slashes = False
    if runtime.config.trusted_proxies:
        # Behind a reverse proxy, URLs (which some platforms sign) are the ones the sender used.
        n = runtime.config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    # Every request has an id (X-Request-ID in and out) that its log lines and outbox items carry.
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)
    register_error_handlers(app)
    i18n.init_app(app)
    csrf.init_app(app)
    admin.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(rider.bp)
    app.register_blueprint(screen.bp)
    limits.init_app(app, runtime.config)  # wraps the limited views: after the blueprints

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/healthz", "healthz", healthz)
    metrics.init_app(app, runtime)  # /metrics: no login, no rate limit, like /healthz
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
