"""The pages' Chinese checks itself: every string the pages use is translated, the
compiled catalogue matches its source, and the package ships both."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "hub" / "web"
CATALOG = WEB / "translations" / "zh" / "LC_MESSAGES"
UPDATE = "run the commands under 'Translations' in docs/rider-page.md"


def _po():
    with (CATALOG / "messages.po").open("rb") as fh:
        return read_po(fh)


def _used() -> set[str]:
    with (WEB / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(WEB / "babel.cfg"))
    return {message for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map)}


def test_the_catalogue_holds_exactly_the_strings_the_pages_use():
    used = _used()
    listed = {m.id for m in _po() if m.id}
    assert "Ask to enter" in used
    assert used - listed == set(), f"strings missing from messages.po: {UPDATE}"
    assert listed - used == set(), f"messages.po has strings no page uses: {UPDATE}"


def test_every_string_has_its_chinese():
    untranslated = [m.id for m in _po() if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


def test_the_compiled_catalogue_matches_its_source():
    with (CATALOG / "messages.mo").open("rb") as fh:
        compiled = {m.id: m.string for m in read_mo(fh) if m.id}
    assert compiled == {m.id: m.string for m in _po() if m.id}, f"messages.mo is stale: {UPDATE}"


def _package_data() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)["hub.web"]
    raise AssertionError("setup.py has no package_data")


@pytest.mark.parametrize(
    "shipped",
    [
        "translations/zh/LC_MESSAGES/messages.po",
        "translations/zh/LC_MESSAGES/messages.mo",
        "templates/rider/form.html",
        "templates/rider/entry.html",
        "templates/rider/not_found.html",
        "static/rider.css",
        "static/rider.js",
    ],
)
def test_the_package_ships_the_rider_pages_files(shipped):
    assert (WEB / shipped).is_file()
    assert any(WEB / shipped in set(WEB.glob(pattern)) for pattern in _package_data())


def test_a_lazily_loaded_catalogue_speaks_chinese():
    from babel.support import Translations

    with (CATALOG / "messages.mo").open("rb") as fh:
        translations = Translations(io.BytesIO(fh.read()))
    assert translations.gettext("Ask to enter") == "申请进门"
