"""Timeouts against a real server on loopback (``responses`` cannot hold a socket open):
an answer that does not come, and a body that trickles in, both end in
``UpstreamTimeout`` from the adapter itself, without waiting for the body to finish."""

from __future__ import annotations

import time

import pytest
import requests

from hub.core.errors import UpstreamTimeout
from hub.core.model import Connection, Credential
from last100_meituan.client import MeituanClient, MeituanTimeout
from last100_meituan.simulator import DEMO_APP_ID, DEMO_APP_SECRET, create_app

TIMEOUT_S = 0.5


@pytest.fixture
def slow_meituan(serve):
    """The simulator on loopback, and a way to make it slow."""
    base_url = serve(create_app())

    def slow(seconds: float, *, slow_body: bool) -> str:
        answer = requests.post(f"{base_url}/_sim/delay", json={"seconds": seconds, "slow_body": slow_body}, timeout=5)
        answer.raise_for_status()
        return base_url

    return slow


def connection_to(base_url: str) -> Connection:
    settings = {"app_id": DEMO_APP_ID, "app_secret": DEMO_APP_SECRET, "base_url": base_url}
    return Connection("mt-slow", "meituan", "Meituan (slow)", settings=settings, timeout_s=TIMEOUT_S)


def test_an_answer_that_does_not_come_in_time_is_an_upstream_timeout(hub, gate, slow_meituan):
    connection = connection_to(slow_meituan(3.0, slow_body=False))
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout, match="did not answer the rider verification in time"):
        hub.verify_rider(connection, Credential("token", "demo-rider-1"), gate)

    assert time.monotonic() - started < 2.5  # gave up long before the answer would have come


def test_a_body_that_trickles_in_is_an_upstream_timeout_before_it_finishes(hub, gate, slow_meituan):
    # Each piece comes well within the read timeout; the whole body takes 3 s.
    connection = connection_to(slow_meituan(3.0, slow_body=True))
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout, match="did not answer the rider verification in time"):
        hub.verify_rider(connection, Credential("token", "demo-rider-1"), gate)

    assert time.monotonic() - started < 2.5


def test_a_slow_health_check_is_reported_not_raised(hub, slow_meituan):
    health = hub.check_connection(connection_to(slow_meituan(3.0, slow_body=False)))

    assert not health.ok
    assert "did not answer in time" in health.message


def test_a_body_that_trickles_in_within_the_deadline_is_read_whole(slow_meituan):
    client = MeituanClient(slow_meituan(0.3, slow_body=True), DEMO_APP_ID, DEMO_APP_SECRET, timeout=(1.0, 2.0))

    assert client.ping() == ["demo-poi-1"]


@pytest.mark.parametrize("slow_body", [False, True])
def test_the_client_raises_its_own_timeout_for_both(slow_meituan, slow_body):
    client = MeituanClient(slow_meituan(3.0, slow_body=slow_body), DEMO_APP_ID, DEMO_APP_SECRET, timeout=(0.5, 0.5))

    with pytest.raises(MeituanTimeout):
        client.ping()


def test_an_address_where_nothing_listens_is_a_transport_error_not_a_timeout(hub):
    health = hub.check_connection(connection_to("http://127.0.0.1:9"))  # the discard port: nothing listens

    assert not health.ok
    assert health.message.startswith("could not reach Meituan at http://127.0.0.1:9")
