"""docs/security.md points at the tests that prove each defence: every test it names must
exist, and every threat must name at least one under its "Proved by" line. A renamed or
deleted test fails here until the threat model is updated with it."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"

#: ``tests/…/file.py::test_name`` or ``adapters/…/file.py::Class::test_name``.
REFERENCE = re.compile(r"\b((?:tests|adapters)/[\w./-]+?\.py)::([A-Za-z_]\w*(?:::[A-Za-z_]\w*)?)")
#: A threat's section: ``## T7. Session theft on the console``.
THREAT = re.compile(r"^T(\d+)\. \S")
#: The sections that are not threats.
NOT_THREATS = ("Assets, actors and trust boundaries", "What a deployment must get right")
#: What every threat says, in this order, each at the start of a line in bold
#: (``**Threat.**``, ``**Defence.**``, ``**Residual risk.**``, ``**Proved by**``).
PARTS = ("Threat", "Defence", "Residual risk", "Proved by")


def sections(text: str) -> dict[str, str]:
    """The ``## `` sections of a Markdown text, by heading (fenced code ignored)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            heading = line[3:].strip()
            assert heading not in found, f"two sections are called {heading!r}"
            current = found[heading] = []
        elif current is not None:
            current.append(line)
    return {heading: "\n".join(lines) for heading, lines in found.items()}


def references(text: str) -> list[tuple[str, str]]:
    """Every ``(path, test)`` a text names, in order."""
    return REFERENCE.findall(text)


def defines(source: str, test: str) -> bool:
    """Whether Python ``source`` defines ``test``: a module-level ``test_*`` function, or
    for ``Class::test_*`` a method of a module-level class."""
    *owner, name = test.split("::")
    if not name.startswith("test"):
        return False
    scope: list[ast.stmt] = ast.parse(source).body
    if owner:
        classes = [node for node in scope if isinstance(node, ast.ClassDef) and node.name == owner[0]]
        if not classes:
            return False
        scope = classes[0].body
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name for node in scope)


@functools.cache
def source_of(path: str) -> str | None:
    """The text of a file of this repository, or ``None`` when there is none."""
    file = (ROOT / path).resolve()
    if not file.is_relative_to(ROOT) or not file.is_file():
        return None
    return file.read_text(encoding="utf-8")


def missing(refs: list[tuple[str, str]]) -> list[str]:
    """The references whose file or test does not exist, as ``path::test (why)``."""
    problems = []
    for path, test in dict.fromkeys(refs):
        source = source_of(path)
        if source is None:
            problems.append(f"{path}::{test} (no such file)")
        elif not defines(source, test):
            problems.append(f"{path}::{test} (no such test in the file)")
    return problems


def _start(part: str, body: str) -> int:
    """Where a threat's part begins in its section; -1 when it is missing."""
    found = re.search(rf"^\*\*{re.escape(part)}\.?\*\*", body, re.M)
    return found.start() if found else -1


def incomplete_threats(text: str) -> list[str]:
    """What is wrong with each threat section of ``text``: a part missing or out of
    order, or no test named under "Proved by"."""
    problems = []
    for heading, body in sections(text).items():
        if not THREAT.match(heading):
            continue
        where = [_start(part, body) for part in PARTS]
        if -1 in where:
            absent = [part for part, at in zip(PARTS, where, strict=True) if at == -1]
            problems.append(f"{heading}: no {', '.join(absent)}")
            continue
        if where != sorted(where):
            problems.append(f"{heading}: the parts are not in the order {', '.join(PARTS)}")
        if not references(body[where[-1] :]):
            problems.append(f"{heading}: no test under 'Proved by'")
    return problems


# -- the document ---------------------------------------------------------------------------------


def test_every_test_the_threat_model_names_exists():
    refs = references(DOC.read_text(encoding="utf-8"))

    assert len(refs) >= 20, "the threat model names hardly any tests: is the reference format still path::test?"
    problems = missing(refs)
    assert problems == [], "docs/security.md names tests that do not exist:\n" + "\n".join(problems)


