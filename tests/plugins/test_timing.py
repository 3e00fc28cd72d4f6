"""Timing: every capability hook call becomes a HookCall in the current trace."""

from __future__ import annotations

import pytest
import requests

from hub.core.errors import CredentialRejected, PushRejected, UpstreamError, UpstreamTimeout
from hub.core.model import Health, HookCall
from hub.core.trace import tracing
from tests.factories import NOW, make_credential, make_gate, make_grant_request, make_push_request
from tests.plugins.conftest import FAILURE_THRESHOLD


def verify(hub, connection, value="token-123"):
    return hub.verify_rider(connection, make_credential(value=value), make_gate())


def test_a_successful_call_is_recorded_with_its_plugin_connection_and_duration(hub, platform, plat_conn):
    platform.script("hub_verify_rider", takes_s=0.25)

    with tracing() as trace:
        verify(hub, plat_conn)

    assert trace.calls == (HookCall("hub_verify_rider", "fakeplat", "plat-1", NOW, pytest.approx(250.0), "ok", ""),)


@pytest.mark.parametrize(
    ("error", "raised", "outcome", "detail"),
    [
        (UpstreamTimeout("took too long"), UpstreamTimeout, "timeout", "took too long"),
        (
            requests.exceptions.ReadTimeout("read timed out"),
            UpstreamTimeout,
            "timeout",
            "Fake Platform Shanghai did not answer in time",
        ),
        (CredentialRejected("token expired"), CredentialRejected, "rejected", "token expired"),
        (UpstreamError("502 from platform"), UpstreamError, "error", "502 from platform"),
    ],
)
def test_a_failed_call_is_recorded_with_its_outcome_and_message(
    hub, platform, plat_conn, error, raised, outcome, detail
):
    platform.script("hub_verify_rider", raises=error)

    with tracing() as trace, pytest.raises(raised):
        verify(hub, plat_conn)

    [call] = trace.calls
    assert (call.outcome, call.detail) == (outcome, detail)


def test_a_rejected_push_is_recorded_as_rejected(hub, platform, plat_conn):
    platform.script("hub_parse_push", raises=PushRejected("bad signature"))

    with tracing() as trace, pytest.raises(PushRejected):
        hub.parse_push(plat_conn, make_push_request())

    assert [(c.hook, c.outcome, c.detail) for c in trace.calls] == [("hub_parse_push", "rejected", "bad signature")]


def test_an_unexpected_exception_is_recorded_without_its_message(hub, platform, plat_conn):
    platform.script("hub_verify_rider", raises=RuntimeError("GET /riders?app_secret=s3cr3t failed"))

    with tracing() as trace, pytest.raises(UpstreamError):
        verify(hub, plat_conn)

    [call] = trace.calls
    assert call.outcome == "error"
    assert "s3cr3t" not in call.detail
    assert "Fake Platform Shanghai" in call.detail


def test_a_call_refused_by_the_open_circuit_is_recorded_as_circuit_open(hub, platform, plat_conn):
    platform.script("hub_verify_rider", raises=UpstreamError("down"))
    for n in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn, value=f"t{n}")

    with tracing() as trace, pytest.raises(UpstreamError):
        verify(hub, plat_conn)

    assert [c.outcome for c in trace.calls] == ["circuit_open"]


def test_an_identity_served_from_the_cache_is_recorded_as_cache(hub, plat_conn):
    verify(hub, plat_conn)

    with tracing() as trace:
        verify(hub, plat_conn)

    assert [c.outcome for c in trace.calls] == ["cache"]


def test_the_duration_includes_the_other_wrappers_and_the_late_answer_they_refused(hub, platform, plat_conn):
    platform.script("hub_verify_rider", takes_s=2.5)  # the connection allows 2 s

    with tracing() as trace, pytest.raises(UpstreamTimeout):
        verify(hub, plat_conn)

    [call] = trace.calls
    assert call.outcome == "timeout"
    assert call.duration_ms == pytest.approx(2500.0)


def test_an_unhealthy_health_check_is_recorded_as_an_error(hub, platform, plat_conn):
    platform.script("hub_check_connection", returns=Health(ok=False, message="app_secret was refused"))

    with tracing() as trace:
        hub.check_connection(plat_conn)

    assert [(c.outcome, c.detail) for c in trace.calls] == [("error", "app_secret was refused")]


def test_every_call_of_a_unit_of_work_is_recorded(hub, plat_conn, device_conn):
    with tracing() as trace:
        verify(hub, plat_conn)
        hub.grant_access(device_conn, make_gate(), make_grant_request())

    assert [(c.hook, c.plugin, c.connection_id) for c in trace.calls] == [
        ("hub_verify_rider", "fakeplat", "plat-1"),
        ("hub_grant_access", "fakedevice", "door-1"),
    ]


def test_calls_outside_a_trace_still_answer(hub, plat_conn):
    assert verify(hub, plat_conn).platform_ref == "rider-1"
