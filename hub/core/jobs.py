"""What a scheduled job gets to work with.

A job is a plain function ``func(context: JobContext) -> int`` contributed through
``hub_jobs`` (see :class:`~hub.core.model.JobSpec`); it returns how many items it
handled and may report progress on the way. Jobs must be idempotent: a run that crashed
halfway is simply run again.

A job may be split into *partitions* (``JobSpec.partitions``): independent parts of
one run, e.g. one per connection, that Celery workers run at the same time (see
:mod:`hub.core.tasks`). A run of one part gets its key in ``context.partition``; a
run of the whole job (always, in one process) gets ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.core.clock import Clock
from hub.core.plugins import Hub
from hub.core.store import Store

#: The partition of a job's items that belong to no connection (a guard's pass has no
#: device). The console accepts no connection id starting with ``~``.
NO_CONNECTION = "~none"


@dataclass
class JobContext:
    """The running hub, as a job sees it."""

    hub: Hub
    store: Store
    clock: Clock
    #: Called with (items done, items in all or None, a short note) as the job goes.
    progress: Callable[[int, int | None, str], None] = field(default=lambda done, total, note: None)
    #: The part of the job this run handles (a key its ``partitions`` returned), or
    #: ``None``: the whole job.
    partition: str | None = None
