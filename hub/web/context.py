"""Access to the running hub from inside a request."""

from __future__ import annotations

from typing import Any

from flask import current_app

from hub.runtime import Runtime

#: Where a process that runs the scheduled jobs itself (the demo) keeps its scheduler
#: on the Flask app, so the console can show each job's next run.
SCHEDULER_EXTENSION = "last100.scheduler"


def runtime_of() -> Runtime:
    return current_app.extensions["last100"]


def scheduler_of() -> Any | None:
    """This process's running APScheduler scheduler; ``None`` when jobs run elsewhere
    (``last100 scheduler``)."""
    scheduler = current_app.extensions.get(SCHEDULER_EXTENSION)
    return scheduler if scheduler is not None and scheduler.running else None
