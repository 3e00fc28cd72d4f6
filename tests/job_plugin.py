"""Jobs for the scheduler and ``last100 jobs`` tests, loaded by import path
(``plugins = ["tests.job_plugin:TestJobs"]``), also by ``last100 scheduler`` processes.

``test.tick`` runs every 0.3 s for 0.15 s and appends ``pid start end`` (wall-clock
seconds) to the file named by ``HUB_TEST_TICK_LOG``, so a test can tell which process ran
it when. ``test.count`` reports progress through three items;
``test.broken`` fails.
"""

from __future__ import annotations

import os
import time

from hub import JobSpec, PluginInfo, hookimpl

TICK_LOG = "HUB_TEST_TICK_LOG"
TICK_S = 0.3
TICK_WORK_S = 0.15


def tick(context) -> int:
    started = time.time()
    time.sleep(TICK_WORK_S)
    path = os.environ.get(TICK_LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:  # one short append: atomic between processes
            log.write(f"{os.getpid()} {started:.6f} {time.time():.6f}\n")
    return 1


def count(context) -> int:
    for done in range(1, 4):
        context.progress(done, 3, f"item {done}")
    return 3


def broken(context) -> int:
    context.progress(1, None, "about to fail")
    raise RuntimeError("the test job fails on purpose")


class TestJobs:
    __test__ = False  # not a test class

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="test-jobs", kinds={"core"}, version="1")

    @hookimpl
    def hub_jobs(self) -> list[JobSpec]:
        return [
            JobSpec("test.tick", tick, "interval", {"seconds": TICK_S}, "Notes which process ran it"),
            JobSpec("test.count", count, "cron", {"hour": 3, "minute": 30}, "Counts to three"),
            JobSpec("test.broken", broken, "interval", {"hours": 1}, "Fails"),
        ]
