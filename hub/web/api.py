"""The JSON API under ``/api/v1``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hub.core.model import PushRequest
from hub.core.pushes import receive_push
from hub.web.context import runtime_of
from hub.web.errors import api_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/push/<connection_id>")
def push(connection_id: str) -> Response:
    """A platform or device pushes events for one connection. Authenticated by the
    push's own signature (checked by the connection's plugin), not by an API key."""
    rt = runtime_of()
    form = request.form.to_dict() if request.mimetype == "application/x-www-form-urlencoded" else {}
    outcome = receive_push(
        rt.hub,
        rt.store,
        connection_id,
        PushRequest(
            method=request.method,
            url=request.base_url,
            headers=dict(request.headers),
            body=request.get_data(cache=True),
            received_at=rt.clock.now(),
            query=request.args.to_dict(),
            form=form,
        ),
    )
    if outcome.error:
        return api_error(outcome.status, "push_rejected", outcome.error)
    response = jsonify(outcome.body)
    response.status_code = outcome.status
    return response
