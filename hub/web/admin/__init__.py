"""The admin console: server-rendered pages under ``/admin`` for hub operators (everything),
property managers (their own communities) and guards (the manual checks of their gates).

Who may see what is decided in :mod:`hub.web.admin.auth`; every form carries Flask-WTF's
CSRF token; every console response carries the headers of :data:`SECURITY_HEADERS`
(and HSTS under HTTPS), and none is cached. See docs/console.md.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from hub.core.errors import Conflict, HubError
from hub.core.errors import NotFound as HubNotFound
from hub.web.errors import http_error
from hub.web.i18n import language

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

PREFIX = "/admin"

SECURITY_HEADERS = {
    # Nothing inline and nothing from elsewhere: scripts, styles and the chart library
    # are files the hub serves.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=()",
    # Pages show riders' (masked) data and who is signed in: never kept by caches.
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"

#: The console's pages in the navigation, in order. A link shows when its page exists and
#: the signed-in user's role may open it (the roles its ``login_required`` names).
NAV = (
    "admin.dashboard",
    "admin.guard_queue",
    "admin.entries",
    "admin.feedback",
    "admin.reports",
    "admin.communities",
    "admin.connections",
    "admin.plugins",
    "admin.jobs",
    "admin.audit_log",
)


def _nav_labels() -> dict[str, str]:
    return {
        "admin.dashboard": _("Dashboard"),
        "admin.guard_queue": _("Manual checks"),
        "admin.entries": _("Entries"),
        "admin.feedback": _("Feedback"),
        "admin.reports": _("Reports"),
        "admin.communities": _("Communities"),
        "admin.connections": _("Connections"),
        "admin.plugins": _("Plugins"),
        "admin.jobs": _("Jobs"),
        "admin.audit_log": _("Audit log"),
    }


def is_console_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def nav_links(role: str) -> list[dict[str, Any]]:
    """The navigation links ``role`` may follow, with which one is the current page."""
    links = []
    labels = _nav_labels()
    for endpoint in NAV:
        view = current_app.view_functions.get(endpoint)
        if view is None:
            continue
        roles = getattr(view, "console_roles", ())
        if roles and role not in roles:
            continue
        links.append({"url": url_for(endpoint), "label": labels[endpoint], "current": request.endpoint == endpoint})
    return links


def switch_url() -> str:
    """This page in the other language."""
    args = {**request.args.to_dict(), "lang": "en" if language() == "zh" else "zh"}
    if request.endpoint and request.method == "GET":
        return url_for(request.endpoint, **(request.view_args or {}), **args)
    return url_for("admin.dashboard", lang=args["lang"])


@bp.app_context_processor
def _console_globals() -> dict[str, Any]:
    from hub.web.admin.auth import signed_in_user

    if not is_console_request():
        return {}
    return {"console_user": signed_in_user, "nav_links": nav_links, "switch_url": switch_url}


def _protect(response: Response) -> Response:
    if not is_console_request():
        return response
    response.headers.update(SECURITY_HEADERS)
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers["Strict-Transport-Security"] = HSTS
    return response


def _error_text(status: int) -> str:
    return {
        400: _("This request could not be understood."),
        401: _("Please sign in."),
        403: _("Your role may not open this page."),
        404: _("There is no such page, or it is not yours to see."),
        405: _("This page cannot be opened like that."),
        409: _("Someone changed this at the same time. Reload the page and try again."),
    }.get(status) or _("Something went wrong.")


def error_page(status: int, message: str | None = None) -> tuple[str, int]:
    return render_template("admin/error.html", status=status, message=message or _error_text(status)), status


def _http_error(exc: HTTPException) -> Any:
    if not is_console_request() or exc.code is None or exc.code >= 500:
        return http_error(exc)
    return error_page(exc.code)


@bp.errorhandler(HubNotFound)
def _hub_not_found(_exc: HubNotFound) -> tuple[str, int]:
    return error_page(404)


@bp.errorhandler(Conflict)
def _hub_conflict(_exc: Conflict) -> tuple[str, int]:
    return error_page(409)


@bp.errorhandler(HubError)
def _hub_error(exc: HubError) -> tuple[str, int]:
    return error_page(400, str(exc))


def init_app(app: Flask) -> None:
    """Register the console on the app: its pages, headers and error pages."""
    from flask_wtf.csrf import CSRFError

    app.register_blueprint(bp)
    app.after_request(_protect)
    # Replaces the API's handler (hub.web.errors), which it calls for everything else.
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, sessions.csrf_refused)


# The pages: importing them registers their routes on ``bp``.
from hub.web.admin import (  # noqa: E402
    audit_log,  # noqa: F401
    communities,  # noqa: F401
    connections,  # noqa: F401
    dashboard,  # noqa: F401
    entries,  # noqa: F401
    feedback,  # noqa: F401
    guard,  # noqa: F401
    jobs,  # noqa: F401
    plugins,  # noqa: F401
    reports,  # noqa: F401
    sessions,
)
