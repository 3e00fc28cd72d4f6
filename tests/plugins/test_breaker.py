"""The circuit breaker's states, without the hub around it: each test runs once with the
circuits in the process and once with them in Redis (the ``shared_state`` fixture)."""

from __future__ import annotations

import pytest

from hub.core.clock import ManualClock
from hub.plugins.breaker import CircuitBreakers, SharedCircuitBreakers, circuit_breakers


@pytest.fixture
def breakers(clock, shared_state) -> CircuitBreakers:
    made = circuit_breakers(clock, failure_threshold=2, reset_after_s=10, shared=shared_state)
    assert isinstance(made, SharedCircuitBreakers) is shared_state.shared
    return made


def open_circuit(breakers: CircuitBreakers, key: str = "plat-1") -> None:
    for _ in range(breakers.failure_threshold):
        assert breakers.admit(key).allowed
        breakers.record_failure(key)


def test_a_new_connection_is_closed_and_admitted(breakers):
    assert breakers.state("plat-1") == "closed"
    assert breakers.admit("plat-1").allowed


def test_the_failure_that_reaches_the_threshold_reports_that_it_opened_the_circuit(breakers):
    assert breakers.record_failure("plat-1") is False
    assert breakers.record_failure("plat-1") is True
    assert breakers.state("plat-1") == "open"


def test_an_open_circuit_refuses_and_says_when_to_retry(breakers, clock: ManualClock):
    open_circuit(breakers)
    clock.advance(4)

    admission = breakers.admit("plat-1")

    assert not admission.allowed
    assert admission.retry_in_s == pytest.approx(6)


def test_a_half_open_circuit_admits_exactly_one_trial(breakers, clock):
    open_circuit(breakers)
    clock.advance(10)

    first, second = breakers.admit("plat-1"), breakers.admit("plat-1")

    assert (first.allowed, first.trial) == (True, True)
    assert not second.allowed


def test_a_trial_that_never_reports_back_is_replaced_after_the_reset_time(breakers, clock):
    open_circuit(breakers)
    clock.advance(10)
    assert breakers.admit("plat-1").trial  # this call hangs
    clock.advance(10)

    assert breakers.admit("plat-1").trial


def test_a_late_success_of_a_call_admitted_before_opening_does_not_close(breakers):
    assert breakers.admit("plat-1").allowed  # a slow call starts
    open_circuit(breakers)

    breakers.record_success("plat-1")  # ... and finally returns

    assert breakers.state("plat-1") == "open"


def test_a_late_failure_does_not_push_back_the_reset_time(breakers, clock):
    open_circuit(breakers)
    clock.advance(9)

    assert breakers.record_failure("plat-1") is False
    clock.advance(1)
    assert breakers.state("plat-1") == "half_open"


def test_reset_closes_the_circuit(breakers):
    open_circuit(breakers)

    breakers.reset("plat-1")

    assert breakers.state("plat-1") == "closed"
    assert breakers.admit("plat-1").allowed


def test_states_lists_every_circuit_called(breakers, clock):
    breakers.admit("door-1")
    open_circuit(breakers, "lockers-1")
    open_circuit(breakers, "plat-1")
    clock.advance(10)
    breakers.record_failure("plat-1", trial=breakers.admit("plat-1").trial)  # a failed trial

    assert breakers.states() == {"door-1": "closed", "lockers-1": "half_open", "plat-1": "open"}


@pytest.mark.parametrize(("threshold", "reset_after_s"), [(0, 10), (1, 0)])
def test_nonsense_settings_are_refused(clock, shared_state, threshold, reset_after_s):
    with pytest.raises(ValueError):
        circuit_breakers(clock, failure_threshold=threshold, reset_after_s=reset_after_s, shared=shared_state)
