"""The rider page's "Report a problem at this gate": a short form under the gate's signed
code, ``/g/<signed gate code>/report``, stored as feedback from a rider for the
community's management (the console's Feedback page).

Like the entry form, it carries a signed token bound to the gate that expires (riders
have no session); a client address may send :data:`REPORTS_PER_HOUR` reports an hour.
The reporter's contact is optional and shown masked in the console.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from hub.core.model import FeedbackCategory, FeedbackSource
from hub.web.rider import FormExpired, _Place, _resolve, _switch_url, _tokens, bp

#: Reports one client address may send in an hour (a gate's riders rarely share one).
REPORTS_PER_HOUR = 3
MAX_BODY = 1000
MAX_CONTACT = 100


def category_choices() -> list[tuple[str, str]]:
    """The categories as a rider reads them."""
    labels = {
        FeedbackCategory.ACCESS: _("Getting in or out"),
        FeedbackCategory.ROUTE: _("Finding the way"),
        FeedbackCategory.PARKING: _("Parking"),
        FeedbackCategory.SAFETY: _("Safety"),
        FeedbackCategory.CONDUCT: _("How I was treated"),
        FeedbackCategory.OTHER: _("Something else"),
    }
    return [(category.value, labels[category]) for category in FeedbackCategory]


def _client() -> str:
    return request.remote_addr or ""


def _show(place: _Place, form: dict[str, str], error: str = "", status: int = 200) -> tuple[str, int]:
    page = render_template(
        "rider/report.html",
        gate=place.gate,
        community=place.community,
        form=form,
        error=error,
        categories=category_choices(),
        token=_tokens(place.rt).issue(place.gate.id),
        action=url_for("rider.report_page", signed=place.signed),
        back_url=url_for("rider.gate_page", signed=place.signed),
        switch_url=_switch_url(),
        max_body=MAX_BODY,
        max_contact=MAX_CONTACT,
    )
    return page, status


@bp.get("/<signed>/report")
def report_page(signed: str) -> tuple[str, int]:
    return _show(_resolve(signed), {"category": "", "body": "", "contact": ""})


@bp.post("/<signed>/report")
def report_submit(signed: str) -> Any:
    place = _resolve(signed)
    sent = request.form
    form = {
        "category": sent.get("category", ""),
        "body": sent.get("body", "").replace("\r\n", "\n").strip(),
        "contact": sent.get("contact", "").strip(),
    }
    try:
        _tokens(place.rt).check(sent.get("csrf", ""), place.gate.id)
    except FormExpired:
        return _show(place, form, _("This page was open too long. Please send it again."), 400)
    since = place.rt.clock.now() - timedelta(hours=1)
    if place.rt.store.feedback_sent_from(_client(), since) >= REPORTS_PER_HOUR:
        return _show(place, form, _("You have sent several reports in the last hour. Please tell the guard."), 429)
    error = _problem(form)
    if error:
        return _show(place, form, error, 400)
    place.rt.store.add_feedback(
        place.community.id,
        source=FeedbackSource.RIDER,
        category=form["category"],
        body=form["body"],
        contact=form["contact"],
        gate_id=place.gate.id,
        actor="rider-page",
        address=_client(),
    )
    return redirect(url_for("rider.report_sent", signed=signed), 303)


def _problem(form: dict[str, str]) -> str:
    """What is wrong with the report, in the rider's language; empty when nothing."""
    if form["category"] not in {c.value for c in FeedbackCategory}:
        return _("Choose what the problem is about.")
    if not form["body"]:
        return _("Describe the problem.")
    if len(form["body"]) > MAX_BODY or len(form["contact"]) > MAX_CONTACT:
        return _("This is too long. Please shorten it.")
    if not (_plain(form["body"], allowed="\n\t") and _plain(form["contact"], allowed="")):
        return _("Please send plain text.")
    return ""


def _plain(value: str, *, allowed: str) -> bool:
    """Whether ``value`` has no control characters but ``allowed`` (PostgreSQL refuses NUL)."""
    return not any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value)


@bp.get("/<signed>/report/sent")
def report_sent(signed: str) -> str:
    place = _resolve(signed)
    return render_template(
        "rider/report_sent.html",
        gate=place.gate,
        community=place.community,
        back_url=url_for("rider.gate_page", signed=signed),
        switch_url=_switch_url(),
    )
