"""Resilience: circuit breaker per connection, soft timeouts, errors in the hub's terms.
Each test runs once with the circuits (and the cache) in the process and once with them
in Redis (the ``shared_state`` fixture)."""

from __future__ import annotations

import threading

import pytest
import requests

from hub.core.errors import (
    CircuitOpen,
    CredentialRejected,
    PushRejected,
    UpstreamError,
    UpstreamTimeout,
)
from hub.core.model import CredentialKind, Health
from hub.plugins import builtin_plugins
from tests.factories import make_connection, make_credential, make_gate, make_push_request, make_rider
from tests.plugins.conftest import FAILURE_THRESHOLD, RESET_AFTER_S


@pytest.fixture
def builtins(clock, shared_state):
    """The built-ins of tests/plugins/conftest.py, keeping their state in ``shared_state``."""
    return builtin_plugins(clock, failure_threshold=FAILURE_THRESHOLD, reset_after_s=RESET_AFTER_S, shared=shared_state)


def verify(hub, connection, value="token-123"):
    return hub.verify_rider(connection, make_credential(value=value), make_gate())


@pytest.fixture
def tripped(hub, platform, plat_conn):
    """The platform connection's circuit, opened by FAILURE_THRESHOLD failures."""
    platform.script("hub_verify_rider", raises=UpstreamError("502 from platform"))
    for n in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn, value=f"someone-{n}")
    platform.script("hub_verify_rider")


# -- opening -------------------------------------------------------------------------------


def test_the_circuit_stays_closed_below_the_failure_threshold(hub, platform, plat_conn, resilience):
    platform.script("hub_verify_rider", raises=UpstreamError("502"))
    for _ in range(FAILURE_THRESHOLD - 1):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn)

    assert resilience.state("plat-1") == "closed"


def test_a_success_resets_the_count_of_failures_in_a_row(hub, platform, plat_conn, resilience):
    platform.script("hub_verify_rider", raises=UpstreamError("502"))
    for _ in range(FAILURE_THRESHOLD - 1):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn)
    platform.script("hub_verify_rider")
    verify(hub, plat_conn)
    platform.script("hub_verify_rider", raises=UpstreamError("502"))

    with pytest.raises(UpstreamError):
        verify(hub, plat_conn, value="another")

    assert resilience.state("plat-1") == "closed"


def test_the_circuit_opens_after_the_threshold_and_fails_fast_without_calling(
    hub, platform, plat_conn, resilience, tripped
):
    calls = platform.calls["hub_verify_rider"]

    with pytest.raises(CircuitOpen) as raised:
        verify(hub, plat_conn)

    assert resilience.state("plat-1") == "open"
    assert platform.calls["hub_verify_rider"] == calls
    assert "Fake Platform Shanghai" in str(raised.value)
    assert f"retry in {RESET_AFTER_S} s" in str(raised.value)


def test_an_open_circuit_refuses_that_call_only(hub, platform, plat_conn, resilience, tripped):
    assert hub.get_order(plat_conn, "order-1") is None
    assert platform.calls["hub_get_order"] == 1
    assert resilience.state("plat-1") == "open"
    assert resilience.state("plat-1", "hub_verify_rider") == "open"
    assert resilience.state("plat-1", "hub_get_order") == "closed"


def test_successes_of_other_calls_do_not_hide_a_calls_failures(hub, platform, plat_conn, resilience):
    # The engine asks for identity and orders together: a working orders endpoint must not
    # keep a failing verification endpoint's circuit closed.
    platform.script("hub_verify_rider", raises=UpstreamError("502"))
    for n in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn, value=f"someone-{n}")
        hub.get_order(plat_conn, "order-1")

    assert resilience.state("plat-1", "hub_verify_rider") == "open"


def test_circuits_are_per_connection(hub, platform, plat_conn, resilience, tripped):
    other_account = make_connection(id="plat-2", plugin="fakeplat", name="Fake Platform Beijing")

    assert verify(hub, other_account).platform_ref == "rider-1"
    assert resilience.states() == {"plat-1": "open", "plat-2": "closed"}


def test_a_connection_reports_its_worst_circuit(hub, platform, plat_conn, clock, resilience, tripped):
    clock.advance(RESET_AFTER_S)  # the verification circuit is half-open now
    hub.get_order(plat_conn, "order-1")
    assert resilience.state("plat-1") == "half_open"

    platform.script("hub_get_order", raises=UpstreamError("502"))
    for _ in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            hub.get_order(plat_conn, "order-1")
    assert resilience.state("plat-1") == "open"


