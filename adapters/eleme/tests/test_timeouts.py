"""Timeouts against real servers on loopback (``responses`` cannot hold a socket open or
trickle a body): a late answer and a slow body both end as ``UpstreamTimeout``, within
the connection's budget rather than the server's pace."""

from __future__ import annotations

import dataclasses
import time

import pytest

from hub.core.model import Credential, CredentialKind, Gate
from hub.demo import COMMUNITY_ID, DEMO_RIDERS
from last100_eleme.client import ElemeClient, ElemeTimeout
from last100_eleme.simulator import SIM_APP_KEY, SIM_SECRET, SIM_TOKEN

GATE = Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north")
RIDER = Credential(CredentialKind.TOKEN, DEMO_RIDERS[0].token)
TIMEOUT_S = 0.5


@pytest.fixture
def impatient(live_eleme):
    """The simulator's connection with a half-second time budget."""
    return dataclasses.replace(live_eleme.connection, timeout_s=TIMEOUT_S)


def test_the_client_gives_up_on_a_slow_body_at_its_deadline(live_eleme):
    live_eleme.admin("delay", {"seconds": 5, "mode": "body"})
    client = ElemeClient(live_eleme.base_url, SIM_APP_KEY, SIM_SECRET, SIM_TOKEN, timeout=(0.5, 0.5))
    started = time.monotonic()

    with pytest.raises(ElemeTimeout, match="did not finish"):
        client.get_user()

    assert time.monotonic() - started < 3


def test_a_slow_body_within_the_deadline_is_read_whole(live_eleme):
    live_eleme.admin("delay", {"seconds": 0.4, "mode": "body"})
    client = ElemeClient(live_eleme.base_url, SIM_APP_KEY, SIM_SECRET, SIM_TOKEN, timeout=(0.5, 2.0))

    assert client.get_user()["userName"] == "last100-simulator"


def test_a_health_check_that_times_out_says_so(hub, live_eleme, impatient):
    live_eleme.admin("delay", {"seconds": 3, "mode": "headers"})

    health = hub.check_connection(impatient)

    assert not health.ok
    assert "in time" in health.message
