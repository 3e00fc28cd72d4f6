"""A slow partitioned sync for ``tests/test_scale_out.py``, loaded by import path
(``plugins = ["tests.scale_plugin:SlowSync"]``): a worker killed while it runs a task
of this job is killed mid-task for certain.

Job ``test.slow``: every 4 seconds, partitions ``left`` and ``right``; each task writes
``start <partition> <pid>`` to the file named by ``LAST100_TEST_SLOW_SYNC_LOG``, sleeps
``LAST100_TEST_SLOW_SYNC_S`` seconds (default 4), then writes ``end <partition> <pid>``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hub.core.hookspecs import hookimpl
from hub.core.jobs import JobContext
from hub.core.model import JobSpec, PluginInfo

JOB = "test.slow"
PARTITIONS = ("left", "right")


def _note(what: str, partition: str) -> None:
    with Path(os.environ["LAST100_TEST_SLOW_SYNC_LOG"]).open("a", encoding="utf-8") as log:
        log.write(f"{what} {partition} {os.getpid()}\n")


def slow_sync(context: JobContext) -> int:
    partition = context.partition or "whole"
    _note("start", partition)
    time.sleep(float(os.environ.get("LAST100_TEST_SLOW_SYNC_S", "4")))
    _note("end", partition)
    return 1


class SlowSync:
    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="test-slow-sync", kinds={"core"}, version="1")

    @hookimpl
    def hub_jobs(self) -> list[JobSpec]:
        return [
            JobSpec(
                JOB, slow_sync, "interval", {"seconds": 4}, "A slow sync in two parts", partitions=lambda _c: PARTITIONS
            )
        ]
