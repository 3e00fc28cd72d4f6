"""Access to the running hub from inside a request."""

from __future__ import annotations

from flask import current_app

from hub.runtime import Runtime


def runtime_of() -> Runtime:
    return current_app.extensions["last100"]
