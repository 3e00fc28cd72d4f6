"""Log lines as text or JSON, and the request id that follows a request from the API
through the upstream threads to the outbox and its delivery (hub/core/logs.py)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from hub.core import outbox as queue
from hub.core.config import ConfigError, load_config
from hub.core.delivery import deliver_due
from hub.core.errors import UpstreamError
from hub.core.logs import (
    configure_logging,
    current_request_id,
    make_handler,
    new_request_id,
    request_id_scope,
    sane_request_id,
)
from hub.core.outbox import OutboxItem

log = logging.getLogger(__name__)


@pytest.fixture
def json_log() -> Iterator[Callable]:
    """``json_log()``: the JSON lines the hub's handler wrote during the test (from
    DEBUG up, for the loggers of the hub and of the tests)."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in ("hub", "tests")]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def outbox_rows(world) -> list[tuple[str, str | None]]:
    with world.store.transaction() as session:
        return [tuple(r) for r in session.execute(text("SELECT kind, request_id FROM outbox ORDER BY id"))]


# -- the id --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "abc-123_X.y", "0" * 64, "3f2a9c1e-7d4b-4e8a-9a51-0c6f1b2d3e4f"])
def test_a_sane_request_id_is_kept(value):
    assert sane_request_id(value) == value


@pytest.mark.parametrize(
    "value", [None, "", "0" * 65, "two words", "a/b", "id\n", "ünïcode", "<script>", "a;b", "x" * 1000]
)
def test_anything_else_is_no_request_id(value):
    assert sane_request_id(value) is None


def test_a_new_request_id_is_a_uuid4_hex():
    made = {new_request_id() for _ in range(100)}
    assert len(made) == 100
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) and rid[12] == "4" for rid in made)


def test_a_scope_sets_the_id_and_puts_back_the_one_before():
    assert current_request_id() is None
    with request_id_scope("outer"):
        with request_id_scope("inner"):
            assert current_request_id() == "inner"
        assert current_request_id() == "outer"
    assert current_request_id() is None


# -- the response header ------------------------------------------------------------------------


def test_a_request_without_an_id_gets_a_new_one_in_the_response(api):
    first = api.client.get("/healthz")
    second = api.client.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert current_request_id() is None  # nothing of the request stays in this thread


def test_a_sane_incoming_id_is_returned_as_it_came(api):
    reply = api.client.get("/healthz", headers={"X-Request-ID": "lb-42.a_b"})
    assert reply.headers.get_all("X-Request-ID") == ["lb-42.a_b"]


@pytest.mark.parametrize("sent", ["x" * 65, "has space", "semi;colon", ""])
def test_an_insane_incoming_id_is_replaced(api, sent):
    reply = api.client.get("/healthz", headers={"X-Request-ID": sent})
    assert re.fullmatch(r"[0-9a-f]{32}", reply.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/no/such/page", 404), ("post", "/api/v1/entries", 401), ("get", "/api/v1/openapi.json", 200)],
)
def test_every_answer_carries_the_id_errors_too(api, method, path, status):
    reply = getattr(api.client, method)(path, headers={"X-Request-ID": "req-7"})
    assert reply.status_code == status
    assert reply.headers["X-Request-ID"] == "req-7"


# -- end to end: API -> upstream thread -> outbox -> delivery -------------------------------------


def test_an_adapters_log_line_in_the_upstream_thread_carries_the_entrys_request_id(api, json_log):
    api.world.platform.before["hub_verify_rider"] = lambda: log.info("adapter verifying")

    headers = api.headers(**{"X-Request-ID": "entry-req-1"})
    reply = api.client.post("/api/v1/entries", json=api.entry_body(), headers=headers)

    assert reply.status_code == 201 and reply.headers["X-Request-ID"] == "entry-req-1"
    [line] = [r for r in json_log() if r["message"] == "adapter verifying"]
    assert line["request_id"] == "entry-req-1"
    assert line["thread"].startswith("last100-upstream")  # really in the pool's thread
    assert line["logger"] == __name__ and line["level"] == "INFO"


def test_a_generated_id_reaches_the_upstream_thread_too(api, json_log):
    api.world.platform.before["hub_verify_rider"] = lambda: log.info("adapter verifying")

    reply = api.post_entry()

    [line] = [r for r in json_log() if r["message"] == "adapter verifying"]
    assert line["request_id"] == reply.headers["X-Request-ID"]


