"""The rider page: what a rider's phone opens after scanning a gate's printed QR code.

``GET /g/<signed gate code>`` names the gate and community and asks for the rider's
platform and code; ``POST`` to the same URL decides the entry with the engine and
redirects (POST/redirect/GET) to ``/g/<code>/entries/<id>``, which shows the answer.
A manual check polls ``/g/<code>/entries/<id>.json`` until a guard decides. A gate
screen's presence code arrives as ``?p=<code>``.

Riders have no session and no login: the form carries a signed token bound to the gate
that expires after a few minutes (the page's CSRF protection), and its random part
doubles as the entry's idempotency key, so a double tap makes one entry. Entry ids are
random UUIDs and an entry is shown only under the gate it was made at.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from hub.core.clock import Clock
from hub.core.engine import EntryRequest
from hub.core.errors import Conflict, NotFound
from hub.core.model import (
    Community,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Entry,
    Gate,
    PluginKind,
)
from hub.runtime import Runtime
from hub.web.context import runtime_of
from hub.web.errors import api_error
from hub.web.i18n import language

bp = Blueprint("rider", __name__, url_prefix="/g")

#: How long a rider may take between opening the page and sending it.
FORM_MAX_AGE_S = 10 * 60
#: Longest code accepted per kind: rider-app codes are short; signed entry codes are
#: compact JWTs (the RiderPass protocol caps them at 2048 characters).
MAX_CODE_CHARS = {CredentialKind.TYPED_CODE: 64, CredentialKind.ENTRY_CODE: 2048}
#: Signed gate codes are a gate code plus a short signature; anything longer is not one.
_MAX_SIGNED_CHARS = 200
_PRESENCE = re.compile(r"^[0-9]{4,10}$")
#: How often a waiting page asks whether the guard has decided.
POLL_MS = 3000

_HEADERS = {
    # The URL holds the gate's signed code and the entry id: keep it out of Referer
    # headers and caches; the page loads nothing from elsewhere.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


# -- the form's token -------------------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """Timestamps from the hub's clock, so tests can let a form expire."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.now().timestamp())


class FormExpired(Exception):
    """The form's token is forged, for another gate, or too old."""


class FormTokens:
    """Per-page tokens for a form sent without a session (riders have none)."""

    def __init__(self, secret_key: str, clock: Clock, max_age_s: int = FORM_MAX_AGE_S) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret_key, salt="last100.rider-form", signer=_ClockSigner, signer_kwargs={"clock": clock}
        )
        self.max_age_s = max_age_s

    def issue(self, gate_id: str) -> str:
        return self._serializer.dumps({"g": gate_id, "n": secrets.token_urlsafe(12)})

    def check(self, token: str, gate_id: str) -> str:
        """The token's random part (unique per page shown).

        :raises FormExpired: forged, for another gate, or older than ``max_age_s``.
        """
        try:
            data = self._serializer.loads(token, max_age=self.max_age_s)
        except BadSignature:
            raise FormExpired from None
        if not isinstance(data, dict) or data.get("g") != gate_id or not isinstance(data.get("n"), str):
            raise FormExpired
        return data["n"]


def _tokens(rt: Runtime) -> FormTokens:
    return FormTokens(current_app.secret_key or "", rt.clock)


# -- what the views share ---------------------------------------------------------------


@dataclass
class _Place:
    rt: Runtime
    signed: str
    gate: Gate
    community: Community


def _resolve(signed: str) -> _Place:
    """The gate a signed code names. Forged, unknown and deleted gates are one answer
    (404), so the answers say nothing about which gates exist."""
    if len(signed) > _MAX_SIGNED_CHARS:
        raise NotFound("no gate has this code")
    rt = runtime_of()
    gate = rt.store.gate_by_code(rt.gate_codes.verify(signed))
    return _Place(rt, signed, gate, rt.store.get_community(gate.community_id))


def platforms(rt: Runtime, community: Community) -> list[Connection]:
    """The platform connections a rider may choose at this community: enabled, of a
    loaded platform plugin, and allowed by the community's policy."""
    allowed = community.policy.allowed_platforms
    return [
        conn
        for conn in rt.store.connections_for_community(community.id)
        if conn.enabled
        and rt.hub.is_loaded(conn.plugin)
        and PluginKind.PLATFORM in rt.hub.plugin(conn.plugin).info.kinds
        and (not allowed or conn.id in allowed or conn.plugin in allowed)
    ]


