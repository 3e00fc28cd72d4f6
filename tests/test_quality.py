"""Every adapter's ``quality.yaml`` answers for every quality rule of the catalogue
(``hub.quality``), and the check of those files refuses what it must."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub import quality
from hub.scaffold import KINDS, generate

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = sorted(p.parent for p in (ROOT / "adapters").glob("*/setup.py"))


def _valid(**rules: object) -> dict[str, object]:
    listed: dict[str, object] = dict.fromkeys(quality.RULE_IDS, "done")
    listed.update(rules)
    return {"distribution": "last100-acme", "rules": listed}


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_every_adapter_answers_for_every_rule(adapter: Path) -> None:
    path = adapter / "quality.yaml"

    assert path.is_file(), f"{adapter.name} has no quality.yaml"
    assert quality.check_file(path) == []


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda p: p.name)
def test_the_file_names_its_own_distribution(adapter: Path) -> None:
    [name] = re.findall(r'^\s*name="([^"]+)"', (adapter / "setup.py").read_text(encoding="utf-8"), re.M)

    assert quality.load(adapter / "quality.yaml")["distribution"] == name


@pytest.mark.parametrize("kind", KINDS)
def test_the_scaffolds_quality_yaml_is_valid_for_every_kind(tmp_path: Path, kind: str) -> None:
    generated = generate("acme", kind, tmp_path)

    assert quality.check_file(generated.folder / "quality.yaml") == []
    assert quality.load(generated.folder / "quality.yaml")["distribution"] == "last100-acme"


def test_rule_ids_are_unique_slugs() -> None:
    assert len(set(quality.RULE_IDS)) == len(quality.RULE_IDS)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", rule_id) for rule_id in quality.RULE_IDS)


def test_every_rule_is_explained_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8").replace("`", "")

    for rule in quality.RULES:
        assert f"| {rule.id} | {rule.means}" in guide, f"docs/plugins.md does not explain {rule.id} as the catalogue"


def test_a_valid_file_has_no_problems() -> None:
    data = _valid(
        **{
            "push-signature-verified": {"status": "exempt", "reason": "pushes nothing"},
            "docs-readme": {"status": "todo", "reason": "describe the real API"},
            "signed-requests": {"status": "done", "note": "HMAC"},
        }
    )

    assert quality.check(data) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"made-up-rule": "done"}, "unknown rule 'made-up-rule'"),
        ({"tls-required": "maybe"}, "tls-required: status 'maybe' is not one of done, todo, exempt"),
        ({"tls-required": {"status": "todo"}}, "tls-required: a rule marked todo needs a reason"),
        ({"tls-required": {"status": "exempt", "reason": "  "}}, "tls-required: a rule marked exempt needs a reason"),
        ({"tls-required": {"status": "done", "reason": "x"}}, "a rule marked done takes a note, not a reason"),
        ({"tls-required": {"status": "done", "because": "x"}}, "tls-required: unknown key 'because'"),
        ({"tls-required": ["done"]}, "tls-required: give a status"),
    ],
)
def test_a_wrong_entry_is_a_problem_naming_the_rule(change: dict[str, object], problem: str) -> None:
    problems = quality.check(_valid(**change))

    assert any(problem in p for p in problems), problems


def test_a_rule_left_out_is_a_problem() -> None:
    data = _valid()
    del data["rules"]["docs-readme"]  # type: ignore[attr-defined]

    assert quality.check(data) == ["rules not listed: docs-readme (list every rule: done, todo or exempt)"]


def test_a_file_that_is_not_a_mapping_of_rules_is_a_problem() -> None:
    assert quality.check(["done"]) == ["the file must be a mapping with 'distribution' and 'rules'"]
    assert "'rules' must map every rule id to its status" in quality.check({"distribution": "x", "rules": []})
    assert "unknown key 'rule' (known: distribution, rules)" in quality.check({**_valid(), "rule": {}})


def test_a_rule_given_twice_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "quality.yaml"
    lines = [f"  {rule_id}: done" for rule_id in quality.RULE_IDS] + ["  tls-required:", "    status: todo"]
    path.write_text("distribution: last100-acme\nrules:\n" + "\n".join(lines) + "\n", encoding="utf-8")

    [problem] = quality.check_file(path)

    assert "is not valid YAML" in problem and "'tls-required' is given twice" in problem


def test_a_rule_marked_done_needs_its_evidence_in_the_adapter(tmp_path: Path) -> None:
    path = tmp_path / "quality.yaml"
    lines = [f"  {rule_id}: done" for rule_id in quality.RULE_IDS]
    path.write_text("distribution: last100-acme\nrules:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# last100-acme\n")

    problems = quality.check_file(path)

    assert problems == [
        f"conformance-suite: marked done, but tests/test_conformance.py is not in {tmp_path}",
        f"client-tests: marked done, but tests/test_client.py is not in {tmp_path}",
    ]


def test_the_command_prints_problems_or_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = ROOT / "adapters" / "locker" / "quality.yaml", tmp_path / "quality.yaml"
    bad.write_text("distribution: last100-acme\nrules: {}\n", encoding="utf-8")

    assert quality.main([str(good), str(bad)]) == 1

    out = capsys.readouterr().out
    assert f"{good}: 12 done, 0 todo, 2 exempt\n" in out
    assert f"{bad}: 1 problem(s)\n  rules not listed: " in out
