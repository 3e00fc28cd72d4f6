"""Rate limits: entries per gate, per rider and per API key, and console sign-ins per
client address (Flask-Limiter, fixed windows).

============  ===========================================  =================================
limit         counts                                       keyed by
============  ===========================================  =================================
per gate      entries made at a gate: ``201`` from         the gate code inside the verified
              ``POST /api/v1/entries``, the rider page's   signed code
              redirect to its answer
per rider     entries made with one rider credential       an HMAC (keyed with
              (the same two routes)                        ``secret_key``) of the connection,
                                                           credential kind and value: no
                                                           rider data is ever stored
per API key   every ``POST /api/v1/entries`` of a key      the key's id
sign-in       every sign-in ``POST`` (password and code)   the client address
============  ===========================================  =================================

Limits come from the configuration (``rate_limit_per_gate`` and the rest, see
:mod:`hub.core.config`; empty: no limit). Entries per gate and per rider are counted only
when an entry was made, and only for requests that could make one (a valid key on the
API, a genuine gate code): an API key of another community cannot use up a gate's
allowance with requests it is refused. The limits are checked before the view runs
(:func:`hub.web.auth.request_key` authenticates the key once for both; the body is parsed
once for the gate and the rider keys). A refused request gets ``429`` with
``Retry-After`` — the API's error shape on the API, the form again with a message on the
rider page and the sign-in page — and writes nothing, except that the first refusal of a
key in each window is logged and audited (``rate_limit.exceeded``), not the flood after it.

The limited views are wrapped here, by endpoint (:func:`init_app`), with one
:class:`Limiter` per app: the API and the rider page carry no limit code, and each app
(each test's) has the storage its configuration names.

Counters live in ``rate_limit_storage_url``: ``memory://`` counts in each web process;
``redis://`` shares them between processes. When Redis cannot be reached the limits
**fail open** — failing closed would stop riders at the gates because a cache restarted:
Flask-Limiter then counts in the process's memory instead (logging a warning on the
``flask-limiter`` logger) and tries Redis again after 1, 2, 4… up to 32 seconds; errors
are never raised into a request (``swallow_errors``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app, g, make_response, render_template, request
from flask.wrappers import Response
from flask_babel import gettext as _
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded
from limits import parse_many
from limits.errors import ConfigurationError

from hub.core.config import Config, ConfigError
from hub.core.errors import NotFound
from hub.web import auth
from hub.web.context import runtime_of
from hub.web.errors import api_error

log = logging.getLogger(__name__)

EXTENSION = "last100.limiter"

ENTRY_API = "api.create_entry"
RIDER_PAGE = "rider.submit"
SIGN_IN = ("admin.login", "admin.login_code")

#: The scopes of the limits: their names in the counters' keys and in the audit log.
PER_GATE = "entries-per-gate"
PER_RIDER = "entries-per-rider"
PER_API_KEY = "entries-per-api-key"
SIGN_IN_PER_ADDRESS = "sign-in-per-address"

#: A hung Redis must not hold a gate up for long: past this, the limits fail open.
REDIS_TIMEOUT_S = 0.5
#: Signed gate codes are a gate code and a short signature; longer is not one.
_MAX_SIGNED = 200


def limiter_of(app: Flask | None = None) -> Limiter:
    return (app or current_app).extensions[EXTENSION]


def limit_setting(config: Config, setting: str) -> str | None:
    """A limit from the configuration, checked; ``None`` when it is off (empty).

    :raises ConfigError: naming the setting when it is not a limit.
    """
    text = str(getattr(config, setting)).strip()
    if not text:
        return None
    try:
        parse_many(text)
    except ValueError:
        raise ConfigError(
            f"setting {setting!r}: {text!r} is not a rate limit such as '60/minute' or '1000 per hour'"
        ) from None
    return text


# -- what a request is counted by -------------------------------------------------------------


def _cached(name: str, find: Callable[[], Any]) -> Any:
    """``find()``, once per request (the limits ask several times)."""
    attr = f"rate_limit_{name}"
    if attr not in g:
        try:
            value = find()
        except Exception:  # the view refuses such a request; raised here, it would pass for a storage failure
            value = None
        setattr(g, attr, value)
    return getattr(g, attr)


def _body() -> Mapping[str, Any] | None:
    def parse() -> Mapping[str, Any] | None:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None

    return _cached("body", parse)


def gate_code() -> str | None:
    """The code of the gate the request enters at, from its verified signed code."""

    def find() -> str | None:
        if request.endpoint == RIDER_PAGE:
            signed = (request.view_args or {}).get("signed")
        else:
            signed = (_body() or {}).get("gate_code")
        if not isinstance(signed, str) or len(signed) > _MAX_SIGNED:
            return None
        try:
            return runtime_of().gate_codes.verify(signed)
        except NotFound:
            return None

    return _cached("gate", find)


def rider_key() -> str | None:
    """An HMAC of the rider's connection, credential kind and credential: the same rider
    is the same key, and the counters' keys say nothing about who it is."""

    def find() -> str | None:
        if request.endpoint == RIDER_PAGE:
            form = request.form
            parts = [form.get("connection", "").strip(), form.get("kind", "typed_code"), form.get("code", "").strip()]
        else:
            body = _body() or {}
            credential = body.get("credential")
            if not isinstance(credential, dict):
                return None
            parts = [body.get("connection"), credential.get("kind"), credential.get("value")]
        if not all(isinstance(part, str) and part for part in parts):
            return None
        secret = str(current_app.secret_key or "").encode()
        message = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]

    return _cached("rider", find)


