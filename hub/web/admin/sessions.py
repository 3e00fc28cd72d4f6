"""Signing in to the console and out of it.

``/admin/login`` checks the username and password (argon2id); a user with a TOTP secret
is then asked for a code on ``/admin/login/code``. Signing in clears the browser's
session and starts a new one (no session fixation). Failed attempts are audited
(``console.sign_in_failed``) and counted from the audit log, so the limits hold across
workers: after :data:`MAX_FAILURES_PER_USER` failures for one username, or
:data:`MAX_FAILURES_PER_ADDRESS` from one client address, within :data:`FAILURE_WINDOW`,
sign-in answers 429 until the oldest of them is out of the window. Before any of that,
``rate_limit_sign_in`` bounds the sign-in POSTs from one client address
(:mod:`hub.web.limits`), so a flood costs no password hashing and at most one audit
record a window. Signing out is a POST.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from hub.core.users import LoginRecord, check_password, totp_step
from hub.web.admin import bp, error_page, http_error, is_console_request
from hub.web.admin.auth import (
    SESSION_KEY,
    client_address,
    new_session_token,
    safe_next,
    session_id,
    signed_in_user,
)
from hub.web.context import runtime_of

MAX_FAILURES_PER_USER = 5
#: Higher than per user: a property office's guards share one address.
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = timedelta(minutes=15)
#: How long the code step waits for its code after the password was right.
CODE_STEP_TIMEOUT = timedelta(minutes=5)
#: Usernames longer than this are cut before they are looked up or audited.
MAX_USERNAME = 64
_PENDING = "console_pending"


def _home(next_url: str | None = None) -> Response:
    return redirect(safe_next(next_url) or url_for("admin.dashboard"), 303)


def _wait(username: str, address: str, now: datetime) -> timedelta | None:
    """How long sign-in is refused for this username or address; ``None``: not refused."""
    store = runtime_of().store
    since = now - FAILURE_WINDOW
    waits = []
    for limit, found in (
        (MAX_FAILURES_PER_USER, store.login_failures(since, username=username, limit=MAX_FAILURES_PER_USER)),
        (MAX_FAILURES_PER_ADDRESS, store.login_failures(since, address=address, limit=MAX_FAILURES_PER_ADDRESS)),
    ):
        if len(found) >= limit and found[limit - 1] + FAILURE_WINDOW > now:
            waits.append(found[limit - 1] + FAILURE_WINDOW - now)
    return max(waits) if waits else None


def _throttled(who: str, address: str, wait: timedelta, template: str, **context: Any) -> tuple[str, int, dict]:
    runtime_of().store.audit("anonymous", "console.sign_in_throttled", who, {"address": address})
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    message = _(
        "Too many failed sign-ins. Wait %(minutes)s minutes, then try again. "
        "If you forgot your password, ask an operator to reset it.",
        minutes=minutes,
    )
    page = render_template(template, error=message, **context)
    return page, 429, {"Retry-After": str(math.ceil(wait.total_seconds()))}


def rate_limited(seconds: int) -> tuple[str, int]:
    """The sign-in page (or the code step) again, when the client address sent more
    sign-ins than ``rate_limit_sign_in`` allows (:mod:`hub.web.limits` adds Retry-After).
    The view does not run: no password is checked, no failure recorded."""
    message = _(
        "Too many sign-in attempts from your network. Wait %(seconds)s seconds, then try again.", seconds=seconds
    )
    if request.endpoint == "admin.login_code":
        return render_template("admin/login_code.html", error=message), 429
    context = {
        "next": safe_next(request.values.get("next")),
        "username": request.form.get("username", "").strip()[:MAX_USERNAME],
    }
    return render_template("admin/login.html", error=message, **context), 429


def _start_session(record: LoginRecord, next_url: str | None, data: dict[str, Any] | None = None) -> Response:
    session.clear()  # a new session: nothing from before signing in carries over
    token = new_session_token()
    runtime_of().store.start_console_session(session_id(token), record.account.id, client_address(), data)
    session[SESSION_KEY] = token
    return _home(next_url)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if signed_in_user() is not None:
            return _home(next_url)
        return render_template("admin/login.html", next=next_url, username="")
    rt = runtime_of()
    username = request.form.get("username", "").strip()[:MAX_USERNAME]
    password = request.form.get("password", "")
    address = client_address()
    now = rt.clock.now()
    context = {"next": next_url, "username": username}
    if not username or not password:
        return render_template("admin/login.html", error=_("Type your username and password."), **context), 400
    wait = _wait(username, address, now)
    if wait is not None:
        return _throttled(username, address, wait, "admin/login.html", **context)
    record = rt.store.login_record(username)
    if not check_password(record.password_hash if record else None, password):
        rt.store.record_login_failure(username, address, "unknown_user" if record is None else "password")
        return render_template("admin/login.html", error=_("Wrong username or password."), **context), 401
    assert record is not None
    if record.account.disabled:
        rt.store.record_login_failure(username, address, "disabled")
        message = _("This account is disabled. Ask an operator if you still need it.")
        return render_template("admin/login.html", error=message, **context), 403
    if record.totp_secret is not None:
        session.clear()
        session[_PENDING] = {"user": username, "at": now.timestamp(), "next": next_url}
        return redirect(url_for("admin.login_code"), 303)
    return _start_session(record, next_url)


def _pending(now: datetime) -> dict[str, Any] | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if now.timestamp() - pending["at"] > CODE_STEP_TIMEOUT.total_seconds():
        return None
    return pending


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    rt = runtime_of()
    now = rt.clock.now()
    pending = _pending(now)
    if pending is None:
        session.pop(_PENDING, None)
        flash(_("Please sign in again."), "notice")
        return redirect(url_for("admin.login"), 303)
    if request.method == "GET":
        return render_template("admin/login_code.html")
    username, address = pending["user"], client_address()
    wait = _wait(username, address, now)
    if wait is not None:
        return _throttled(username, address, wait, "admin/login_code.html")
    record = rt.store.login_record(username)
    if record is None or record.account.disabled or record.totp_secret is None:
        session.pop(_PENDING, None)
        return redirect(url_for("admin.login"), 303)
    step = totp_step(record.totp_secret, request.form.get("code", ""), now)
    last = rt.store.last_totp_step(username, now - CODE_STEP_TIMEOUT)
    if step is None or (last is not None and step <= last):
        rt.store.record_login_failure(username, address, "totp")
        message = _("This code is not right. Type the 6 digits your authenticator app shows now.")
        return render_template("admin/login_code.html", error=message), 401
    return _start_session(record, pending.get("next"), {"second_factor": "totp", "totp_step": step})


@bp.post("/logout")
def logout() -> Response:
    token = session.get(SESSION_KEY)
    if isinstance(token, str):
        runtime_of().store.end_console_session(session_id(token), "signed_out")
    session.clear()
    flash(_("You have signed out."), "notice")
    return redirect(url_for("admin.login"), 303)


def csrf_refused(exc: CSRFError) -> Any:
    """A form without a valid CSRF token (sent from elsewhere, or open too long)."""
    if not is_console_request():
        return http_error(exc)
    message = _("This form was open too long or did not come from the console. Please try again.")
    if request.endpoint in ("admin.login", "admin.login_code"):
        session.pop(_PENDING, None)
        return render_template("admin/login.html", error=message, next=None, username=""), 400
    return error_page(400, message)