def _presence(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if _PRESENCE.match(value) else None


def _local_time(when: datetime | None, community: Community) -> str:
    if when is None:
        return ""
    return when.astimezone(ZoneInfo(community.timezone)).strftime("%H:%M")


def _switch_url(**keep: str | None) -> str:
    """This page in the other language (keeping its query, e.g. the presence code)."""
    args = {**request.args.to_dict(), **{k: v for k, v in keep.items() if v}}
    args["lang"] = "en" if language() == "zh" else "zh"
    return url_for(request.endpoint or "rider.gate_page", **(request.view_args or {}), **args)


@bp.after_request
def _protect(response: Response) -> Response:
    response.headers.update(_HEADERS)
    return response


@bp.errorhandler(NotFound)
@bp.errorhandler(404)
def _not_found(_exc: Exception) -> tuple[Any, int]:
    if request.path.endswith(".json"):
        return api_error(404, "not_found", "no such gate or entry"), 404
    return render_template("rider/not_found.html"), 404


# -- the form ---------------------------------------------------------------------------


@dataclass
class _Form:
    connection_id: str = ""
    kind: str = CredentialKind.TYPED_CODE.value
    code: str = ""
    presence: str | None = None


def _show_form(place: _Place, form: _Form, error: str = "", status: int = 200) -> tuple[str, int]:
    choices = platforms(place.rt, place.community)
    if not form.connection_id and len(choices) == 1:
        form.connection_id = choices[0].id
    page = render_template(
        "rider/form.html",
        gate=place.gate,
        community=place.community,
        platforms=choices,
        form=form,
        error=error,
        token=_tokens(place.rt).issue(place.gate.id),
        ask_presence=place.community.policy.require_presence and not form.presence,
        action=url_for("rider.gate_page", signed=place.signed),
        switch_url=_switch_url(p=form.presence),
        limits=MAX_CODE_CHARS,
    )
    return page, status


def _sent_form() -> _Form:
    """The form as the rider sent it."""
    sent = request.form
    return _Form(
        connection_id=sent.get("connection", "").strip(),
        kind=sent.get("kind", CredentialKind.TYPED_CODE.value),
        code=sent.get("code", "").strip(),
        presence=_presence(sent.get("p")),
    )


def show_sent_form_again(message: str, status: int) -> tuple[str, int]:
    """The gate's form as the rider sent it, with ``message`` above it (e.g. a rate
    limit's refusal, see :mod:`hub.web.limits`).

    :raises NotFound: the page's gate code is forged or unknown.
    """
    place = _resolve((request.view_args or {}).get("signed", ""))
    return _show_form(place, _sent_form(), message, status)


@bp.get("/<signed>")
def gate_page(signed: str) -> tuple[str, int]:
    place = _resolve(signed)
    return _show_form(place, _Form(presence=_presence(request.args.get("p"))))


@bp.post("/<signed>")
def submit(signed: str) -> Any:
    place = _resolve(signed)
    sent = request.form
    form = _sent_form()
    try:
        nonce = _tokens(place.rt).check(sent.get("csrf", ""), place.gate.id)
    except FormExpired:
        return _show_form(place, form, _("This page was open too long. Please send it again."), 400)
    error = _problem(place, form)
    if error:
        return _show_form(place, form, error, 400)
    request_ = EntryRequest(
        place.gate.code,
        form.connection_id,
        Credential(CredentialKind(form.kind), form.code),
        presence_code=form.presence,
        idempotency_key=f"rider-page:{nonce}",
        actor="rider-page",
    )
    try:
        entry = place.rt.engine.decide(request_)
    except Conflict:
        # The same page was sent before with other answers (the browser's back button).
        return _show_form(place, form, _("This page was open too long. Please send it again."), 400)
    return redirect(url_for("rider.entry_page", signed=signed, entry_id=entry.id), 303)


def _problem(place: _Place, form: _Form) -> str:
    """What is wrong with the rider's answers, in their language; empty when nothing."""
    if not form.connection_id:
        return _("Choose your delivery platform.")
    if form.connection_id not in {c.id for c in platforms(place.rt, place.community)}:
        return _("This platform does not serve this community. Choose another one.")
    if form.kind not in {k.value for k in MAX_CODE_CHARS}:
        return _("Choose the kind of code you have.")
    if not form.code:
        return _("Type the code from your rider app.")
    if len(form.code) > MAX_CODE_CHARS[CredentialKind(form.kind)]:
        return _("This code is too long. Check it and try again.")
    return ""


# -- the answer -------------------------------------------------------------------------


def _entry_at(place: _Place, entry_id: str) -> Entry:
    entry = place.rt.store.get_entry(entry_id)
    if entry.gate_id != place.gate.id:
        raise NotFound("no such entry at this gate")
    return entry


def _qr_svg(value: str) -> str:
    """The pass as an inline SVG QR code that scales with the page."""
    qr = segno.make_qr(value, error="m")
    return qr.svg_inline(omitsize=True, light="#fff", svgclass="qr", lineclass=None, title=_("Pass"))


@bp.get("/<signed>/entries/<entry_id>")
def entry_page(signed: str, entry_id: str) -> str:
    place = _resolve(signed)
    entry = _entry_at(place, entry_id)
    now = place.rt.clock.now()
    grant = entry.access_pass
    locker = entry.locker
    bank_name = ""
    if locker is not None:
        try:
            bank_name = place.rt.store.get_connection(locker.bank_id).name
        except NotFound:
            bank_name = locker.bank_id
    zh = language() == "zh"
    return render_template(
        "rider/entry.html",
        gate=place.gate,
        community=place.community,
        entry=entry,
        Decision=Decision,
        reasons=[r.zh if zh else r.en for r in entry.reasons],
        grant=grant,
        expired=grant is not None and grant.valid_until <= now,
        valid_until=_local_time(grant.valid_until if grant else None, place.community),
        qr=_qr_svg(grant.value) if grant is not None and grant.kind.value in ("qr", "card") else "",
        locker=locker,
        bank_name=bank_name,
        locker_until=_local_time(locker.valid_until if locker else None, place.community),
        poll_url=url_for("rider.entry_status", signed=signed, entry_id=entry.id),
        poll_ms=POLL_MS,
        again_url=url_for("rider.gate_page", signed=signed),
        switch_url=_switch_url(),
    )


@bp.get("/<signed>/entries/<entry_id>.json")
def entry_status(signed: str, entry_id: str) -> Response:
    """What a waiting page polls: the decision only, nothing personal."""
    entry = _entry_at(_resolve(signed), entry_id)
    return jsonify(decision=entry.decision.value)


# The "Report a problem at this gate" form: importing it registers its routes on ``bp``.
from hub.web import rider_report  # noqa: E402, F401
