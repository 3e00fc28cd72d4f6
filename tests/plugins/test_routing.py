"""Routing: a capability hook reaches only the plugin that owns the connection, with the
built-in wrappers still around it."""

from __future__ import annotations

import pytest

from hub.core.errors import UpstreamError
from hub.core.plugins import Hub
from hub.core.trace import tracing
from hub.plugins import builtin_plugins
from tests.factories import make_connection, make_credential, make_gate, make_rider


@pytest.fixture
def other_platform(make_adapter):
    other = make_adapter("otherplat", {"platform"})
    other.script("hub_verify_rider", returns=make_rider(platform_ref="other-rider"))
    return other


@pytest.fixture
def two_platform_hub(clock, platform, other_platform) -> Hub:
    hub = Hub()
    for plugin in [*builtin_plugins(clock), platform, other_platform]:
        hub.register(plugin)
    return hub


def test_only_the_owners_implementation_is_called(two_platform_hub, platform, other_platform, plat_conn):
    other_conn = make_connection(id="other-1", plugin="otherplat", name="Other platform")

    mine = two_platform_hub.verify_rider(plat_conn, make_credential(), make_gate())
    theirs = two_platform_hub.verify_rider(other_conn, make_credential(), make_gate())

    assert (mine.platform_ref, theirs.platform_ref) == ("rider-1", "other-rider")
    assert platform.calls["hub_verify_rider"] == 1
    assert other_platform.calls["hub_verify_rider"] == 1


def test_the_built_in_wrappers_run_around_the_owners_call(two_platform_hub, platform, other_platform, plat_conn):
    with tracing() as trace:
        two_platform_hub.verify_rider(plat_conn, make_credential(), make_gate())

    assert [(c.plugin, c.connection_id, c.outcome) for c in trace.calls] == [("fakeplat", "plat-1", "ok")]


def test_one_platforms_failures_do_not_affect_another(two_platform_hub, platform, other_platform, plat_conn):
    other_conn = make_connection(id="other-1", plugin="otherplat", name="Other platform")
    platform.script("hub_verify_rider", raises=UpstreamError("down"))
    for n in range(5):
        with pytest.raises(UpstreamError):
            two_platform_hub.verify_rider(plat_conn, make_credential(value=f"t{n}"), make_gate())

    assert two_platform_hub.verify_rider(other_conn, make_credential(), make_gate()).platform_ref == "other-rider"
    assert other_platform.calls["hub_verify_rider"] == 1
