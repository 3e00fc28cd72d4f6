"""The conformance suites can fail: run through pytester against the fake adapters of
tests/conformance_fakes.py, a sound fake passes every check of its kind, and a fake broken
on purpose fails exactly the checks its breakage breaks. Skips say why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from hub.core.hookspecs import CAPABILITY_HOOKS as HOOKS_WITH_A_CONNECTION
from hub.testing import (
    CAPABILITY_HOOKS,
    FAULTS,
    REQUIRED_HOOKS,
    AccessConformance,
    LockerConformance,
    PlatformConformance,
    VisitorConformance,
    access_suite,
    checks_of,
    locker_suite,
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
    faults_not_applicable = {faults_not_applicable!r}
    timeout_grace_s = {grace!r}
    fault_timeout_s = 0.1  # the fakes answer at once: a short wait keeps these runs quick


TestConformance = {suite}(Harness)
"""

PUSH_CHECKS = {"push_accepted", "push_forged_is_rejected", "push_stale_is_rejected", "push_replayed_is_applied_once"}
#: The checks that leave the fault-injection check out.
NO_FAULTS = "not upstream_fault"


def fault_cases(calls: set[str], faults: set[str] | None = None) -> set[str]:
    """The fault-injection check's cases of those calls (and faults: all by default)."""
    return {f"upstream_fault[{call}-{fault}]" for call in calls for fault in (faults or FAULTS)}


#: The platform calls the fake platform does not declare: their fault cases are skipped.
UNDECLARED_PLATFORM_CALLS = {"get_order", "publish_community", "notify_rider"}
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
    *,
    faults_not_applicable: dict[str, str] | None = None,
    keyword: str = "",
    grace: float = 1.5,
) -> Outcomes:
    """Run a kind's suite against a fake (``broken`` on purpose), only the checks that
    ``keyword`` selects (``-k``) when given; ``grace``: the harness's timeout_grace_s, how
    long a call may run past its timeout before the check gives up on it."""
    pytester.makepyfile(
        test_fake=SOURCE.format(
            suite=suite,
            harness=harness,
            broken=set(broken) or set(),
            not_applicable=not_applicable or {},
            faults_not_applicable=faults_not_applicable or {},
            grace=grace,
        )
    )
    recorded = pytester.inline_run("-p", "no:cacheprovider", *(("-k", keyword) if keyword else ()))
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
    expected_skips = unused | (fault_cases(UNDECLARED_PLATFORM_CALLS) if suite == "platform_suite" else set())
    assert set(outcomes.skipped) == expected_skips
    for check, reason in outcomes.skipped.items():
        if check in PUSH_CHECKS:
            assert "does not declare the 'push' capability (it declares: access_events, remote_open, revoke)" in reason
        else:
            capability = check.removeprefix("upstream_fault[").partition("-")[0]
            assert f"does not declare the {capability!r} capability (it declares: active_orders, push, " in reason


# -- broken fakes fail the checks they break -------------------------------------------


