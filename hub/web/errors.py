"""Errors on the JSON API always look like
``{"error": {"code": "...", "message": "...", "details": {...}}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from hub.core.errors import Conflict, HubError, NotFound, SettingsError

API_PREFIX = "/api/"

_STATUS: dict[type[HubError], int] = {NotFound: 404, Conflict: 409, SettingsError: 422}


class ApiError(Exception):
    """Raised by an API view to answer with an error in the API's format."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


def api_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    response = jsonify(error={"code": code, "message": message, "details": details or {}})
    response.status_code = status
    return response


def _api_error(exc: ApiError) -> Response:
    return api_error(exc.status, exc.code, exc.message, exc.details)


def _invalid_request(exc: ValidationError) -> Response:
    """A request body (or header) that does not fit its schema: 422, naming each bad
    field (``credential.kind``; ``_schema`` for the body as a whole)."""
    fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
    names = ", ".join(sorted(fields))
    return api_error(422, "invalid_request", f"the request has invalid fields: {names}", {"fields": fields})


def _hub_error(exc: HubError) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    details = {"fields": exc.errors} if isinstance(exc, SettingsError) else None
    return api_error(status, exc.code, str(exc), details)


def http_error(exc: HTTPException) -> Response | HTTPException:
    """An HTTP error on the API in the API's format; elsewhere Flask's own page (the
    console replaces this handler with one that renders its pages' errors)."""
    if not request.path.startswith(API_PREFIX):
        return exc
    code = (exc.name or "error").lower().replace(" ", "_")
    return api_error(exc.code or 500, code, exc.description or exc.name)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(ValidationError, _invalid_request)
    app.register_error_handler(HubError, _hub_error)
    app.register_error_handler(HTTPException, http_error)