def _api_key_id() -> str | None:
    key = auth.request_key()
    return None if key is None else str(key.id)


def _could_enter() -> bool:
    """Whether this request could make an entry: a genuine gate, and on the API a key."""
    return gate_code() is not None and (request.endpoint != ENTRY_API or auth.request_key() is not None)


def _made_an_entry(response: Response) -> bool:
    return response.status_code == (201 if request.endpoint == ENTRY_API else 303)


# -- when a limit is reached ---------------------------------------------------------------------


def _actor() -> str:
    if request.endpoint == ENTRY_API:
        key = auth.request_key()
        return f"api:{key.name}" if key is not None else "api"
    return "rider-page" if request.endpoint == RIDER_PAGE else "anonymous"


def _note(breached: RequestLimit) -> None:
    """Log and audit the first refusal of a key in each window; a flood after it writes
    nothing (a marker counted in the limits' own storage says whether it was noted)."""
    item = breached.limit
    marker = type(item)(1, item.multiples, namespace="LAST100-NOTED")
    if not limiter_of().limiter.hit(marker, *breached.request_args):
        return
    scope = breached.request_args[-1]
    details: dict[str, Any] = {"limit": str(item), "endpoint": request.endpoint, "address": request.remote_addr or ""}
    if scope == PER_GATE:
        details["gate"] = gate_code()
    actor = _actor()
    log.warning("rate limit %s (%s) reached at %s by %s", scope, item, request.endpoint, actor)
    runtime_of().store.audit(actor, "rate_limit.exceeded", scope, details)


def _retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the breached limit's window ends."""
    current = limiter_of().current_limit
    try:
        if current is not None and current.breached:
            return max(1, math.ceil(current.window.reset_time - time.time()))
    except Exception:  # the storage went away meanwhile: the window's length is an upper bound
        pass
    return max(1, exc.limit.limit.get_expiry())


_API_MESSAGES = {
    PER_GATE: "too many entries at this gate",
    PER_RIDER: "too many entries with this rider's credential",
    PER_API_KEY: "too many entries with this API key",
}


def _rider_page_refused(scope: str, seconds: int) -> Any:
    from hub.web import rider  # the rider page's own form, shown again with the message

    if scope == PER_GATE:
        message = _(
            "This gate is taking too many entries just now. Wait %(seconds)s seconds, then try again.", seconds=seconds
        )
    else:
        message = _("You have tried too many times. Wait %(seconds)s seconds, then try again.", seconds=seconds)
    try:
        return rider.show_sent_form_again(message, 429)
    except NotFound:
        return render_template("rider/not_found.html"), 404


