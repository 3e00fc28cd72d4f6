"""``last100 plugin new``: every kind's generated distribution installs, is found by the
hub through its entry points, passes its own tests (the conformance suite among them) as
generated, and is ruff-clean; wrong names and existing folders are refused.

The four generated distributions are installed (``pip install --no-deps -e``) into one
throwaway virtualenv layered over the hub's (``tests/layered_venv.py``), and their test
suites run there at the same time, each in its own folder as its author would run it:
most of their time is spent waiting on the conformance suites' silent and slow upstreams.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.scaffold import KINDS, Names
from tests.layered_venv import LayeredVenv

#: The name of each kind's generated plugin.
NAMES = {kind: f"sample_{kind}" for kind in KINDS}

#: The checks a kind's suite skips, and why: a capability the scaffold's plugin does not
#: declare. Any other skip fails the test.
#: The checks each kind's generated plugin skips: capabilities a starting plugin does not
#: declare (the suites skip what a plugin does not claim to do).
EXPECTED_SKIPS = {
    "access": ("does not declare the 'push' capability",),
    "platform": (
        "does not declare the 'publish_community' capability",
        "does not declare the 'notify_rider' capability",
    ),
}


def _cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each kind's distribution, written by the command."""
    root = tmp_path_factory.mktemp("generated")
    folders = {}
    for kind, name in NAMES.items():
        result = _cli("plugin", "new", name, "--kind", kind, "--dir", str(root))
        assert result.exit_code == 0, result.output
        folders[kind] = root / Names.of(name).dist
    return folders


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, generated: dict[str, Path]) -> LayeredVenv:
    venv = LayeredVenv.create(tmp_path_factory.mktemp("venv") / "venv")
    venv.pip_install_editable(*generated.values())
    return venv


