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

With several workers the Prometheus metrics are counted in files that ``/metrics`` adds
up (see :mod:`hub.core.metrics`): before gunicorn starts, ``PROMETHEUS_MULTIPROC_DIR``
is emptied (or, when unset, a temporary directory is made, and removed when the server
stops), and each worker that exits is marked dead (``child_exit``). Gunicorn's own log
lines go through the hub's log handlers, in the configured ``log_format``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from flask import Flask

from hub.core import metrics
from hub.core.config import Config
from hub.core.errors import HubError
from hub.core.logs import gunicorn_logger_class


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
    if config.worker_max_requests < 0:
        raise ServerError(f"worker_max_requests must be 0 (never) or more, not {config.worker_max_requests}")
    announce(
        f"Serving on http://{config.host}:{config.port}/ with {config.workers} "
        f"process{'es' if config.workers > 1 else ''} × {config.threads} threads (Ctrl+C to stop)"
    )
    if config.workers == 1:
        import waitress

        if metrics.multiprocess_dir():  # set by the operator all the same: no stale counts
            metrics.prepare_multiprocess_dir()

        with contextlib.suppress(KeyboardInterrupt):  # waitress usually handles Ctrl+C itself
            waitress.serve(make_app(), host=config.host, port=config.port, threads=config.threads, ident="last100")
    else:
        workers = _gunicorn(config, make_app)  # before the metrics directory: gunicorn may be missing
        directory, made = metrics.prepare_multiprocess_dir()
        announce(f"Prometheus metrics of the workers are counted in {directory}")
        master = os.getpid()
        try:
            workers.run()
        finally:
            # Workers leave through here too (gunicorn ends them with SystemExit): only
            # the master, the process that made the directory, removes it.
            if made and os.getpid() == master:
                metrics.remove_multiprocess_dir(directory)
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
                # A fresh worker now and then returns the memory the allocator kept.
                "max_requests": config.worker_max_requests,
                "max_requests_jitter": config.worker_max_requests // 10,
                # A worker that exits leaves its metrics files; its live gauges go.
                "child_exit": _child_exit,
                "logger_class": gunicorn_logger_class(),
            }
            for name, value in settings.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            return make_app()

    return Workers()


def _child_exit(server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid)
