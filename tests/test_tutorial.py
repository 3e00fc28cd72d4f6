"""``docs/tutorial-platform-plugin.md``, followed to the letter, as a new user would: its
fenced blocks run in order, in an empty folder, in a virtualenv layered over the hub's
(``tests/layered_venv.py``: what the tutorial installs never reaches the hub's own).

The blocks the test acts on say so after their language:

- ````sh tutorial```: run with bash (``set -euo pipefail``) in the folder; it must
  succeed, and with ``expect="..."`` its output must contain that text;
- ````sh tutorial background```: started and left running (a server: the test waits
  until the port of its ``--port`` answers), stopped at the end;
- ````python excerpt=PATH```: must appear, as it is, in that generated file: what the
  tutorial quotes is what the scaffold writes;
- ````python replace=PATH```: each top-level definition in the block (with the comment
  lines just above it) replaces the one of the same name in that file;
- ````python file=PATH```: written to that file.

Other blocks (```` ```text ````, a plain ```` ```sh ````) are for reading. One thing is
changed in the commands: the ports the tutorial names (8766, 8100) become free ports of
this machine, where other test runs (and demos) may be listening on those.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.layered_venv import LayeredVenv

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial-platform-plugin.md"

#: The ports the tutorial's commands name.
PORTS = ("8766", "8100")

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    line: int
    language: str
    attributes: dict[str, str]
    flags: frozenset[str]
    text: str

    def __str__(self) -> str:
        return f"the ```{self.language} block at docs/tutorial-platform-plugin.md:{self.line}"


def blocks(markdown: str) -> list[Block]:
    found = []
    for match in _FENCE.finditer(markdown):
        info = shlex.split(match.group(1))
        language, rest = (info[0], info[1:]) if info else ("", [])
        attributes = dict(item.split("=", 1) for item in rest if "=" in item)
        flags = frozenset(item for item in rest if "=" not in item)
        line = markdown.count("\n", 0, match.start()) + 1
        found.append(Block(line, language, attributes, flags, match.group(2)))
    return found


def acted_on(block: Block) -> bool:
    return "tutorial" in block.flags or bool({"excerpt", "replace", "file"} & set(block.attributes))


# -- replacing definitions -------------------------------------------------------------


def _segments(source: str) -> dict[str, tuple[int, int]]:
    """Each top-level definition's name → its lines (0-based, end exclusive), the comment
    lines just above it included."""
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            start = node.lineno - 1
        else:
            continue
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        for name in names:
            found[name] = (start, node.end_lineno or node.lineno)
    return found


def replace_definitions(target: Path, block: Block) -> None:
    source = target.read_text(encoding="utf-8")
    lines = source.splitlines()
    new_lines = block.text.splitlines()
    existing = _segments(source)
    replacements = []
    for name, (start, end) in _segments(block.text).items():
        assert name in existing, f"{block} replaces {name}, which {target} does not define"
        replacements.append((*existing[name], new_lines[start:end]))
    for start, end, replacement in sorted(replacements, reverse=True):
        lines[start:end] = replacement
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- running it ---------------------------------------------------------------------------


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _wait_for_port(port: str, process: subprocess.Popen, what: Block, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with status {process.returncode} instead of serving")
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not answer on port {port} within {timeout_s:g} s")


@dataclass
class Reader:
    """Someone following the tutorial in ``folder``."""

    folder: Path
    venv: LayeredVenv
    ports: dict[str, str]
    background: list[subprocess.Popen] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def command(self, block: Block) -> str:
        text = block.text
        for documented, used in self.ports.items():
            text = re.sub(rf"\b{documented}\b", used, text)
        return text

    def run(self, block: Block) -> None:
        command = self.command(block)
        if "background" in block.flags:
            port = re.search(r"--port (\d+)", command)
            assert port, f"{block} runs in the background but names no --port to wait for"
            log = (self.folder.parent / f"background-{block.line}.log").open("w")
            process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=self.folder,
                env=self.venv.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.background.append(process)
            _wait_for_port(port.group(1), process, block)
            return
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.folder,
            env=self.venv.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output = result.stdout + result.stderr
        self.transcript.append(f"$ {command}\n{output}")
        assert result.returncode == 0, f"{block} failed with status {result.returncode}:\n{output[-6000:]}"
        expected = block.attributes.get("expect")
        assert expected is None or expected in output, f"{block}: {expected!r} is not in its output:\n{output[-6000:]}"

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)  # Ctrl+C, as the tutorial says
        for process in self.background:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_following_the_tutorial_gives_a_plugin_that_loads_and_passes_the_conformance_suite(tmp_path: Path) -> None:
    venv = LayeredVenv.create(tmp_path / "venv")
    folder = tmp_path / "work"
    folder.mkdir()
    ports: dict[str, str] = {}
    while len(set(ports.values())) < len(PORTS):
        ports = {port: _free_port() for port in PORTS}
    reader = Reader(folder, venv, ports)
    try:
        for block in blocks(TUTORIAL.read_text(encoding="utf-8")):
            if "excerpt" in block.attributes:
                quoted = (folder / block.attributes["excerpt"]).read_text(encoding="utf-8")
                assert block.text in quoted, f"{block} is not what the scaffold wrote in {block.attributes['excerpt']}"
            elif "replace" in block.attributes:
                replace_definitions(folder / block.attributes["replace"], block)
            elif "file" in block.attributes:
                target = folder / block.attributes["file"]
                assert not target.exists(), f"{block} would overwrite {target}"
                target.write_text(block.text, encoding="utf-8")
            elif "tutorial" in block.flags:
                assert block.language == "sh", f"{block} is marked tutorial but is not sh"
                reader.run(block)
    finally:
        reader.stop()

    # The plugin the reader ends with: Acme's words, and still ruff-clean.
    plugin = (folder / "last100-acme" / "last100_acme" / "plugin.py").read_text(encoding="utf-8")
    assert '"blocked": RiderStatus.SUSPENDED' in plugin
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if Path(ruff).exists():
        checked = subprocess.run([ruff, "check", "--no-cache", "."], cwd=folder / "last100-acme", capture_output=True)
        assert checked.returncode == 0, checked.stdout.decode()


# -- the page itself (no commands run) ------------------------------------------------------


def test_the_tutorial_runs_something_of_every_kind_it_describes() -> None:
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    run = [b for b in found if acted_on(b)]

    assert {"excerpt", "replace", "file"} <= {key for b in run for key in b.attributes}
    assert any("background" in b.flags for b in run)
    commands = "\n".join(b.text for b in run if "tutorial" in b.flags)
    for step in ("last100 plugin new acme", "python -m pytest", "last100 connections add", "last100 plugins"):
        assert step in commands
    assert commands.count("last100 enter") >= 2


def test_the_tutorial_marks_only_sh_blocks_to_run_and_names_files_in_the_plugin() -> None:
    for block in blocks(TUTORIAL.read_text(encoding="utf-8")):
        if "tutorial" in block.flags:
            assert block.language == "sh", f"{block}: only sh blocks run"
        for key in ("excerpt", "replace", "file"):
            if key in block.attributes:
                assert block.attributes[key].startswith("last100-acme/"), f"{block}: {key} outside the plugin"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_tutorials_links_lead_somewhere() -> None:
    text = TUTORIAL.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", text):
        page = TUTORIAL.parent / target
        assert page.is_file(), f"the tutorial links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#{1,6} (.+)$", page.read_text(encoding="utf-8"), re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{target} has no heading for #{anchor}"


def test_the_tutorial_is_linked_from_the_plugin_guide_and_the_readme() -> None:
    assert "(tutorial-platform-plugin.md)" in (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "(docs/tutorial-platform-plugin.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_replacing_a_definition_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    target = tmp_path / "module.py"
    target.write_text('"""Doc."""\n\n#: A.\n#: More about A.\nA = 1\n\n\ndef f():\n    return A\n\n\nB = 2\n')
    text = "#: A, anew.\nA = 10\n\n\ndef f():\n    return -A\n"
    block = Block(1, "python", {"replace": "module.py"}, frozenset(), text)

    replace_definitions(target, block)

    assert target.read_text() == '"""Doc."""\n\n#: A, anew.\nA = 10\n\n\ndef f():\n    return -A\n\n\nB = 2\n'
