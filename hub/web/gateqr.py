"""Printable gate QR codes: the rider page's URL for one gate, with the gate's name
under the code, as SVG (text the printer's fonts draw) or PNG (drawn here with Pillow).

The URL carries the gate's *signed* code (:class:`hub.core.tokens.GateCodes`), so a
printed code cannot be edited into another gate's. Error correction is level Q (25 %),
for codes that hang outdoors and get dirty.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import segno

from hub.core.errors import HubError

ERROR_LEVEL = "q"
#: Pixels per QR module in a PNG: a version 4-5 code comes out about 500 px wide.
PNG_SCALE = 12
#: Fonts with Chinese glyphs found on common systems, tried when fontconfig is absent.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


class FontMissing(HubError):
    """A PNG label needs glyphs (Chinese) that no font found here has."""

    code = "font_missing"


def rider_url(public_url: str, signed_code: str) -> str:
    """The rider page of a gate: ``<public_url>/g/<signed code>``."""
    return f"{public_url.rstrip('/')}/g/{signed_code}"


def _qr(url: str) -> segno.QRCode:
    # Never a Micro QR: phone cameras do not read those.
    return segno.make_qr(url, error=ERROR_LEVEL)


def gate_qr_svg(url: str, label: str) -> str:
    """An SVG document: the QR code (with its quiet zone) and ``label`` centred under it."""
    qr = _qr(url)
    size = qr.symbol_size()[0]  # modules, quiet zone included
    font = size * 0.085
    band = font * 2.2
    height = size + band
    # SVG cannot measure text: squeeze a label that would likely overflow the code's width.
    estimate = sum(font if ord(ch) > 0x2E7F else font * 0.6 for ch in label)
    fit = f' textLength="{size * 0.9:.2f}" lengthAdjust="spacingAndGlyphs"' if estimate > size * 0.9 else ""
    symbol = qr.svg_inline(scale=1, light="#fff", svgclass="qr", lineclass=None)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * 10}" height="{height * 10:.0f}" '
        f'viewBox="0 0 {size} {height:.2f}">\n'
        f"<title>{escape(label)}</title>\n"
        f'<rect width="{size}" height="{height:.2f}" fill="#fff"/>\n'
        f"{symbol}\n"
        f'<text x="{size / 2:.2f}" y="{size + font * 1.1:.2f}" text-anchor="middle" font-size="{font:.2f}" '
        'font-weight="bold" font-family="PingFang SC, Microsoft YaHei, Noto Sans CJK SC, sans-serif" '
        f'fill="#000"{fit}>{escape(label)}</text>\n'
        "</svg>\n"
    )


def gate_qr_png(url: str, label: str, font_path: str | Path | None = None) -> bytes:
    """A PNG: the QR code and ``label`` under it, in a font that has its glyphs.

    :param font_path: a TrueType/OpenType font; by default Pillow's own for plain ASCII
        labels, else a system font with Chinese glyphs.
    :raises FontMissing: the label is not ASCII and no font with Chinese glyphs is found.
    """
    from PIL import Image, ImageDraw

    qr = _qr(url)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=PNG_SCALE)
    buffer.seek(0)
    code = Image.open(buffer).convert("L")
    width = code.width
    size = max(16, width // 12)
    font = _fit(_font_loader(label, font_path), label, size, width * 0.9)
    band = int(size * 2.2)
    page = Image.new("L", (width, code.height + band), 255)
    page.paste(code, (0, 0))
    ImageDraw.Draw(page).text((width / 2, code.height + band * 0.15), label, fill=0, font=font, anchor="ma")
    out = io.BytesIO()
    page.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _fit(load, label: str, size: int, max_width: float):
    """The largest font, from ``size`` down, in which ``label`` fits ``max_width``."""
    font = load(size)
    while size > 10 and font.getlength(label) > max_width:
        size -= 2
        font = load(size)
    return font


def _font_loader(label: str, font_path: str | Path | None):
    from PIL import ImageFont

    if font_path is not None:
        path = str(font_path)
        if not Path(path).is_file():
            raise FontMissing(f"font file {path} does not exist")
        return lambda size: ImageFont.truetype(path, size)
    if label.isascii():
        return lambda size: ImageFont.load_default(size)
    found = find_cjk_font()
    if found is None:
        raise FontMissing(
            f"no font with Chinese glyphs found for the label {label!r}: give one with --font FILE, or use --format svg"
        )
    return lambda size: ImageFont.truetype(found, size)


def find_cjk_font(candidates: Sequence[str] = CJK_FONTS) -> str | None:
    """A font file with Simplified Chinese glyphs: fontconfig's answer where it is
    installed, else the first of ``candidates`` that exists."""
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        try:
            listed = subprocess.run(
                [fc_list, "-f", "%{file}\n", ":lang=zh-cn"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            listed = []
        fonts = sorted(f.strip() for f in listed if f.strip().lower().endswith((".ttf", ".otf", ".ttc")))
        if fonts:
            return fonts[0]
    return next((path for path in candidates if Path(path).is_file()), None)