def _refused(exc: RateLimitExceeded) -> Response:
    """A request over a limit: 429 and ``Retry-After``, in the form of where it was sent."""
    from hub.web.admin import sessions

    seconds = _retry_after(exc)
    scope = str(exc.limit.scope or "")
    if request.endpoint in SIGN_IN:
        response = make_response(sessions.rate_limited(seconds))
    elif request.endpoint == RIDER_PAGE:
        response = make_response(_rider_page_refused(scope, seconds))
    else:
        what = _API_MESSAGES.get(scope, "too many requests")
        message = f"{what}: at most {exc.limit.limit}; try again in {seconds} s"
        response = api_error(429, "rate_limited", message, {"limit": scope, "retry_after": seconds})
    response.headers["Retry-After"] = str(seconds)
    return response


# -- the app --------------------------------------------------------------------------------------


def _storage_options(url: str) -> dict[str, Any]:
    if url.split(":", 1)[0].lower() in ("redis", "rediss"):
        return {"socket_connect_timeout": REDIS_TIMEOUT_S, "socket_timeout": REDIS_TIMEOUT_S}
    return {}


def init_app(app: Flask, config: Config) -> Limiter:
    """Attach the limits to ``app`` (after its blueprints are registered): one
    :class:`Limiter` per app, with the configured storage, wrapping the limited views."""
    per_gate = limit_setting(config, "rate_limit_per_gate")
    per_rider = limit_setting(config, "rate_limit_per_rider")
    per_key = limit_setting(config, "rate_limit_per_api_key")
    sign_in = limit_setting(config, "rate_limit_sign_in")
    url = config.rate_limit_storage_url.strip() or "memory://"
    limiter = Limiter(
        key_func=lambda: request.remote_addr or "",
        storage_uri=url,
        storage_options=_storage_options(url),
        strategy="fixed-window",
        key_prefix=config.rate_limit_key_prefix,
        swallow_errors=True,
        # Redis down: count in this process instead (fail open, see the module's docstring).
        in_memory_fallback_enabled=not url.startswith("memory://"),
        on_breach=_note,
        headers_enabled=False,
    )
    try:
        limiter.init_app(app)
    except ConfigurationError as exc:
        raise ConfigError(f"setting 'rate_limit_storage_url': {exc}") from None
    app.extensions[EXTENSION] = limiter

    entry_limits = []
    if per_gate:
        entry_limits.append(
            limiter.shared_limit(
                per_gate,
                PER_GATE,
                key_func=lambda: gate_code() or "",
                exempt_when=lambda: not _could_enter(),
                deduct_when=_made_an_entry,
            )
        )
    if per_rider:
        entry_limits.append(
            limiter.shared_limit(
                per_rider,
                PER_RIDER,
                key_func=lambda: rider_key() or "",
                exempt_when=lambda: not _could_enter() or rider_key() is None,
                deduct_when=_made_an_entry,
            )
        )
    routes: dict[str, list[Any]] = {ENTRY_API: list(entry_limits), RIDER_PAGE: list(entry_limits)}
    if per_key:
        routes[ENTRY_API].append(
            limiter.shared_limit(
                per_key, PER_API_KEY, key_func=lambda: _api_key_id() or "", exempt_when=lambda: _api_key_id() is None
            )
        )
    if sign_in:
        shared = limiter.shared_limit(sign_in, SIGN_IN_PER_ADDRESS, methods=["POST"])
        routes.update({endpoint: [shared] for endpoint in SIGN_IN})
    for endpoint, route_limits in routes.items():
        view = app.view_functions[endpoint]
        for route_limit in route_limits:
            view = route_limit(view)
        app.view_functions[endpoint] = view
    app.register_error_handler(RateLimitExceeded, _refused)
    return limiter
