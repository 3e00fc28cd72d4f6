"""``last100 gates qr``: a printable QR code of a gate's rider page that a phone reads
back as the signed URL, with the gate's name under it."""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import segno
import zxingcpp
from click.testing import CliRunner
from PIL import Image

from hub.cli import main
from hub.core.config import load_config
from hub.core.tokens import GateCodes
from hub.web import gateqr

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``last100 --instance <tmp> ...`` with a community and two gates; files land in tmp."""
    for key in list(os.environ):
        if key.startswith("LAST100_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"

    def run(*args: str):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], catch_exceptions=False)

    assert run("init").exit_code == 0
    assert run("communities", "add", "sunny", "--name", "阳光花园").exit_code == 0
    assert (
        run("gates", "add", "north", "--community", "sunny", "--name", "North gate", "--code", "sunny-north").exit_code
        == 0
    )
    assert (
        run("gates", "add", "east", "--community", "sunny", "--name", "东门 East", "--code", "sunny-east").exit_code
        == 0
    )
    run.instance = instance
    return run


def gate_codes(cli) -> GateCodes:
    return GateCodes(load_config(cli.instance, env={}).effective_gate_key)


def decode(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_the_png_reads_back_as_the_gates_signed_rider_page(cli, tmp_path):
    result = cli("gates", "qr", "north")

    assert result.exit_code == 0, result.output
    assert "Writing gate-north.png ... done" in result.output
    [url] = decode((tmp_path / "gate-north.png").read_bytes())
    assert url.startswith("http://127.0.0.1:8100/g/sunny-north.")  # public_url's default
    assert gate_codes(cli).verify(urlsplit(url).path.removeprefix("/g/")) == "sunny-north"
    assert f"Rider page: {url}" in result.output


def test_the_png_has_the_gates_name_under_the_code(cli, tmp_path):
    cli("gates", "qr", "north", "--output", "north.png")
    image = Image.open(tmp_path / "north.png").convert("L")
    qr_height = image.width  # the code is square, its label below it

    assert image.height > qr_height * 1.1
    label = image.crop((0, qr_height, image.width, image.height))
    assert label.getextrema()[0] < 64  # dark text drawn there


def test_the_svg_carries_the_name_as_text_and_a_qr_code_of_the_url(cli, tmp_path):
    result = cli("gates", "qr", "east", "--format", "svg", "--base-url", "https://gate.example.com/")

    assert result.exit_code == 0, result.output
    url = re.search(r"Rider page: (\S+)", result.output).group(1)
    assert url.startswith("https://gate.example.com/g/sunny-east.")
    svg = ET.parse(tmp_path / "gate-east.svg").getroot()
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["东门 East"]
    [symbol] = [s for s in svg.iter(f"{SVG}svg") if s.get("class") == "qr"]
    [modules] = [p.get("d") for p in symbol.iter(f"{SVG}path") if p.get("stroke")]
    expected = segno.make_qr(url, error=gateqr.ERROR_LEVEL).svg_inline(scale=1, lineclass=None)
    assert f'd="{modules}"' in expected  # exactly the modules of a QR code of that URL


def test_public_url_from_the_configuration_is_the_default_base(cli, tmp_path):
    config = cli.instance / "last100.toml"
    config.write_text(config.read_text() + 'public_url = "https://riders.example.org/hub"\n')

    result = cli("gates", "qr", "north")

    [url] = decode((tmp_path / "gate-north.png").read_bytes())
    assert url.startswith("https://riders.example.org/hub/g/sunny-north.")
    assert result.exit_code == 0


def test_an_unknown_gate_is_a_one_line_error(cli, tmp_path):
    result = cli("gates", "qr", "nowhere")

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: gate 'nowhere' not found"]
    assert not list(tmp_path.glob("gate-*"))


def test_a_base_url_that_is_not_http_is_refused(cli):
    result = cli("gates", "qr", "north", "--base-url", "gate.example.com")
    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in result.output


def test_a_chinese_name_without_a_chinese_font_is_a_one_line_error(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(gateqr, "find_cjk_font", lambda: None)

    result = cli("gates", "qr", "east")

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: no font with Chinese glyphs found") and "--format svg" in line
    assert not (tmp_path / "gate-east.png").exists()


@pytest.mark.skipif(gateqr.find_cjk_font() is None, reason="no font with Chinese glyphs on this machine")
def test_a_chinese_name_is_drawn_with_a_chinese_font(cli, tmp_path):
    assert cli("gates", "qr", "east").exit_code == 0
    [url] = decode((tmp_path / "gate-east.png").read_bytes())
    assert "/g/sunny-east." in url


def test_a_long_name_is_shrunk_to_fit_the_code(tmp_path):
    png = gateqr.gate_qr_png("https://gate.example.com/g/x.y", "Building 12, south-east service gate by the car park")
    image = Image.open(io.BytesIO(png)).convert("L")
    label = image.crop((0, image.width, image.width, image.height))
    columns = [x for x in range(label.width) if label.crop((x, 0, x + 1, label.height)).getextrema()[0] < 128]
    assert columns[0] > 0 and columns[-1] < label.width - 1
    assert decode(png) == ["https://gate.example.com/g/x.y"]
