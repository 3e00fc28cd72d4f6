"""Fixtures shared by the console's tests (``cw``, ``store``, ``sign_in``: a console
world of tests.console_world, signed in by role) and by the browser tests (the rider
page's and the console's).

Browsers cannot be downloaded here, so ``playwright install`` is never run: the tests use
the chromium at ``LAST100_CHROMIUM`` (default: ``chromium`` on the PATH) and skip, saying
why, when there is none, unless ``LAST100_REQUIRE_BROWSER=1`` (set in CI), which makes
that a failure. Screenshots are kept under ``LAST100_ARTIFACTS`` (default: the test's
tmp_path), one folder per test. One browser serves the whole session: Playwright's sync
API runs one instance per process.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]

#: Each role of the console's tests, as a user of tests.console_world.
ROLE_USERS = {"operator": "olga", "manager_a": "anna", "manager_b": "bert", "guard": "gus"}


@pytest.fixture
def cw(tmp_path):
    """A console world (tests.console_world); a test module may override it to add to it."""
    from tests.console_world import build_console_world

    world = build_console_world(tmp_path)
    yield world
    world.close()


@pytest.fixture
def store(cw):
    return cw.store


@pytest.fixture
def sign_in(cw):
    """``sign_in(role)``: a client signed in through the real form as that role's user."""

    def signed_in(who: str):
        return cw.sign_in(ROLE_USERS[who])

    return signed_in


def _unavailable(reason: str) -> None:
    if os.environ.get("LAST100_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LAST100_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = os.environ.get("LAST100_CHROMIUM") or shutil.which("chromium")
    if not executable or not Path(executable).exists():
        _unavailable("no chromium found: install Debian's chromium or set LAST100_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts(request, tmp_path) -> Path:
    base = Path(os.environ["LAST100_ARTIFACTS"]) if os.environ.get("LAST100_ARTIFACTS") else tmp_path
    folder = base / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- Redis (rate limits, shared state) ------------------------------------------------------
# Tests that need Redis run against the real server (LAST100_TEST_REDIS_URL, default the
# local one), each under a key prefix of its own, and skip, saying why, when it cannot be
# reached, unless LAST100_REQUIRE_REDIS=1 (set in CI), which makes that a failure.


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("LAST100_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        message = f"Redis not reachable at {url}: {exc}"
        if os.environ.get("LAST100_REQUIRE_REDIS") == "1":
            pytest.fail(f"{message} (LAST100_REQUIRE_REDIS=1)")
        pytest.skip(message)
    return url


@pytest.fixture
def redis_state(redis_url):
    """``redis_state(clock=None)``: a ``RedisSharedState`` on the test Redis, under a key
    prefix of this test's own (``redis_state.prefix``); several calls share the prefix, as
    several processes of one deployment do. The prefix's keys are deleted afterwards."""
    import uuid

    import redis

    from hub.core.shared import RedisSharedState

    made: list[RedisSharedState] = []
    prefix = f"test-{uuid.uuid4().hex}"

    def make(clock=None) -> RedisSharedState:
        state = RedisSharedState.from_url(redis_url, prefix, clock=clock)
        made.append(state)
        return state

    make.prefix = prefix
    yield make
    for state in made:
        state.close()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["process", "redis"])
def shared_state(request):
    """The hub's shared state, once kept in the process and once in Redis (see
    ``redis_state``), for tests that must hold for both backends."""
    from hub.core.shared import SharedState

    if request.param == "process":
        return SharedState()
    return request.getfixturevalue("redis_state")()


# -- RabbitMQ (Celery workers) ------------------------------------------------------------------
# Tests that need RabbitMQ run against the real server (LAST100_TEST_RABBITMQ_URL, default
# the local one, guest/guest), each on queues of its own, and skip, saying why, when it
# cannot be reached, unless LAST100_REQUIRE_RABBITMQ=1 (set in CI), which makes that a
# failure.


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    url = os.environ.get("LAST100_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        message = f"RabbitMQ not reachable at {url}: {exc}"
        if os.environ.get("LAST100_REQUIRE_RABBITMQ") == "1":
            pytest.fail(f"{message} (LAST100_REQUIRE_RABBITMQ=1)")
        pytest.skip(message)
    return url