@pytest.fixture(scope="module")
def suites(generated: dict[str, Path], venv: LayeredVenv) -> dict[str, tuple[int, str, float]]:
    """Each kind's tests run with ``python -m pytest`` in its folder, all at once:
    ``(exit status, output, seconds)``."""
    started = time.monotonic()
    running = {
        kind: subprocess.Popen(
            [str(venv.python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
            cwd=folder,
            env=venv.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind, folder in generated.items()
    }
    results = {}
    for kind, process in running.items():
        try:
            output, _ = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            output += "\n(killed after 600 s)"
        results[kind] = (process.returncode, output, time.monotonic() - started)
    return results


@pytest.mark.parametrize("kind", KINDS)
def test_the_generated_tests_pass_once_installed(kind: str, suites: dict[str, tuple[int, str, float]]) -> None:
    status, output, _ = suites[kind]

    assert status == 0, f"the generated {kind} tests failed:\n{output[-6000:]}"
    assert " passed" in output and " failed" not in output
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    expected = EXPECTED_SKIPS.get(kind, ())
    unexpected = [line for line in skips if not any(reason in line for reason in expected)]
    assert not unexpected, "checks were skipped:\n" + "\n".join(unexpected)


def test_the_hub_finds_every_generated_plugin_through_its_entry_points(
    venv: LayeredVenv, tmp_path: Path, generated: dict[str, Path]
) -> None:
    result = subprocess.run(
        ["last100", "--instance", str(tmp_path / "instance"), "plugins", "--json"],
        env=venv.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    listed = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    for kind, name in NAMES.items():
        names = Names.of(name)
        assert names.name in listed, f"{names.name} is not listed: {sorted(listed)}"
        assert (listed[names.name]["kinds"], listed[names.name]["source"]) == ([kind], names.dist)
    assert json.loads(result.stdout)["failed"] == []


def test_the_hub_without_them_is_unchanged(generated: dict[str, Path], venv: LayeredVenv) -> None:
    # The layered venv keeps what it installs: the hub's own environment never sees it.
    from importlib import metadata

    installed = {ep.name for ep in metadata.entry_points(group="last100")}
    assert not installed & set(NAMES.values())


def _ruff() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(found).exists():
        pytest.skip("ruff is not installed (pip install ruff, or the hub's [dev] extra)")
    return found


@pytest.mark.parametrize("name", ["ab", "acme-delivery", "acme_delivery_expres"])
def test_the_generated_code_is_ruff_clean_whatever_the_names_length(tmp_path: Path, name: str) -> None:
    ruff = _ruff()
    for kind in KINDS:
        assert _cli("plugin", "new", name, "--kind", kind, "--dir", str(tmp_path / kind)).exit_code == 0
    for kind in KINDS:
        folder = tmp_path / kind / Names.of(name).dist
        checked = subprocess.run([ruff, "check", "--no-cache", "."], cwd=folder, capture_output=True, text=True)
        assert checked.returncode == 0, f"{kind}: {checked.stdout}"
        formatted = subprocess.run(
            [ruff, "format", "--no-cache", "--check", "."], cwd=folder, capture_output=True, text=True
        )
        assert formatted.returncode == 0, f"{kind}: {formatted.stdout}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_distribution_has_every_file_the_issue_asks_for(generated: dict[str, Path], kind: str) -> None:
    folder, package = generated[kind], Names.of(NAMES[kind]).package
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "egg-info" not in str(p)}

    assert {
        "setup.py",
        "README.md",
        "quality.yaml",
        "ruff.toml",
        f"{package}/__init__.py",
        f"{package}/client.py",
        f"{package}/plugin.py",
        f"{package}/simulator.py",
        "tests/test_conformance.py",
        "tests/test_client.py",
        "tests/test_packaging.py",
        "tests/test_quality.py",
    } <= files
    setup = (folder / "setup.py").read_text(encoding="utf-8")
    assert '"last100": [' in setup and '"last100.simulators": [' in setup


# -- the command's errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Acme", "has capital letters: use 'acme'"),
        ("acme delivery", "cannot name a plugin"),
        ("9lives", "cannot name a plugin"),
        ("acme__x", "cannot name a plugin"),
        ("acme-", "cannot name a plugin"),
        ("a", "2 to 20 characters"),
        ("acme_delivery_express_asia", "2 to 20 characters"),
        ("last100-acme", "leave out the last100 prefix: the scaffold adds it (use 'acme')"),
        ("class", "reserved word"),
    ],
)
def test_a_name_that_cannot_name_a_plugin_is_refused_saying_why(tmp_path: Path, name: str, says: str) -> None:
    result = _cli("plugin", "new", name, "--kind", "platform", "--dir", str(tmp_path))

    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and says in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_name_an_installed_plugin_has_is_refused(tmp_path: Path) -> None:
    # The hub refuses to start with two plugins of one name.
    result = _cli("plugin", "new", "locker", "--kind", "locker", "--dir", str(tmp_path))

    assert result.exit_code == 1
    assert "Error: a plugin 'locker' is already installed (last100-locker): choose another name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    result = _cli("plugin", "new", "acme", "--kind", "gate", "--dir", str(tmp_path))

    assert result.exit_code == 2
    assert "'gate' is not one of 'platform', 'access', 'locker', 'visitor'" in result.output


def test_an_existing_folder_is_written_over_only_with_force(tmp_path: Path) -> None:
    folder = tmp_path / "last100-acme"
    folder.mkdir()
    (folder / "setup.py").write_text("# mine\n")
    (folder / "notes.txt").write_text("keep me\n")

    refused = _cli("plugin", "new", "acme", "--kind", "platform", "--dir", str(tmp_path))

    assert refused.exit_code == 1
    assert f"Error: {folder} already exists: choose another --dir, or add --force" in refused.output
    assert (folder / "setup.py").read_text() == "# mine\n"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "setup.py"]

    forced = _cli("plugin", "new", "acme", "--kind", "platform", "--dir", str(tmp_path), "--force")

    assert forced.exit_code == 0, forced.output
    assert "last100-acme" in (folder / "setup.py").read_text()
    assert (folder / "notes.txt").read_text() == "keep me\n"


def test_a_file_in_the_way_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "last100-acme").write_text("not a folder\n")

    result = _cli("plugin", "new", "acme", "--kind", "locker", "--dir", str(tmp_path), "--force")

    assert result.exit_code == 1
    assert "exists and is not a folder" in result.output


def test_the_command_prints_what_it_wrote_and_the_next_steps(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = _cli("plugin", "new", "acme", "--kind", "visitor")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote last100-acme/ (12 files): the visitor plugin 'acme'\n")
    assert "python -m pip install -e './last100-acme[test]'\n" in result.output
    assert "python -m pytest ./last100-acme\n" in result.output
    assert (tmp_path / "last100-acme" / "last100_acme" / "plugin.py").is_file()
