"""Who is signed in to the console, and what they may see.

A console session is a row in the database (:class:`hub.core.db.ConsoleSessionRow`);
the browser holds a random token for it in Flask's signed session cookie, and the
database holds only the token's SHA-256. So signing out, a timeout, a password reset and
disabling a user end a session for good, in every worker, and a copied cookie stops
working with it. Sessions end after :data:`IDLE_TIMEOUT` without activity and
:data:`ABSOLUTE_TIMEOUT` after signing in, whatever the activity.

Views use :func:`login_required` and, inside a request, :func:`current_user`,
:func:`visible_communities`, :func:`require_community` and :func:`audit`. Another
community's objects answer 404 (never 403), so URLs say nothing about what exists.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound

from hub.core import errors
from hub.core.model import Community
from hub.core.users import Role, UserAccount
from hub.web.context import runtime_of

#: Sessions end after this long without a request (polling does not count).
IDLE_TIMEOUT = timedelta(minutes=30)
#: ... and this long after signing in, whatever the activity.
ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: How often activity is written down (the idle timeout is this precise).
_TOUCH_EVERY = timedelta(seconds=60)
#: The Flask session key holding the session's token.
SESSION_KEY = "console_session"
#: Requests with this header (the guard queue's refresh) do not count as activity and
#: answer 401 instead of a redirect when the session has ended.
POLL_HEADER = "X-Last100-Poll"


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in user. ``community_ids`` are the communities they work for (an
    operator's are every community); ``gate_ids`` the gates whose manual checks they may
    decide (a guard's are the gates of their communities, unless narrowed)."""

    id: int
    username: str
    role: str  # "operator" | "manager" | "guard"
    community_ids: frozenset[str]
    gate_ids: frozenset[str]

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"user:{self.username}"


def session_id(token: str) -> str:
    """What the database keeps of a session token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def client_address() -> str:
    """The client's address (as the trusted proxies report it, see ``trusted_proxies``)."""
    return request.remote_addr or ""


def _scope(account: UserAccount) -> ConsoleUser:
    rt = runtime_of()
    if account.role is Role.OPERATOR:
        communities = frozenset(c.id for c in rt.store.list_communities())
    else:
        communities = account.community_ids
    gates = frozenset(gate.id for gate in rt.store.list_gates() if gate.community_id in communities)
    if account.role is Role.GUARD and account.gate_ids:
        gates &= account.gate_ids
    return ConsoleUser(account.id, account.username, account.role.value, communities, gates)


def _end(token_id: str, reason: str, message: str | None) -> None:
    runtime_of().store.end_console_session(token_id, reason)
    session.clear()
    if message:
        flash(message, "notice")


def _load_user() -> ConsoleUser | None:
    """The user of this request's session, ending the session when it has timed out or
    its user was disabled; cached for the request."""
    if "console_user" in g:
        return g.console_user
    g.console_user = None
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        return None
    rt = runtime_of()
    token_id = session_id(token)
    stored = rt.store.console_session(token_id)
    if stored is None or stored.ended_at is not None:
        session.clear()
        return None
    now = rt.clock.now()
    if stored.user.disabled:
        _end(token_id, "disabled", None)
        return None
    if now - stored.created_at >= ABSOLUTE_TIMEOUT:
        _end(token_id, "expired", _("Your session ended after 12 hours. Please sign in again."))
        return None
    if now - stored.last_seen_at >= IDLE_TIMEOUT:
        _end(token_id, "idle", _("Your session ended after 30 minutes without activity. Please sign in again."))
        return None
    if POLL_HEADER not in request.headers and now - stored.last_seen_at >= _TOUCH_EVERY:
        rt.store.touch_console_session(token_id)
    g.console_user = _scope(stored.user)
    return g.console_user


def signed_in_user() -> ConsoleUser | None:
    """The signed-in user, or ``None`` (for pages that anyone may open, like sign-in)."""
    return _load_user()


def current_user() -> ConsoleUser:
    """The signed-in user; only inside views behind :func:`login_required`."""
    user = _load_user()
    if user is None:
        raise RuntimeError("current_user() outside a view behind login_required")
    return user


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path inside the console (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or "\\" in target:
        return None
    return target


def login_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Only for signed-in users, and only of ``roles`` when given: not signed in
    redirects to the sign-in page (coming back here after it); another role answers 403.
    The roles are kept on the view as ``console_roles``, for the navigation."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = _load_user()
            if user is None:
                if POLL_HEADER in request.headers:
                    abort(401)
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("admin.login", next=safe_next(back)))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded.console_roles = tuple(roles)  # type: ignore[attr-defined]
        return guarded

    return decorate


def visible_communities() -> list[Community]:
    """The communities the user may see: an operator's are all of them."""
    user = current_user()
    return [c for c in runtime_of().store.list_communities() if c.id in user.community_ids]


def require_community(community_id: str) -> Community:
    """The community, when the user may see it.

    :raises werkzeug.exceptions.NotFound: unknown, or not the user's (404 either way).
    """
    if community_id not in current_user().community_ids:
        raise NotFound()
    try:
        return runtime_of().store.get_community(community_id)
    except errors.NotFound:
        raise NotFound() from None


def require_gate(gate_id: str) -> str:
    """``gate_id`` when the user works that gate; 404 otherwise."""
    if gate_id not in current_user().gate_ids:
        raise NotFound()
    return gate_id


def audit(action: str, subject: str, data: dict | None = None) -> None:
    """Append to the audit log as the signed-in user (``user:<username>``)."""
    runtime_of().store.audit(current_user().actor, action, subject, data)
