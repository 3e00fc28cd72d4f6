"""The console's feedback: reports from riders, residents, platforms, the property
company and guards, with answers and a status — the coordination between a community,
its residents, the property company and the platforms.

Managers see and work their own communities' reports, operators every community's;
guards answer 403. Another community's report answers 404 by any URL, GET or POST, and
nothing changes. A manager or operator records a resident's, guard's or the property
company's report (``feedback.created``), answers it, optionally sharing the answer with
the reporter (``feedback.responded``), and changes its status
(``feedback.status_changed``). The reporter's contact is shown masked; an operator may
reveal it, giving a reason (``personal_data.revealed``, see :mod:`hub.web.admin.reveal`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from hub.core.errors import NotFound
from hub.core.model import Community, Feedback, FeedbackCategory, FeedbackSource, FeedbackStatus, Gate
from hub.web.admin import bp
from hub.web.admin.auth import audit, current_user, login_required, require_community, visible_communities
from hub.web.admin.dates import local, shared_timezone
from hub.web.admin.reveal import reveal_reason
from hub.web.context import runtime_of

PAGE_SIZE = 50
#: The roles that may work feedback.
READERS = ("operator", "manager")
#: Who a report recorded in the console comes from (riders use the rider page and
#: platforms the API).
RECORDED_SOURCES = (FeedbackSource.RESIDENT, FeedbackSource.GUARD, FeedbackSource.PROPERTY)
MAX_BODY = 2000
MAX_CONTACT = 200
#: Report ids are database integers: larger numbers are no report (and no query).
_MAX_ID = 2**31 - 1
_ID = re.compile(r"^[0-9]{1,10}$")


def _text(value: str) -> str:
    """A form's text without surrounding space, with the browser's CRLF line breaks as LF."""
    return value.replace("\r\n", "\n").strip()


def _has_control(value: str, *, multiline: bool) -> bool:
    """Whether ``value`` holds control characters (line breaks and tabs are fine in
    ``multiline`` text); PostgreSQL refuses NUL in text outright."""
    allowed = "\n\r\t" if multiline else ""
    return any((ord(ch) < 32 or ord(ch) == 127) and ch not in allowed for ch in value)


def source_label(source: FeedbackSource) -> str:
    return {
        FeedbackSource.RIDER: _("Rider"),
        FeedbackSource.RESIDENT: _("Resident"),
        FeedbackSource.PLATFORM: _("Platform"),
        FeedbackSource.PROPERTY: _("Property company"),
        FeedbackSource.GUARD: _("Guard"),
    }[source]


def category_label(category: FeedbackCategory) -> str:
    return {
        FeedbackCategory.ACCESS: _("Getting in or out"),
        FeedbackCategory.ROUTE: _("Route and signs"),
        FeedbackCategory.PARKING: _("Parking"),
        FeedbackCategory.SAFETY: _("Safety"),
        FeedbackCategory.CONDUCT: _("Conduct"),
        FeedbackCategory.OTHER: _("Other"),
    }[category]


def status_label(status: FeedbackStatus) -> str:
    return {
        FeedbackStatus.OPEN: _("Open"),
        FeedbackStatus.IN_PROGRESS: _("In progress"),
        FeedbackStatus.RESOLVED: _("Resolved"),
        FeedbackStatus.CLOSED: _("Closed"),
    }[status]


def _labels() -> dict[str, Any]:
    return {
        "source_label": source_label,
        "category_label": category_label,
        "status_label": status_label,
        "sources": list(FeedbackSource),
        "categories": list(FeedbackCategory),
        "statuses": list(FeedbackStatus),
    }


def _scope() -> Collection[str] | None:
    """The communities whose reports the user works (``None``: every one)."""
    user = current_user()
    return None if user.is_operator else user.community_ids


def _choice(name: str, allowed: set[str]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        abort(400, f"unknown {name} {value!r}")
    return value


def _cursor(report: Feedback) -> str:
    return f"{report.created_at.isoformat()}|{report.id}"


def _parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    if not value:
        return None
    at, _sep, report_id = value.partition("|")
    try:
        moment = datetime.fromisoformat(at)
        number = int(report_id)
    except ValueError:
        abort(400, "before must be a cursor from this page's 'older' link")
    if moment.tzinfo is None:
        abort(400, "before must be a cursor from this page's 'older' link")
    return moment, number


@bp.get("/feedback")
@login_required(*READERS)
def feedback() -> str:
    rt = runtime_of()
    communities = visible_communities()
    community_id = request.args.get("community") or None
    community = require_community(community_id) if community_id else None
    status = _choice("status", {s.value for s in FeedbackStatus})
    source = _choice("source", {s.value for s in FeedbackSource})
    scope = [community.id] if community is not None else _scope()
    found = rt.store.list_feedback(
        community_ids=scope,
        status=status,
        source=source,
        before=_parse_cursor(request.args.get("before")),
        limit=PAGE_SIZE + 1,
    )
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    filters = {k: v for k, v in {"community": community_id, "status": status, "source": source}.items() if v}
    timezone = community.timezone if community is not None else shared_timezone(communities)
    counts = rt.store.feedback_counts(community_ids=scope, source=source)
    return render_template(
        "admin/feedback.html",
        reports=page,
        communities=communities,
        community_names={c.id: c.name for c in communities},
        counts=counts,
        count_urls={s: url_for("admin.feedback", **{**filters, "status": s.value}) for s in FeedbackStatus},
        filters=filters,
        timezone=timezone,
        local=lambda moment: local(moment, timezone),
        next_url=url_for("admin.feedback", **filters, before=_cursor(page[-1])) if more else None,
        first_url=url_for("admin.feedback", **filters) if request.args.get("before") else None,
        **_labels(),
    )


# -- one report ---------------------------------------------------------------------------


def _report(feedback_id: str) -> tuple[Feedback, Community]:
    """The report, when the user works its community; 404 otherwise (ids that are not
    a report's number too: never a query)."""
    if not _ID.fullmatch(feedback_id) or not 0 < int(feedback_id) <= _MAX_ID:
        abort(404)
    try:
        report = runtime_of().store.get_feedback(int(feedback_id), community_ids=_scope())
    except NotFound:
        abort(404)
    return report, require_community(report.community_id)


def _detail(report: Feedback, community: Community, status: int = 200, **form: Any) -> tuple[str, int]:
    rt = runtime_of()
    gate = _gate_or_none(report.gate_id)
    connection_name = ""
    if report.connection_id:
        try:
            connection_name = rt.store.get_connection(report.connection_id).name
        except NotFound:
            connection_name = report.connection_id
    context = {
        "answer": "",
        "shared": False,
        "answer_problem": "",
        "status_problem": "",
        "contact": None,
        "reveal_problem": False,
        **form,
    }
    page = render_template(
        "admin/feedback_detail.html",
        report=report,
        reveal_url=url_for("admin.feedback_reveal", feedback_id=report.id),
        community=community,
        gate=gate,
        connection_name=connection_name,
        timezone=community.timezone,
        local=lambda moment: local(moment, community.timezone),
        max_body=MAX_BODY,
        **context,
        **_labels(),
    )
    return page, status


@bp.get("/feedback/<feedback_id>")
@login_required(*READERS)
def feedback_detail(feedback_id: str) -> Any:
    report, community = _report(feedback_id)
    return _detail(report, community)


@bp.post("/feedback/<feedback_id>/reveal")
@login_required("operator")
def feedback_reveal(feedback_id: str) -> Any:
    report, community = _report(feedback_id)
    reason = reveal_reason()
    if reason is None:
        return _detail(report, community, 400, reveal_problem=True)
    contact = runtime_of().store.feedback_contact(report.id)
    audit(
        "personal_data.revealed",
        f"feedback:{report.id}",
        {"community": report.community_id, "fields": ["contact"], "reason": reason},
    )
    return _detail(report, community, contact=contact)


@bp.post("/feedback/<feedback_id>/respond")
@login_required(*READERS)
def feedback_respond(feedback_id: str) -> Any:
    report, community = _report(feedback_id)
    answer = _text(request.form.get("body", ""))
    shared = "shared" in request.form
    problem = ""
    if not answer:
        problem = _("Write an answer.")
    elif len(answer) > MAX_BODY:
        problem = _("An answer is at most %(n)s characters.", n=MAX_BODY)
    elif _has_control(answer, multiline=True):
        problem = _("Remove the control characters from the text.")
    if problem:
        return _detail(report, community, 400, answer=answer, shared=shared, answer_problem=problem)
    runtime_of().store.respond_to_feedback(
        report.id, answer, shared_with_reporter=shared, actor=current_user().actor, community_ids=_scope()
    )
    flash(_("Your answer was saved."), "success")
    return redirect(url_for("admin.feedback_detail", feedback_id=report.id, _anchor="answers"), 303)


@bp.post("/feedback/<feedback_id>/status")
@login_required(*READERS)
def feedback_status(feedback_id: str) -> Any:
    report, community = _report(feedback_id)
    chosen = request.form.get("status", "")
    if chosen not in {s.value for s in FeedbackStatus}:
        return _detail(report, community, 400, status_problem=_("Choose a status."))
    _stored, changed = runtime_of().store.set_feedback_status(
        report.id, chosen, actor=current_user().actor, community_ids=_scope()
    )
    label = status_label(FeedbackStatus(chosen))
    if changed:
        flash(_("The status is now “%(status)s”.", status=label), "success")
    else:
        flash(_("The status was already “%(status)s”.", status=label), "notice")
    return redirect(url_for("admin.feedback_detail", feedback_id=report.id), 303)


# -- recording a report -------------------------------------------------------------------


@bp.route("/feedback/new", methods=["GET", "POST"])
@login_required(*READERS)
def feedback_new() -> Any:
    rt = runtime_of()
    communities = visible_communities()
    gates = [gate for c in communities for gate in rt.store.list_gates(c.id)]
    context: dict[str, Any] = {
        "communities": communities,
        "community_names": {c.id: c.name for c in communities},
        "gates": gates,
        "recorded_sources": RECORDED_SOURCES,
        "max_body": MAX_BODY,
        "max_contact": MAX_CONTACT,
        "problems": {},
        **_labels(),
    }
    if request.method == "GET":
        chosen = request.args.get("community") or (communities[0].id if len(communities) == 1 else "")
        if chosen:
            require_community(chosen)  # another community's: 404
        context["form"] = {
            "community": chosen,
            "source": FeedbackSource.RESIDENT.value,
            "category": "",
            "gate": "",
            "body": "",
            "contact": "",
        }
        return render_template("admin/feedback_form.html", **context)

    sent = request.form
    form = {name: _text(sent.get(name, "")) for name in ("community", "source", "category", "gate", "body", "contact")}
    context["form"] = form
    problems: dict[str, str] = {}
    if not form["community"]:
        problems["community"] = _("Choose a community.")
    else:
        require_community(form["community"])  # another community's: 404, nothing stored
    if form["source"] not in {s.value for s in RECORDED_SOURCES}:
        problems["source"] = _("Choose who reported it.")
    if form["category"] not in {c.value for c in FeedbackCategory}:
        problems["category"] = _("Choose what it is about.")
    gate = next((g for g in gates if g.id == form["gate"]), None)
    if form["gate"] and (gate is None or gate.community_id != form["community"]):
        problems["gate"] = _("Choose a gate of this community, or none.")
    if not form["body"]:
        problems["body"] = _("Write what happened.")
    elif len(form["body"]) > MAX_BODY:
        problems["body"] = _("A report is at most %(n)s characters.", n=MAX_BODY)
    elif _has_control(form["body"], multiline=True):
        problems["body"] = _("Remove the control characters from the text.")
    if len(form["contact"]) > MAX_CONTACT:
        problems["contact"] = _("A contact is at most %(n)s characters.", n=MAX_CONTACT)
    elif _has_control(form["contact"], multiline=False):
        problems["contact"] = _("Write the contact on one line.")
    if problems:
        context["problems"] = problems
        return render_template("admin/feedback_form.html", **context), 400
    report, _created = rt.store.add_feedback(
        form["community"],
        source=form["source"],
        category=form["category"],
        body=form["body"],
        contact=form["contact"],
        gate_id=gate.id if gate is not None else None,
        actor=current_user().actor,
    )
    flash(_("The report was recorded."), "success")
    return redirect(url_for("admin.feedback_detail", feedback_id=report.id), 303)


def _gate_or_none(gate_id: str | None) -> Gate | None:
    if not gate_id:
        return None
    try:
        return runtime_of().store.get_gate(gate_id)
    except NotFound:
        return None