def test_every_section_is_a_numbered_threat_or_a_known_other_section():
    headings = list(sections(DOC.read_text(encoding="utf-8")))
    numbers = [int(THREAT.match(h)[1]) for h in headings if THREAT.match(h)]

    assert [h for h in headings if not THREAT.match(h) and h not in NOT_THREATS] == [], (
        "a '## ' section of docs/security.md is neither 'T<n>. <threat>' nor listed in NOT_THREATS"
    )
    assert numbers == list(range(1, len(numbers) + 1)), "threats are numbered T1, T2, … in order"
    assert len(numbers) >= 10


def test_every_threat_names_its_defence_residual_risk_and_the_tests_that_prove_it():
    problems = incomplete_threats(DOC.read_text(encoding="utf-8"))

    assert problems == [], "\n".join(problems)


# -- the checks themselves ------------------------------------------------------------------------

SAMPLE = """
def test_top():
    pass

def helper():
    pass

class TestGroup:
    def test_method(self):
        pass

    async def test_async(self):
        pass
"""


def test_the_checks_find_tests_and_refuse_what_is_not_one():
    assert defines(SAMPLE, "test_top")
    assert defines(SAMPLE, "TestGroup::test_method")
    assert defines(SAMPLE, "TestGroup::test_async")
    assert not defines(SAMPLE, "helper")  # exists, but pytest does not run it
    assert not defines(SAMPLE, "test_method")  # a method is named with its class
    assert not defines(SAMPLE, "Other::test_method")
    assert not defines(SAMPLE, "test_gone")


def test_references_are_read_from_prose_and_lists_and_unknown_ones_are_reported():
    text = (
        "- `tests/test_security_doc.py::test_the_checks_find_tests_and_refuse_what_is_not_one`\n"
        "see adapters/riderpass/tests/test_webhooks.py::Some::test_x, and "
        "`tests/no_such_file.py::test_y`; not docs/api.md::x or tests/test_x.py alone."
    )

    refs = references(text)

    assert refs == [
        ("tests/test_security_doc.py", "test_the_checks_find_tests_and_refuse_what_is_not_one"),
        ("adapters/riderpass/tests/test_webhooks.py", "Some::test_x"),
        ("tests/no_such_file.py", "test_y"),
    ]
    assert missing(refs) == [
        "adapters/riderpass/tests/test_webhooks.py::Some::test_x (no such test in the file)",
        "tests/no_such_file.py::test_y (no such file)",
    ]
    assert missing([("tests/../../etc/passwd.py", "test_x")]) == ["tests/../../etc/passwd.py::test_x (no such file)"]


def test_sections_ignore_headings_inside_code_blocks():
    text = "intro\n## T1. One\nbody\n```\n## not a heading\n```\n## Two\nmore\n"

    assert sections(text) == {"T1. One": "body\n```\n## not a heading\n```", "Two": "more"}


def test_a_threat_without_a_part_or_a_test_under_proved_by_is_reported():
    proved = "**Proved by**\n\n- `tests/test_x.py::test_y`\n"
    text = (
        "## T1. Complete\n**Threat.** a\n**Defence.** b\n**Residual risk.** c\n"
        + proved
        + "## T2. No defence\n**Threat.** a\n**Residual risk.** c\n"
        + proved
        + "## T3. Nothing proved\n**Threat.** a\n**Defence.** b `tests/test_x.py::test_y`\n"
        "**Residual risk.** c\n**Proved by**\n\nnothing yet\n"
        + "## T4. Out of order\n**Defence.** b\n**Threat.** a\n**Residual risk.** c\n"
        + proved
        + "## Not a threat\nanything\n"
    )

    assert incomplete_threats(text) == [
        "T2. No defence: no Defence",
        "T3. Nothing proved: no test under 'Proved by'",
        "T4. Out of order: the parts are not in the order Threat, Defence, Residual risk, Proved by",
    ]
