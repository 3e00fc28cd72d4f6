"""The docs check themselves: every hook documented, generated docs current, every hook
tested (after datasette's ``test_docs.py`` and ``test_plugin_hooks_have_tests``)."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest

from hub import hookref
from hub.core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
HOOKS_MD = ROOT / "docs" / "hooks.md"
STALE = "docs/hooks.md is stale: run python -m hub.hookref > docs/hooks.md"


def _spec_hooks() -> dict[str, object]:
    """Every hook spec, found by pluggy itself (not by hookref, which is under test)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    return {
        name: getattr(hookspecs, name) for name in dir(hookspecs) if pm.parse_hookspec_opts(hookspecs, name) is not None
    }


HOOKS = _spec_hooks()


def _prose(name: str) -> str:
    """The docstring up to its example."""
    doc = inspect.getdoc(HOOKS[name]) or ""
    return doc.split("Example::")[0]


def test_the_spec_module_defines_hooks():
    assert "hub_verify_rider" in HOOKS
    assert len(HOOKS) >= 18


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_docstring_states_arguments_return_value_and_example(name):
    doc = inspect.getdoc(HOOKS[name])
    assert doc, f"{name} has no docstring"
    prose = _prose(name)
    for param in inspect.signature(HOOKS[name]).parameters:
        assert f":param {param}:" in prose, f"{name}'s docstring does not describe {param!r}"
    assert ":return:" in prose or "returns nothing" in prose.lower(), (
        f"{name}'s docstring says nothing about what it returns"
    )
    assert re.search(r"^Example::\n\n    \S", doc, re.M), f"{name}'s docstring has no 'Example::' block"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_docstring_says_first_result_wins_exactly_when_the_spec_does(name):
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    firstresult = bool(pm.parse_hookspec_opts(hookspecs, name).get("firstresult"))
    says_so = "first non-``none`` result wins" in " ".join(_prose(name).lower().split())
    assert says_so == firstresult, (
        f"{name}: firstresult={firstresult}, but the docstring "
        f"{'says' if says_so else 'does not say'} 'First non-``None`` result wins'"
    )


def test_capability_hooks_are_the_first_result_hooks_that_take_a_connection():
    # Broadcasts that mention a connection (hub_push_received) reach every plugin.
    routed = {
        name
        for name, func in HOOKS.items()
        if "connection" in inspect.signature(func).parameters
        and getattr(func, f"{hookspecs.PROJECT}_spec")["firstresult"]
    }
    assert set(hookspecs.CAPABILITY_HOOKS) == routed


def test_hooks_md_is_generated_from_the_spec():
    assert HOOKS_MD.is_file(), STALE
    assert HOOKS_MD.read_text(encoding="utf-8") == hookref.render(), STALE


def test_hookref_main_prints_the_reference():
    result = subprocess.run([sys.executable, "-m", "hub.hookref"], cwd=ROOT, capture_output=True, check=True)
    assert result.stdout.decode("utf-8") == hookref.render()


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hooks_md_has_a_heading_for_every_hook(name):
    headings = re.findall(r"^#{1,6} (.+)$", HOOKS_MD.read_text(encoding="utf-8"), re.M)
    assert any(re.search(rf"\b{name}\b", heading) for heading in headings), f"docs/hooks.md has no heading for {name}"


def test_hookref_groups_hooks_under_the_spec_banners_in_spec_order():
    documented = hookref.hooks()

    assert [hook.name for hook in documented] == sorted(HOOKS, key=lambda name: HOOKS[name].__code__.co_firstlineno)
    groups = list(dict.fromkeys(hook.group for hook in documented))
    assert groups == ["Metadata", "Delivery platform side", "Property side", "Decision pipeline"]
    by_name = {hook.name: hook for hook in documented}
    assert by_name["hub_jobs"].group == "Metadata"
    assert by_name["hub_release_locker"].group == "Property side"
    assert by_name["hub_get_order"].signature == (
        "def hub_get_order(connection: Connection, order_ref: str) -> Order | None"
    )


def _test_function_names() -> set[str]:
    """Names of every test function under tests/, read with ``ast`` (nothing imported)."""
    names = set()
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names.update(
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        )
    return names


TEST_NAMES = _test_function_names()


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_test_of_its_own(name):
    prefix = f"test_hook_{name}"
    assert any(test == prefix or test.startswith(prefix + "_") for test in TEST_NAMES), (
        f"no test named {prefix}_... under tests/"
    )
