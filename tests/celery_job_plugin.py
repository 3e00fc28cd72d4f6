"""Jobs for the Celery tests, loaded by import path
(``plugins = ["tests.celery_job_plugin:CeleryJobs"]``), in worker processes too.

``test.parts`` is split into the partitions listed in ``HUB_TEST_PARTS`` (default
``a,b,c``) and runs every ``HUB_TEST_PARTS_EVERY`` seconds (default: hourly). Each run
of a partition appends ``start <pid> <partition>`` to the file named by
``HUB_TEST_PARTS_LOG``, sleeps ``HUB_TEST_PARTS_SLEEP`` seconds, then appends ``end <pid>
<partition>``, so a test sees which partitions ran, how often, and which were cut short.
``test.whole`` has no partitions.
"""

from __future__ import annotations

import os
import time

from hub import JobSpec, PluginInfo, hookimpl

PARTS = "HUB_TEST_PARTS"
EVERY = "HUB_TEST_PARTS_EVERY"
SLEEP = "HUB_TEST_PARTS_SLEEP"
LOG = "HUB_TEST_PARTS_LOG"


def _note(line: str) -> None:
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:  # one short append: atomic between processes
            log.write(line + "\n")


def parts(context) -> int:
    _note(f"start {os.getpid()} {context.partition}")
    time.sleep(float(os.environ.get(SLEEP, "0")))
    _note(f"end {os.getpid()} {context.partition}")
    return 1


def partitions(context) -> list[str]:
    return [p for p in os.environ.get(PARTS, "a,b,c").split(",") if p]


def whole(context) -> int:
    _note(f"start {os.getpid()} {context.partition}")
    _note(f"end {os.getpid()} {context.partition}")
    return 2


class CeleryJobs:
    __test__ = False  # not a test class

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="celery-test-jobs", kinds={"core"}, version="1")

    @hookimpl
    def hub_jobs(self) -> list[JobSpec]:
        every = float(os.environ.get(EVERY, "3600"))
        return [
            JobSpec("test.parts", parts, "interval", {"seconds": every}, "Notes each partition's run", partitions),
            JobSpec("test.whole", whole, "cron", {"hour": 3}, "Runs whole"),
        ]