def test_a_platform_that_ignores_timeouts_crashes_on_bad_replies_leaks_orders_and_takes_forged_pushes(
    pytester,
) -> None:
    broken = {"timeout_ignored", "malformed_crash", "orders_unfiltered", "forged_push_accepted"}

    outcomes = run_suite(pytester, "platform_suite", "FakePlatformHarness", broken, keyword=NO_FAULTS)

    assert set(outcomes.failed) == {
        "check_connection_reports_a_silent_upstream_in_time",
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

    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", broken, keyword=NO_FAULTS)

    assert set(outcomes.failed) == {"grant_idempotent", "revoke_unknown_grant_is_safe", "access_events_paging"}
    assert "a retried grant made another pass" in outcomes.failed["grant_idempotent"]
    assert "expected the 5 events after since" in outcomes.failed["access_events_paging"]


def test_a_declared_capability_is_checked_and_its_missing_hook_and_harness_fail(pytester) -> None:
    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", {"declares_push_without_hook"}, keyword=NO_FAULTS)

    assert set(outcomes.failed) == {"plugin_info_is_valid", *PUSH_CHECKS}
    assert "declares 'push' but does not implement hub_parse_push" in outcomes.failed["plugin_info_is_valid"]
    assert "Harness.push() is not implemented" in outcomes.failed["push_accepted"]


def test_a_locker_that_allocates_twice_for_one_order(pytester) -> None:
    outcomes = run_suite(pytester, "locker_suite", "FakeLockerHarness", {"allocate_not_idempotent"}, keyword=NO_FAULTS)

    assert set(outcomes.failed) == {"allocate_idempotent"}


def test_a_visitor_system_that_records_a_redelivered_visit_twice(pytester) -> None:
    outcomes = run_suite(
        pytester, "visitor_suite", "FakeVisitorHarness", {"register_not_idempotent"}, keyword=NO_FAULTS
    )

    assert set(outcomes.failed) == {"register_visitor_idempotent"}


# -- checks that cannot apply ----------------------------------------------------------


def test_a_check_declared_not_applicable_is_skipped_with_the_harness_reason(pytester) -> None:
    reason = "the fake gate's door has no motor"

    outcomes = run_suite(
        pytester, "access_suite", "FakeGateHarness", not_applicable={"remote_open": reason}, keyword=NO_FAULTS
    )

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
        "upstream_fault",
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


# -- fault injection: every upstream call under every fault -------------------------

KINDS = {
    "platform": ("platform_suite", "FakePlatformHarness", PlatformConformance),
    "access": ("access_suite", "FakeGateHarness", AccessConformance),
    "locker": ("locker_suite", "FakeLockerHarness", LockerConformance),
    "visitor": ("visitor_suite", "FakeVisitorHarness", VisitorConformance),
}


@pytest.mark.parametrize(
    ("fault", "kind", "breakage", "failing_calls", "says"),
    [
        ("refused", "platform", "unreachable_is_empty", {"active_orders"}, "it returned []: a failure taken for"),
        ("silent", "visitor", "timeout_ignored", {"check_connection", "register_visitor"}, "does not honour"),
        ("http_5xx", "platform", "error_status_is_rejection", {"verify_rider"}, "it raised CredentialRejected"),
        ("http_5xx", "access", "status_unchecked", {"revoke_access", "open_door"}, "it returned True: a failure"),
        ("malformed_json", "locker", "malformed_crash", {"allocate_locker", "release_locker"}, "JSONDecodeError"),
        ("wrong_content_type", "platform", "health_unchecked", {"check_connection"}, "reported Health(ok=True"),
        ("wrong_content_type", "access", "status_unchecked", {"revoke_access", "open_door"}, "it returned True"),
        ("huge_body", "visitor", "reply_unbounded", {"check_connection", "register_visitor"}, "read 50 MiB of the"),
        ("slow_body", "locker", "deadline_ignored", {"check_connection", "allocate_locker", "release_locker"}, "still"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_fault_fails_the_calls_an_adapter_breaks_under_it(
    pytester, fault, kind, breakage, failing_calls, says
) -> None:
    suite, harness, conformance = KINDS[kind]
    # A call that never gives up costs the whole grace: keep it short for those.
    grace = 0.5 if breakage in ("timeout_ignored", "deadline_ignored") else 1.5

    outcomes = run_suite(pytester, suite, harness, {breakage}, keyword=f"upstream_fault and {fault}", grace=grace)

    calls = {call.name for call in conformance.upstream_calls}
    assert set(outcomes.failed) == fault_cases(failing_calls, {fault})
    assert set(outcomes.passed) == fault_cases(calls - failing_calls, {fault}) - fault_cases(UNDECLARED_PLATFORM_CALLS)
    for case, failure in outcomes.failed.items():
        assert says in failure, case


def test_a_sound_adapter_passes_the_fault_cases_of_a_fault_that_breaks_another(pytester) -> None:
    # The same faults, the fakes unbroken: what failed above is the breakage's doing.
    outcomes = run_suite(pytester, "access_suite", "FakeGateHarness", keyword="upstream_fault and http_5xx")

    assert outcomes.failed == {}
    assert set(outcomes.passed) == fault_cases({c.name for c in AccessConformance.upstream_calls}, {"http_5xx"})


def test_fault_cases_declared_not_applicable_are_skipped_with_the_harness_reason(pytester) -> None:
    not_applicable = {
        "http_5xx": "no status codes",
        "open_door": "the door has no motor",
        "access_events/silent": "events are pushed",
    }

    outcomes = run_suite(
        pytester,
        "access_suite",
        "FakeGateHarness",
        faults_not_applicable=not_applicable,
        keyword="upstream_fault and (http_5xx or silent or refused)",
    )

    calls = {c.name for c in AccessConformance.upstream_calls}
    skipped = {
        case: reason.removeprefix("Skipped: not applicable to fake-gate: ") for case, reason in outcomes.skipped.items()
    }
    # The most particular reason wins: the call and fault's, then the call's, then the fault's.
    assert skipped == {
        **dict.fromkeys(fault_cases(calls, {"http_5xx"}), "no status codes"),
        **dict.fromkeys(fault_cases({"open_door"}, {"silent", "refused", "http_5xx"}), "the door has no motor"),
        "upstream_fault[access_events-silent]": "events are pushed",
    }
    assert outcomes.failed == {}
    assert len(outcomes.passed) == len(calls) * 2 - 3


@pytest.mark.parametrize("name", ["http_500", "unlock_door", "open_door/teleport", "open_door-silent"])
def test_a_harness_naming_a_fault_case_the_suite_does_not_have_is_refused(name) -> None:
    class Typo(FakeGateHarness):
        faults_not_applicable: ClassVar[dict[str, str]] = {name: "typo"}

    with pytest.raises(ValueError, match="faults_not_applicable names cases the suite does not have"):
        access_suite(Typo)


def test_every_suite_injects_faults_into_every_call_its_kind_makes_upstream() -> None:
    # Pushes come in from the system; every other hook with a connection goes out to it.
    outgoing = set(HOOKS_WITH_A_CONNECTION) - {"hub_parse_push"}
    capability_of = {hook: capability for capability, hook in CAPABILITY_HOOKS.items()}
    kind_hooks = {
        PlatformConformance: {"hub_verify_rider", "hub_active_orders", "hub_get_order"}
        | {"hub_publish_community", "hub_notify_rider"},
        AccessConformance: {"hub_grant_access", "hub_revoke_access", "hub_open_door", "hub_access_events"},
        LockerConformance: {"hub_allocate_locker", "hub_release_locker"},
        VisitorConformance: {"hub_register_visitor"},
    }
    assert set().union(*kind_hooks.values()) | {"hub_check_connection"} == outgoing
    for suite, hooks in kind_hooks.items():
        calls = {call.hook: call for call in suite.upstream_calls}
        assert set(calls) == hooks | {"hub_check_connection"}, suite.__name__
        for hook, call in calls.items():
            # A required hook is always checked; any other only for plugins declaring it.
            expected = None if hook in REQUIRED_HOOKS[suite.kind] else capability_of[hook]
            assert call.capability == expected, (suite.__name__, hook)


def test_the_fault_cases_are_every_call_under_every_fault() -> None:
    assert list(FAULTS) == [
        "refused",
        "silent",
        "http_5xx",
        "malformed_json",
        "wrong_content_type",
        "huge_body",
        "slow_body",
    ]
    for suite in (PlatformConformance, AccessConformance, LockerConformance, VisitorConformance):
        assert len({call.name for call in suite.upstream_calls}) == len(suite.upstream_calls)
    assert locker_suite(FakeLockerHarness).upstream_calls == LockerConformance.upstream_calls


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
