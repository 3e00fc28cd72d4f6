"""Log lines as text or JSON, each carrying the id of the request that caused it.

A **request id** names one request from the API to its side effects: the web app takes
it from a sane ``X-Request-ID`` header (1–64 characters of ``A-Z a-z 0-9 . _ -``) or
makes one (a uuid4's hex), keeps it in a context variable for the request and returns it
in the response's ``X-Request-ID`` header (:mod:`hub.web.request_id`). Work handed to
the entry engine's upstream thread pool runs in a copy of the request's context
(:func:`contextvars.copy_context`), so an adapter's log lines carry the id too. Each
outbox row records the id of the request that enqueued it, and the delivery job runs
each item under that id (:mod:`hub.core.delivery`): a notice sent a minute later logs
with the id of the entry that caused it.

:class:`RequestIdFilter`, on the handlers :func:`configure_logging` installs, adds the
current id to every record as ``request_id`` (absent outside a request: ``-`` in text,
``null`` in JSON). ``log_format`` (see :mod:`hub.core.config`) picks the format:

- ``text``: ``2026-01-05 12:00:00,123 INFO hub.core.delivery [3f2a…]: message``
- ``json``: one object per line with ``timestamp`` (ISO 8601, UTC), ``level``,
  ``logger``, ``message``, ``request_id``, ``process``, ``thread``, any ``extra``
  fields, and ``exc_info`` for an exception.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import IO, Any

from hub.core.config import ConfigError

#: The header a request id comes in and goes back out in.
REQUEST_ID_HEADER = "X-Request-ID"
LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
#: The JSON fields of every line (renamed as :data:`_JSON_NAMES` says), before extras.
JSON_FIELDS = ("levelname", "name", "message", "request_id", "process", "threadName")
_JSON_NAMES = {"levelname": "level", "name": "logger", "threadName": "thread"}
#: Libraries that log each of their steps; the hub logs what matters of them itself.
QUIET_LOGGERS = ("apscheduler", "alembic")

_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_request_id: ContextVar[str | None] = ContextVar("last100_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled (or whose outbox item is being delivered)."""
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it may serve as a request id (1–64 of ``A-Za-z0-9._-``), else
    ``None``: anything else a client sends is ignored, never logged."""
    if value and _SANE.fullmatch(value):
        return value
    return None


@contextlib.contextmanager
def request_id_scope(request_id: str | None) -> Iterator[str | None]:
    """Make ``request_id`` current for the enclosed block (``None``: no id), then put
    back the one before."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current one) to every record that has none; put it on
    handlers, so records propagated from any logger get it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = _request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True


def check_log_format(log_format: str) -> str:
    """:raises ConfigError: ``log_format`` is neither ``text`` nor ``json``."""
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"setting 'log_format': expected one of 'text', 'json', got {log_format!r}")
    return log_format


def make_formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format`` (``text`` or ``json``)."""
    if check_log_format(log_format) == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(list(JSON_FIELDS), rename_fields=_JSON_NAMES, timestamp=True)
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing ``log_format`` lines, each with its request id, to ``stream``
    (default: stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Log to stderr in ``log_format`` from ``level`` up, as the CLI's long-running
    commands do (``serve``, ``scheduler``, ``demo``).

    Like :func:`logging.basicConfig`, it leaves a root logger that already has handlers
    alone (a test runner's, an embedding program's).

    :raises ConfigError: an unknown ``log_format``.
    """
    handler = make_handler(log_format)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(level)
    for quiet in QUIET_LOGGERS:
        logging.getLogger(quiet).setLevel(logging.WARNING)


def gunicorn_logger_class() -> Any:
    """Gunicorn's logger, sending its own lines (``gunicorn.error``: workers booting,
    exiting, timing out) through the root logger's handlers instead of its own, so they
    are in the configured format too. Its access log stays off (as before)."""
    from gunicorn.glogging import Logger

    class HubLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            if logging.getLogger().handlers:
                for handler in list(self.error_log.handlers):
                    self.error_log.removeHandler(handler)
                self.error_log.propagate = True

    return HubLogger