def test_pushes_are_parsed_while_the_circuit_is_open(hub, platform, plat_conn, tripped):
    hub.parse_push(plat_conn, make_push_request())
    assert platform.calls["hub_parse_push"] == 1


def test_a_cached_identity_is_served_while_the_circuit_is_open(hub, platform, plat_conn, resilience):
    identity = verify(hub, plat_conn, value="regular-rider")  # cached for 60 s
    platform.script("hub_verify_rider", raises=UpstreamError("502"))
    for n in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn, value=f"someone-{n}")
    assert resilience.state("plat-1") == "open"

    assert verify(hub, plat_conn, value="regular-rider") == identity


def test_a_signed_entry_code_is_still_verified_while_the_circuit_is_open(hub, platform, plat_conn, tripped):
    calls = platform.calls["hub_verify_rider"]
    code = make_credential(kind=CredentialKind.ENTRY_CODE, value="signed-code")

    identity = hub.verify_rider(plat_conn, code, make_gate())

    assert identity is not None
    assert platform.calls["hub_verify_rider"] == calls + 1  # checked by the plugin, locally
    with pytest.raises(CircuitOpen):
        verify(hub, plat_conn)  # a token still needs the platform, whose circuit is open


def test_the_retry_time_counts_down(hub, plat_conn, clock, tripped):
    clock.advance(20.2)
    with pytest.raises(CircuitOpen, match=r"retry in 10 s"):
        verify(hub, plat_conn)


# -- half-open and closing -----------------------------------------------------------------


def test_after_the_reset_time_one_trial_call_goes_through_and_success_closes(
    hub, platform, plat_conn, clock, resilience, tripped
):
    calls = platform.calls["hub_verify_rider"]
    clock.advance(RESET_AFTER_S)
    assert resilience.state("plat-1") == "half_open"

    assert verify(hub, plat_conn).platform_ref == "rider-1"

    assert platform.calls["hub_verify_rider"] == calls + 1
    assert resilience.state("plat-1") == "closed"


def test_a_failed_trial_opens_the_circuit_again(hub, platform, plat_conn, clock, resilience, tripped):
    clock.advance(RESET_AFTER_S)
    platform.script("hub_verify_rider", raises=UpstreamError("still down"))
    with pytest.raises(UpstreamError, match="still down"):
        verify(hub, plat_conn)

    assert resilience.state("plat-1") == "open"
    with pytest.raises(CircuitOpen, match=f"retry in {RESET_AFTER_S} s"):
        verify(hub, plat_conn)


def test_other_calls_fail_fast_while_the_trial_is_in_flight(hub, platform, plat_conn, clock, resilience, tripped):
    clock.advance(RESET_AFTER_S)
    arrived, release = threading.Event(), threading.Event()
    platform.script("hub_verify_rider", arrived=arrived, release=release)
    answers = []
    trial = threading.Thread(target=lambda: answers.append(verify(hub, plat_conn, value="trial")))
    trial.start()
    try:
        assert arrived.wait(timeout=5)
        with pytest.raises(CircuitOpen):
            verify(hub, plat_conn, value="impatient")
    finally:
        release.set()
        trial.join()

    assert [identity.platform_ref for identity in answers] == ["rider-1"]
    assert resilience.state("plat-1") == "closed"
    assert platform.calls["hub_verify_rider"] == FAILURE_THRESHOLD + 1


def test_a_healthy_health_check_closes_the_connections_circuits(hub, platform, plat_conn, resilience, tripped):
    platform.script("hub_get_order", raises=UpstreamError("502"))
    for _ in range(FAILURE_THRESHOLD):
        with pytest.raises(UpstreamError):
            hub.get_order(plat_conn, "order-1")

    assert hub.check_connection(plat_conn) == Health(ok=True)

    assert resilience.states() == {"plat-1": "closed"}
    assert verify(hub, plat_conn).platform_ref == "rider-1"


def test_an_unhealthy_health_check_leaves_the_circuit_open(hub, platform, plat_conn, resilience, tripped):
    platform.script("hub_check_connection", returns=Health(ok=False, message="app_secret was refused"))

    assert hub.check_connection(plat_conn).ok is False
    assert resilience.state("plat-1") == "open"


# -- timeouts and errors -------------------------------------------------------------------


