"""The conformance suites can fail: run through pytester against the fake adapters of
tests/conformance_fakes.py, a sound fake passes every check of its kind, and a fake broken
on purpose fails exactly the checks its breakage breaks. Skips say why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from hub.testing import (
    AccessConformance,
    LockerConformance,
    PlatformConformance,
    VisitorConformance,
    access_suite,
    checks_of,
    platform_suite,
)
from tests.conformance_fakes import FakeGateHarness, FakeLockerHarness, FakePlatformHarness, FakeVisitorHarness

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def _database_layer_loaded(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Migrate a store once out here: pytester forgets the modules an inline run imported,
    and Alembic, half imported again by the next run, loses its ``context`` proxy."""
    from hub.testing.suites import _temporary_store

    _temporary_store(tmp_path_factory.mktemp("store")).dispose()


SOURCE = """
from hub.testing import {suite}
from tests.conformance_fakes import {harness}


class Harness({harness}):
    broken = frozenset({broken!r})
    not_applicable = {not_applicable!r}


TestConformance = {suite}(Harness)
"""

PUSH_CHECKS = {"push_accepted", "push_forged_is_rejected", "push_stale_is_rejected", "push_replayed_is_applied_once"}
MALFORMED = {
    "malformed_reply_is_an_upstream_error[html]",
    "malformed_reply_is_an_upstream_error[truncated_json]",
    "malformed_reply_is_an_upstream_error[wrong_json]",
}


@dataclass
class Outcomes:
    passed: set[str]
    skipped: dict[str, str]  # check -> reason
    failed: dict[str, str]  # check -> failure text


def _check(nodeid: str) -> str:
    return nodeid.split("::")[-1].removeprefix("test_")


def run_suite(
    pytester: pytest.Pytester,
    suite: str,
    harness: str,
    broken: set[str] = frozenset(),  # type: ignore[assignment]
    not_applicable: dict[str, str] | None = None,
) -> Outcomes:
    pytester.makepyfile(
        test_fake=SOURCE.format(
            suite=suite, harness=harness, broken=set(broken) or set(), not_applicable=not_applicable or {}
        )
    )
    recorded = pytester.inline_run("-p", "no:cacheprovider")
    passed, skipped, failed = recorded.listoutcomes()
    assert passed or skipped or failed, "the suite collected nothing"
    return Outcomes(
        passed={_check(r.nodeid) for r in passed},
        skipped={_check(r.nodeid): str(r.longrepr[2]) for r in skipped},
        failed={_check(r.nodeid): str(r.longrepr) for r in failed},
    )


# -- sound fakes pass ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suite", "harness", "unused"),
    [
        ("platform_suite", "FakePlatformHarness", set()),
        ("access_suite", "FakeGateHarness", PUSH_CHECKS),
        ("locker_suite", "FakeLockerHarness", set()),
        ("visitor_suite", "FakeVisitorHarness", set()),
    ],
    ids=["platform", "access", "locker", "visitor"],
)
def test_a_sound_adapter_passes_every_check_of_its_kind(pytester, suite, harness, unused) -> None:
    outcomes = run_suite(pytester, suite, harness)

    assert outcomes.failed == {}
    assert set(outcomes.skipped) == unused
    for reason in outcomes.skipped.values():
        assert "does not declare the 'push' capability (it declares: access_events, remote_open, revoke)" in reason


# -- broken fakes fail the checks they break -------------------------------------------


def test_a_platform_that_ignores_timeouts_crashes_on_bad_replies_leaks_orders_and_takes_forged_pushes(
    pytester,
) -> None:
    broken = {"timeout_ignored", "malformed_crash", "orders_unfiltered", "forged_push_accepted"}

    outcomes = run_suite(pytester, "platform_suite", "FakePlatformHarness", broken)

    assert set(outcomes.failed) == {
        "times_out_without_an_answer",
        "times_out_on_a_trickling_reply",
        *MALFORMED,
        "active_orders_filtered_by_community",
        "push_forged_is_rejected",
    }
    assert "does not honour connection.timeout_s" in outcomes.failed["times_out_without_an_answer"]
    assert "raised JSONDecodeError" in outcomes.failed["malformed_reply_is_an_upstream_error[html]"]
    assert "OTHER-ORDER-1, into another community" in outcomes.failed["active_orders_filtered_by_community"]
    assert "DID NOT RAISE" in outcomes.failed["push_forged_is_rejected"]
    assert outcomes.skipped == {}


def test_an_access_controller_with_duplicate_passes_a_fragile_revoke_and_one_page_of_events(pytester) -> None:
    broken = {"grant_not_idempotent", "revoke_unknown_raises", "events_first_page_only"}

    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", broken)

    assert set(outcomes.failed) == {"grant_idempotent", "revoke_unknown_grant_is_safe", "access_events_paging"}
    assert "a retried grant made another pass" in outcomes.failed["grant_idempotent"]
    assert "expected the 5 events after since" in outcomes.failed["access_events_paging"]


