"""The page a gate's screen shows: the rider-page QR code with the current presence code,
renewed as the code rotates.

The screen opens ``/screen/<screen token>`` (``last100 gates screen-url``). The token is
signed apart from the printed gate code, so a rider who knows the printed code cannot
open the screen page from elsewhere and read the current presence code; keep the screen
URL on the screen device only.
"""

from __future__ import annotations

import segno
from flask import Blueprint, render_template

from hub.core.errors import NotFound
from hub.core.tokens import PRESENCE_STEP_S
from hub.web.context import runtime_of
from hub.web.gateqr import rider_url

bp = Blueprint("screen", __name__, url_prefix="/screen")

#: Screen tokens are a gate code plus a short signature; anything longer is not one.
_MAX_TOKEN_CHARS = 200


@bp.get("/<token>")
def gate_screen(token: str) -> tuple[str, int, dict[str, str]]:
    if len(token) > _MAX_TOKEN_CHARS:
        raise NotFound("no gate has this code")
    rt = runtime_of()
    gate = rt.store.gate_by_code(rt.gate_codes.verify_screen(token))
    code = rt.engine.presence.current(gate.id, rt.clock.now()) if rt.engine.presence else ""
    url = rider_url(rt.config.public_url, rt.gate_codes.sign(gate.code)) + (f"?p={code}" if code else "")
    qr = segno.make_qr(url, error="q").svg_inline(omitsize=True, light="#fff", svgclass="qr", lineclass=None)
    page = render_template(
        "screen.html",
        gate=gate,
        community=rt.store.get_community(gate.community_id),
        code=code,
        qr=qr,
        # A third of a step: a new code shows within ten seconds of rotating.
        refresh_s=PRESENCE_STEP_S // 3,
    )
    return page, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