def test_a_requests_timeout_becomes_upstream_timeout_and_counts_as_a_failure(hub, platform, plat_conn, resilience):
    platform.script("hub_verify_rider", raises=requests.exceptions.ConnectTimeout("https://api.example/?token=abc"))

    with pytest.raises(UpstreamTimeout) as raised:
        verify(hub, plat_conn)

    assert "Fake Platform Shanghai" in str(raised.value)
    assert "token=abc" not in str(raised.value)
    assert isinstance(raised.value.__cause__, requests.exceptions.ConnectTimeout)
    for _ in range(FAILURE_THRESHOLD - 1):
        with pytest.raises(UpstreamTimeout):
            verify(hub, plat_conn)
    assert resilience.state("plat-1") == "open"


def test_an_unexpected_exception_becomes_upstream_error_naming_the_connection(hub, platform, plat_conn):
    platform.script("hub_verify_rider", raises=KeyError("rider_id"))

    with pytest.raises(UpstreamError) as raised:
        verify(hub, plat_conn)

    assert type(raised.value) is UpstreamError
    assert str(raised.value) == "Fake Platform Shanghai failed unexpectedly (KeyError)"
    assert isinstance(raised.value.__cause__, KeyError)


def test_a_slow_success_becomes_upstream_timeout_and_counts_as_a_failure(hub, platform, plat_conn, resilience):
    platform.script("hub_verify_rider", takes_s=2.5)  # the connection allows 2 s

    with pytest.raises(UpstreamTimeout, match=r"answered after 2\.5 s, later than its 2 s limit"):
        verify(hub, plat_conn)

    for n in range(FAILURE_THRESHOLD - 1):
        with pytest.raises(UpstreamTimeout):
            verify(hub, plat_conn, value=f"slow-{n}")
    assert resilience.state("plat-1") == "open"


def test_an_answer_within_the_time_limit_is_returned(hub, platform, plat_conn):
    platform.script("hub_verify_rider", takes_s=2.0)
    assert verify(hub, plat_conn).platform_ref == "rider-1"


def test_a_rejected_credential_passes_through_and_does_not_trip_the_breaker(hub, platform, plat_conn, resilience):
    rejection = CredentialRejected("unknown token", reason_zh="无效", reason_en="Unknown token")
    platform.script("hub_verify_rider", raises=rejection)

    for n in range(FAILURE_THRESHOLD + 1):
        with pytest.raises(CredentialRejected) as raised:
            verify(hub, plat_conn, value=f"forged-{n}")
        assert raised.value is rejection

    assert resilience.state("plat-1") == "closed"


def test_a_rejection_ends_a_trial_successfully(hub, platform, plat_conn, clock, resilience, tripped):
    clock.advance(RESET_AFTER_S)
    platform.script("hub_verify_rider", raises=CredentialRejected("unknown token"))

    with pytest.raises(CredentialRejected):
        verify(hub, plat_conn)

    assert resilience.state("plat-1") == "closed"


def test_a_rejected_push_passes_through_unchanged(hub, platform, plat_conn):
    platform.script("hub_parse_push", raises=PushRejected("malformed body", status=400))

    with pytest.raises(PushRejected) as raised:
        hub.parse_push(plat_conn, make_push_request())

    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UpstreamError("HTTP 401: app_key unknown"), "HTTP 401: app_key unknown"),
        (requests.exceptions.ReadTimeout(), "Fake Platform Shanghai did not answer in time"),
        (OSError("connect to 10.0.0.1 refused"), "Fake Platform Shanghai failed unexpectedly (OSError)"),
    ],
)
def test_a_failing_health_check_becomes_an_unhealthy_answer(hub, platform, plat_conn, error, message):
    platform.script("hub_check_connection", raises=error)

    assert hub.check_connection(plat_conn) == Health(ok=False, message=message)


def test_a_cache_hit_does_not_reset_the_count_of_failures(hub, platform, plat_conn, clock, resilience):
    platform.script("hub_verify_rider", returns=make_rider(cache_seconds=600))
    verify(hub, plat_conn)

    platform.script("hub_verify_rider", raises=UpstreamError("502"))
    for _ in range(FAILURE_THRESHOLD - 1):
        with pytest.raises(UpstreamError):
            verify(hub, plat_conn, value="someone-else")
    verify(hub, plat_conn)  # served from the cache: not a success that resets the count
    with pytest.raises(UpstreamError):
        verify(hub, plat_conn, value="someone-else")

    assert resilience.state("plat-1") == "open"
