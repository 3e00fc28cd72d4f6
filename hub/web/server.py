"""Serving the hub in production: one waitress process, or several gunicorn workers.

One process is the portable default (waitress runs everywhere). A process decides
entries one at a time as far as Python is concerned (the GIL), so on a machine with
several cores ``workers`` > 1 runs that many processes under gunicorn's ``gthread``
worker, each with ``threads`` threads, sharing the listening socket. Workers share
nothing but the database (and Redis for rate limits, where configured): each builds its
own runtime after the fork, so no connection pool, client session or lock crosses a
process. The scheduler is never part of a web process (``last100 scheduler``).

Gunicorn runs on Unix only and is an optional dependency (``pip install
'last100-hub[server]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from flask import Flask

from hub.core.config import Config
from hub.core.errors import HubError


class ServerError(HubError):
    code = "server_error"


def serve(config: Config, make_app: Callable[[], Flask], *, announce: Callable[[str], None] = print) -> None:
    """Serve until stopped (Ctrl+C or SIGTERM) with ``config.workers`` processes of
    ``config.threads`` threads on ``config.host:config.port``.

    :raises ServerError: fewer than one worker or thread, or several workers without
        gunicorn.
    """
    for name in ("workers", "threads"):
        if getattr(config, name) < 1:
            raise ServerError(f"{name} must be 1 or more, not {getattr(config, name)}")
    announce(
        f"Serving on http://{config.host}:{config.port}/ with {config.workers} "
        f"process{'es' if config.workers > 1 else ''} × {config.threads} threads (Ctrl+C to stop)"
    )
    if config.workers == 1:
        import waitress

        with contextlib.suppress(KeyboardInterrupt):  # waitress usually handles Ctrl+C itself
            waitress.serve(make_app(), host=config.host, port=config.port, threads=config.threads, ident="last100")
    else:
        _gunicorn(config, make_app).run()
    announce("Stopped")


def _gunicorn(config: Config, make_app: Callable[[], Flask]) -> Any:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError as exc:  # not installed, or not Unix (fcntl)
        raise ServerError(
            f"workers = {config.workers} needs gunicorn, which is not available here ({exc}); "
            "install it with: pip install 'last100-hub[server]' (Unix only), or serve with workers = 1"
        ) from None

    class Workers(BaseApplication):  # type: ignore[misc]
        """Gunicorn with its settings from the hub's configuration, not its command line."""

        def load_config(self) -> None:
            settings = {
                "bind": f"{config.host}:{config.port}",
                "workers": config.workers,
                "worker_class": "gthread",
                "threads": config.threads,
                # Each worker builds its own runtime: nothing is shared across a fork.
                "preload_app": False,
                "proc_name": "last100",
                # A decision waits for upstreams at most their timeouts; a request that
                # holds a worker this long is stuck.
                "timeout": 120,
                "graceful_timeout": 30,
                "keepalive": 75,
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            return make_app()

    return Workers()
