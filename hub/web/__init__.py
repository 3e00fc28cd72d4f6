"""The Flask application factory.

Configuration comes from :mod:`hub.core.config` (defaults, the instance's
``last100.toml``, ``LAST100_*`` variables); ``test_config`` overrides it in tests.
The running hub (storage, plugins, engine) is kept in ``app.extensions["last100"]``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template

from hub.core.config import load_config
from hub.runtime import Runtime, build_runtime


def create_app(test_config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = build_runtime(load_config(**(test_config or {})))
    app = Flask(__name__, instance_path=str(runtime.config.instance_path.resolve()))
    app.config.update(SECRET_KEY=runtime.config.secret_key, JSON_AS_ASCII=False)
    app.extensions["last100"] = runtime
    app.json.ensure_ascii = False

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/healthz", "healthz", healthz)
    return app


def runtime_of() -> Runtime:
    return current_app.extensions["last100"]


def index() -> str:
    rt = runtime_of()
    communities = rt.store.list_communities()
    gates = {c.id: rt.store.list_gates(c.id) for c in communities}
    return render_template(
        "index.html", communities=communities, gates=gates, plugins=rt.hub.plugins(), failures=rt.hub.load_failures
    )


def healthz():
    rt = runtime_of()
    revision = rt.store.current_revision()
    return jsonify(status="ok" if revision else "not_migrated", schema=revision), 200 if revision else 503
