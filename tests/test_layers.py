"""The layering rule: arrows point down only."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offending(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(HUB.parent)} imports {name}"
        for path in folder.rglob("*.py")
        for name in imported_modules(path)
        if name.startswith(forbidden)
    )


def test_core_imports_nothing_above_it():
    assert offending(HUB / "core", ("hub.web", "hub.plugins", "hub.demo", "hub.cli", "hub.runtime", "adapters")) == []


def test_builtin_plugins_do_not_import_the_web_layer():
    assert offending(HUB / "plugins", ("hub.web", "hub.cli", "hub.runtime")) == []


def test_package_root_only_hands_out_the_marker_and_model_types():
    assert imported_modules(HUB / "__init__.py") <= {"hub.core.hookspecs", "hub.core.model"}
