"""A platform for the metrics and logging tests of a real ``last100 serve`` process,
loaded by import path (``plugins = ["tests.observability_plugin:platform"]``).

It is :class:`tests.engine_fakes.FakePlatform` named ``obs-platform``: riders
``rider-0`` … ``rider-99`` (``R0`` …), each with an order on its way into the community
whose ref for the connection is ``PC-1``. Verifying a rider logs ``verifying rider``
(on ``tests.observability_plugin``) from inside the hook, where the entry engine's
upstream thread runs it: the log line shows the request id and the worker's pid.
"""

from __future__ import annotations

import logging

from hub.core.model import RiderIdentity
from tests.engine_fakes import FakePlatform, order

PLUGIN = "obs-platform"
COMMUNITY_REF = "PC-1"
RIDERS = 100

log = logging.getLogger(__name__)


def platform() -> FakePlatform:
    made = FakePlatform(PLUGIN)
    for n in range(RIDERS):
        made.riders[f"rider-{n}"] = RiderIdentity(f"R{n}", "王*", "138****5678", cache_seconds=0)
        made.orders[f"R{n}"] = [order(f"O{n}", f"R{n}", COMMUNITY_REF)]
    made.before["hub_verify_rider"] = lambda: log.info("verifying rider")
    return made
