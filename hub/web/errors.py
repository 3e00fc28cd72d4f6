"""Errors on the JSON API always look like
``{"error": {"code": "...", "message": "...", "details": {...}}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from hub.core.errors import Conflict, HubError, NotFound, SettingsError

API_PREFIX = "/api/"

_STATUS: dict[type[HubError], int] = {NotFound: 404, Conflict: 409, SettingsError: 422}


def api_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    response = jsonify(error={"code": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def _hub_error(exc: HubError) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    details = {"fields": exc.errors} if isinstance(exc, SettingsError) else None
    return api_error(status, exc.code, str(exc), details)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if not request.path.startswith(API_PREFIX):
        return exc  # the console's pages keep Flask's HTML error pages
    code = (exc.name or "error").lower().replace(" ", "_")
    return api_error(exc.code or 500, code, exc.description or exc.name)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HubError, _hub_error)
    app.register_error_handler(HTTPException, _http_error)
