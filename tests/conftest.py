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
