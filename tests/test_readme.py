"""The README's two commands are the ones CI runs and the ones that install every
adapter the repository holds."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(python3 -m venv .venv && .+)\n```", (ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_gives_exactly_two_fresh_machine_commands():
    demo, tests = readme_commands()
    assert demo.endswith("last100 demo")
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readmes_test_command():
    _demo, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_both_commands_install_every_adapter():
    demo, tests = readme_commands()
    for adapter in sorted(p.parent.name for p in (ROOT / "adapters").glob("*/setup.py")):
        assert f"-e adapters/{adapter}" in demo
        assert f"-e 'adapters/{adapter}[test]'" in tests