def test_the_outbox_row_keeps_the_request_id_and_its_delivery_logs_under_it(api, world, json_log):
    reply = api.client.post(
        "/api/v1/entries", json=api.entry_body(), headers=api.headers(**{"X-Request-ID": "entry-req-2"})
    )
    assert reply.json["decision"] == "granted"
    with request_id_scope("another-request"), world.store.transaction() as session:  # other work: its own id
        queue.enqueue(session, [OutboxItem("no_such_kind", "plat", {}, "odd-1")], world.clock.now())
    with world.store.transaction() as session:  # and outside of any request: none
        queue.enqueue(session, [OutboxItem("no_such_kind", "plat", {}, "odd-2")], world.clock.now())

    assert outbox_rows(world) == [
        ("notify_rider", "entry-req-2"),
        ("no_such_kind", "another-request"),
        ("no_such_kind", None),
    ]

    report = deliver_due(world.hub, world.store, world.clock)

    assert (report.delivered, report.dead) == (1, 2)
    assert world.platform.notices  # the notice really went out
    lines = [r for r in json_log() if r["logger"] == "hub.core.delivery"]
    assert len(lines) == 3, lines
    delivered = next(r for r in lines if "notify_rider" in r["message"])
    assert "delivered" in delivered["message"] and delivered["request_id"] == "entry-req-2"
    dead = sorted((r["request_id"] or "", r["level"]) for r in lines if "is dead" in r["message"])
    assert dead == [("", "ERROR"), ("another-request", "ERROR")]
    assert current_request_id() is None  # the deliverer put its ids back


class DownList(list):
    """Where the fake platform keeps its notices: down, each append fails."""

    def append(self, item) -> None:
        raise UpstreamError("sms gateway answered 503")


def test_a_failed_delivery_logs_its_retry_under_the_id_of_the_entry(api, world, json_log, monkeypatch):
    api.client.post("/api/v1/entries", json=api.entry_body(), headers=api.headers(**{"X-Request-ID": "entry-req-3"}))
    monkeypatch.setattr(world.platform, "notices", DownList())

    report = deliver_due(world.hub, world.store, world.clock)

    assert report.retried == 1
    [line] = [r for r in json_log() if r["logger"] == "hub.core.delivery"]
    assert line["level"] == "WARNING" and "sms gateway answered 503" in line["message"]
    assert line["request_id"] == "entry-req-3"


# -- formats ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def captured(name: str, log_format: str) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing through the hub's handler in ``log_format``, and
    what it wrote."""
    stream = io.StringIO()
    logger = logging.getLogger(name)
    handler = make_handler(log_format, stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_json_line_is_one_object_with_the_standard_fields_and_extras():
    with captured("tests.json_format", "json") as (logger, stream):
        with request_id_scope("json-1"):
            logger.warning("gate %s is slow", "north", extra={"connection": "plat"})
        logger.warning("outside")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")

    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "gate north is slow"
    assert (first["level"], first["logger"], first["request_id"], first["connection"]) == (
        "WARNING",
        "tests.json_format",
        "json-1",
        "plat",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", first["timestamp"])
    assert isinstance(first["process"], int) and first["thread"]
    assert second["request_id"] is None
    assert "ValueError: boom" in third["exc_info"]


def test_a_text_line_shows_the_request_id_or_a_dash():
    with captured("tests.text_format", "text") as (logger, stream):
        with request_id_scope("text-1"):
            logger.warning("inside")
        logger.warning("outside")

    inside, outside = stream.getvalue().splitlines()
    assert inside.endswith(" WARNING tests.text_format [text-1]: inside")
    assert outside.endswith(" WARNING tests.text_format [-]: outside")


def test_log_format_comes_from_the_configuration_and_is_checked(tmp_path):
    assert load_config(tmp_path, env={}).log_format == "text"
    assert load_config(tmp_path, env={"LAST100_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match=r"setting 'log_format': expected one of 'text', 'json', got 'xml'"):
        load_config(tmp_path, env={"LAST100_LOG_FORMAT": "xml"})
    (tmp_path / "last100.toml").write_text('log_format = "JSON"\n')
    with pytest.raises(ConfigError, match="log_format"):
        load_config(tmp_path, env={})
    with pytest.raises(ConfigError, match="log_format"):
        configure_logging("yaml")


def test_configuring_leaves_a_root_logger_that_has_handlers_alone():
    root = logging.getLogger()
    before = list(root.handlers)
    assert before  # pytest's own
    configure_logging("json")
    assert root.handlers == before
    assert logging.getLogger("apscheduler").level == logging.WARNING