def test_a_declared_capability_is_checked_and_its_missing_hook_and_harness_fail(pytester) -> None:
    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", {"declares_push_without_hook"})

    assert set(outcomes.failed) == {"plugin_info_is_valid", *PUSH_CHECKS}
    assert "declares 'push' but does not implement hub_parse_push" in outcomes.failed["plugin_info_is_valid"]
    assert "Harness.push() is not implemented" in outcomes.failed["push_accepted"]


def test_a_locker_that_allocates_twice_for_one_order(pytester) -> None:
    outcomes = run_suite(pytester, "locker_suite", "FakeLockerHarness", {"allocate_not_idempotent"})

    assert set(outcomes.failed) == {"allocate_idempotent"}


def test_a_visitor_system_that_records_a_redelivered_visit_twice(pytester) -> None:
    outcomes = run_suite(pytester, "visitor_suite", "FakeVisitorHarness", {"register_not_idempotent"})

    assert set(outcomes.failed) == {"register_visitor_idempotent"}


# -- checks that cannot apply ----------------------------------------------------------


def test_a_check_declared_not_applicable_is_skipped_with_the_harness_reason(pytester) -> None:
    reason = "the fake gate's door has no motor"

    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", not_applicable={"remote_open": reason})

    assert outcomes.skipped["remote_open"] == f"Skipped: not applicable to fake-gate: {reason}"
    assert outcomes.failed == {}


def test_a_harness_naming_a_check_the_suite_does_not_have_is_refused() -> None:
    class Typo(FakeGateHarness):
        not_applicable: ClassVar[dict[str, str]] = {"remote_opne": "typo"}

    with pytest.raises(ValueError, match="remote_opne"):
        access_suite(Typo)


def test_a_harness_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="PlatformHarness"):
        platform_suite(FakeGateHarness)  # type: ignore[arg-type]


def test_every_suite_runs_the_common_checks_and_its_kinds_own() -> None:
    common = {
        "plugin_info_is_valid",
        "invalid_settings_are_rejected_naming_the_setting",
        "check_connection_ok",
        "check_connection_reports_invalid_settings",
        "check_connection_reports_refused_credentials",
        "check_connection_reports_an_unreachable_upstream",
        "check_connection_reports_a_silent_upstream_in_time",
        "times_out_without_an_answer",
        "times_out_on_a_trickling_reply",
        "malformed_reply_is_an_upstream_error",
    }
    own = {
        PlatformConformance: {
            "verify_rider_ok",
            "verify_rider_denied",
            "verify_rider_suspended",
            "verify_rider_refuses_an_entry_code_it_cannot_verify",
            "active_orders_filtered_by_community",
            *PUSH_CHECKS,
        },
        AccessConformance: {
            "grant_ok",
            "grant_idempotent",
            "revoke_idempotent",
            "revoke_unknown_grant_is_safe",
            "remote_open",
            "access_events_paging",
            *PUSH_CHECKS,
        },
        LockerConformance: {
            "allocate_ok",
            "allocate_idempotent",
            "release_idempotent",
            "release_unknown_allocation_is_safe",
        },
        VisitorConformance: {"register_visitor_ok", "register_visitor_idempotent"},
    }
    for suite, checks in own.items():
        assert set(checks_of(suite)) == common | checks, suite.__name__


def test_the_fake_harnesses_are_of_their_kinds() -> None:
    # Guards the parametrisation above: a fake bound to the wrong suite would be refused.
    for harness, suite in (
        (FakePlatformHarness, "platform"),
        (FakeGateHarness, "access"),
        (FakeLockerHarness, "locker"),
        (FakeVisitorHarness, "visitor"),
    ):
        assert harness.plugin.kind == suite


# -- the fixtures ---------------------------------------------------------------------


def test_the_plugin_manager_fixture_knows_every_hook_and_holds_no_plugin(plugin_manager) -> None:
    assert hasattr(plugin_manager.hook, "hub_verify_rider") and hasattr(plugin_manager.hook, "hub_release_locker")
    assert plugin_manager.get_plugins() == set()


def test_the_hub_factory_registers_the_plugin_after_the_builtins_or_alone(hub_factory) -> None:
    with_builtins = hub_factory(FakeLockerHarness.plugin())
    bare = hub_factory(FakeLockerHarness.plugin(), builtins=False)

    assert {"fake-locker", "resilience", "verification-cache"} <= {r.info.name for r in with_builtins.plugins()}
    assert [r.info.name for r in bare.plugins()] == ["fake-locker"]


def test_the_store_fixture_is_migrated_and_runs_on_the_manual_clock(hub_store, hub_clock, make_connection) -> None:
    hub_clock.advance(minutes=5)
    connection = make_connection("fake-locker", {"key": "k"})

    hub_store.add_connection(connection, {"key"})

    assert hub_store.get_connection("fake-locker-1") == connection
    assert connection.timeout_s == 2.0 and connection.name == "fake-locker (test)"
    assert hub_clock.now().isoformat() == "2026-01-05T04:05:00+00:00"
