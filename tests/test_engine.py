"""The entry engine, end to end through real storage (SQLite), the built-in plugins and
in-test platform and gate plugins."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import time, timedelta
from time import monotonic, sleep

import pytest
from sqlalchemy import text

from hub import hookimpl
from hub.core.engine import Bulkheads, combine, pass_until
from hub.core.errors import Conflict, NotFound, UpstreamError
from hub.core.model import (
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Order,
    PassKind,
    PluginInfo,
    RiderIdentity,
    Verdict,
)
from tests.engine_fakes import NOON_SHANGHAI, FakeLockers, FakeVisitorSystem, build_world, order, request


@pytest.fixture
def world(tmp_path):
    w = build_world(tmp_path)
    yield w
    w.engine.close()
    w.store.dispose()


def reason_codes(entry) -> list[str]:
    return [r.code for r in entry.reasons]


# -- granted -------------------------------------------------------------------------------


def test_verified_rider_with_active_order_is_granted_a_pass_from_the_gate_device(world):
    entry = world.engine.decide(request())

    assert entry.decision is Decision.GRANTED
    assert entry.reasons == ()
    assert entry.rider_ref == "R1"
    assert entry.order_refs == ("O1",)
    assert entry.access_pass.kind is PassKind.QR
    assert entry.access_pass.grant_id == entry.id
    # until the expected delivery (10 min) plus the exit grace (5), under the 30-minute cap
    assert entry.access_pass.valid_until == NOON_SHANGHAI + timedelta(minutes=15)
    assert world.gate_ctl.grants[entry.id] == entry.access_pass


def test_decided_entry_is_committed_with_pass_timings_and_audit(world):
    entry = world.engine.decide(request())

    stored = world.store.get_entry(entry.id)
    assert stored.decision is Decision.GRANTED
    assert stored.access_pass == entry.access_pass
    hooks = sorted(c.hook for c in stored.hook_calls)
    assert hooks == ["hub_active_orders", "hub_grant_access", "hub_verify_rider"]
    assert all(c.outcome == "ok" for c in stored.hook_calls)
    assert world.store.verify_audit_chain() is None


def test_gate_without_a_device_gets_a_pass_the_guard_checks(world):
    entry = world.engine.decide(request(gate="east-code"))

    assert entry.decision is Decision.GRANTED
    assert entry.access_pass.kind is PassKind.GUARD
    assert world.gate_ctl.calls.count["hub_grant_access"] == 0


def test_pass_is_capped_by_the_community_maximum():
    community = Community("c", "C", policy=CommunityPolicy(max_pass_minutes=20, exit_grace_minutes=5))
    late = [Order("O", "delivering", eta=NOON_SHANGHAI + timedelta(hours=2))]
    assert pass_until(community, late, NOON_SHANGHAI) == NOON_SHANGHAI + timedelta(minutes=20)
    assert pass_until(community, [], NOON_SHANGHAI) == NOON_SHANGHAI + timedelta(minutes=20)
    overdue = [Order("O", "delivering", eta=NOON_SHANGHAI - timedelta(hours=1))]
    assert pass_until(community, overdue, NOON_SHANGHAI) == NOON_SHANGHAI + timedelta(minutes=5)


# -- denied, one test per reason ------------------------------------------------------------


def test_unknown_credential_is_denied_with_the_platforms_words(world):
    entry = world.engine.decide(request(token="forged"))

    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["rider_not_verified"]
    assert "does not know this rider" in entry.reasons[0].en
    assert not world.gate_ctl.grants


def test_rider_without_an_active_order_is_denied(world):
    world.platform.orders["R1"] = [order("O1", "R1", "PC-1", status="delivered")]
    entry = world.engine.decide(request())
    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["no_active_order"]


def test_order_into_another_community_does_not_count(world):
    world.platform.orders["R1"] = [order("O9", "R1", "PC-OTHER")]
    entry = world.engine.decide(request())
    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["no_active_order"]


def test_named_order_that_the_rider_does_not_have_is_denied(world):
    entry = world.engine.decide(request(order_ref="O-NOT-MINE"))
    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["order_not_found"]


def test_suspended_rider_is_denied(world):
    world.platform.riders["tok-1"] = RiderIdentity("R1", status="suspended")
    entry = world.engine.decide(request())
    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["rider_suspended"]


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        (CommunityPolicy(allowed_platforms={"otherplatform"}), "platform_not_allowed"),
        (CommunityPolicy(opening=time(6, 0), closing=time(11, 0)), "outside_hours"),
        (CommunityPolicy(require_presence=True), "presence_required"),
    ],
)
def test_community_policy_denies(tmp_path, policy, code):
    w = build_world(tmp_path, policy)
    entry = w.engine.decide(request())
    assert entry.decision is Decision.DENIED
    assert code in reason_codes(entry)
    assert not w.gate_ctl.grants


def test_too_many_entries_in_an_hour_are_denied(tmp_path):
    w = build_world(tmp_path, CommunityPolicy(max_entries_per_hour=2))
    first, second = (w.engine.decide(request()) for _ in range(2))
    third = w.engine.decide(request())

    assert first.decision is second.decision is Decision.GRANTED
    assert third.decision is Decision.DENIED
    assert reason_codes(third) == ["too_many_entries"]
    w.clock.advance(minutes=61)
    assert w.engine.decide(request()).decision is Decision.GRANTED


# -- lockers instead of going in ----------------------------------------------------------


@pytest.fixture
def locker_world(tmp_path):
    lockers = FakeLockers()
    w = build_world(tmp_path, CommunityPolicy(lockers_only=True), extra_plugins=[lockers])
    w.store.add_connection(Connection("bank-1", "fakelockers", "Lockers by the north gate"), (), ["c1"])
    yield w, lockers
    w.engine.close()
    w.store.dispose()


def test_lockers_only_community_sends_the_rider_to_a_compartment_not_through_the_gate(locker_world):
    w, _ = locker_world

    entry = w.engine.decide(request())

    assert entry.decision is Decision.GRANTED
    assert entry.access_pass is None
    assert (entry.locker.locker_no, entry.locker.pin, entry.locker.bank_id) == ("1", "901", "bank-1")
    assert w.gate_ctl.calls.count["hub_grant_access"] == 0
    assert w.store.get_entry(entry.id).locker == entry.locker


def test_full_or_broken_locker_bank_gives_a_manual_check(locker_world):
    w, lockers = locker_world
    lockers.full = True

    entry = w.engine.decide(request())

    assert entry.decision is Decision.MANUAL_CHECK
    assert reason_codes(entry) == ["locker_unavailable"]
    assert entry.locker is None


def test_lockers_only_still_denies_a_rider_without_an_order(locker_world):
    w, lockers = locker_world
    w.platform.orders["R1"] = []
    entry = w.engine.decide(request())
    assert entry.decision is Decision.DENIED
    assert lockers.allocations == {}


# -- manual check when something upstream fails ------------------------------------------------


def test_platform_timeout_gives_manual_check_not_a_denial(world):
    world.platform.delay["hub_verify_rider"] = 2.0  # longer than the connection's 0.5 s

    entry = world.engine.decide(request())

    assert entry.decision is Decision.MANUAL_CHECK
    assert reason_codes(entry) == ["platform_timeout"]
    assert not world.gate_ctl.grants
    timeout_calls = [c for c in entry.hook_calls if c.outcome == "timeout"]
    assert [c.hook for c in timeout_calls] == ["hub_verify_rider"]


def test_rejected_rider_is_decided_without_waiting_for_the_orders(world):
    release = threading.Event()
    world.platform.before["hub_active_orders"] = release.wait  # would outlast the 0.5 s deadline

    entry = world.engine.decide(request(token="forged"))
    release.set()

    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["rider_not_verified"]
    assert [c.hook for c in entry.hook_calls if c.outcome == "timeout"] == []


def test_platform_error_gives_manual_check(world):
    world.platform.fail["hub_active_orders"] = UpstreamError("502 from platform")
    entry = world.engine.decide(request())
    assert entry.decision is Decision.MANUAL_CHECK
    assert reason_codes(entry) == ["platform_error"]


def test_unexpected_plugin_exception_gives_manual_check(world):
    world.platform.fail["hub_verify_rider"] = KeyError("id")
    entry = world.engine.decide(request())
    assert entry.decision is Decision.MANUAL_CHECK
    assert not world.gate_ctl.grants


def test_open_circuit_gives_manual_check_without_calling_the_platform(tmp_path):
    w = build_world(tmp_path, failure_threshold=2)
    w.platform.fail["hub_verify_rider"] = UpstreamError("down")
    for _ in range(2):
        w.engine.decide(request(token="someone-else"))
    calls_before = w.platform.calls.count["hub_verify_rider"]

    entry = w.engine.decide(request(token="another"))

    assert entry.decision is Decision.MANUAL_CHECK
    assert "platform_circuit_open" in reason_codes(entry)
    assert w.platform.calls.count["hub_verify_rider"] == calls_before


def test_gate_device_failure_gives_manual_check(world):
    world.gate_ctl.fail = UpstreamError("device offline")
    entry = world.engine.decide(request())
    assert entry.decision is Decision.MANUAL_CHECK
    assert reason_codes(entry) == ["gate_device_unavailable"]
    assert entry.access_pass is None


class AlwaysAllow:
    @hookimpl
    def hub_plugin_info(self):
        return PluginInfo(name="always-allow", kinds={"policy"}, version="1")

    @hookimpl
    def hub_evaluate_entry(self, context):
        return Verdict.allow()


def test_no_grant_without_a_verified_rider_whatever_the_votes(tmp_path):
    w = build_world(tmp_path, extra_plugins=[AlwaysAllow()])
    w.hub.pm.unregister(name="default-policy")
    w.hub.pm.unregister(name="manual-check-fallback")
    w.platform.fail["hub_verify_rider"] = UpstreamError("down")

    entry = w.engine.decide(request())

    assert entry.decision is Decision.MANUAL_CHECK
    assert not w.gate_ctl.grants


def test_votes_combine_deny_over_manual_over_allow():
    rider = RiderIdentity("R1")
    deny = Verdict.deny("a", "甲", "A")
    manual = Verdict.manual("b", "乙", "B")
    assert combine([Verdict.allow(), manual, deny], rider) == (Decision.DENIED, (deny.reason,))
    assert combine([Verdict.allow(), manual], rider) == (Decision.MANUAL_CHECK, (manual.reason,))
    assert combine([Verdict.allow()], rider) == (Decision.GRANTED, ())
    assert combine([], rider)[0] is Decision.MANUAL_CHECK


# -- idempotency ---------------------------------------------------------------------------


def test_same_idempotency_key_and_request_give_back_the_same_entry(world):
    first = world.engine.decide(request(idempotency_key="k-1"))
    again = world.engine.decide(request(idempotency_key="k-1"))

    assert again.id == first.id
    assert again.access_pass == first.access_pass
    assert world.platform.calls.count["hub_verify_rider"] == 1
    assert len(world.gate_ctl.grants) == 1


def test_same_idempotency_key_with_a_different_request_is_a_conflict(world):
    world.engine.decide(request(idempotency_key="k-1"))
    with pytest.raises(Conflict, match="Idempotency-Key"):
        world.engine.decide(request(idempotency_key="k-1", order_ref="O1"))


def test_concurrent_twins_commit_one_entry_and_withdraw_the_extra_pass(world):
    world.platform.delay["hub_active_orders"] = 0.2
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(world.engine.decide(request(idempotency_key="twin"))))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len({e.id for e in results}) == 1
    extra = set(world.gate_ctl.grants) - {results[0].id}
    assert set(world.gate_ctl.revoked) == extra


def test_unknown_gate_code_is_not_found(world):
    with pytest.raises(NotFound):
        world.engine.decide(request(gate="no-such-gate"))


# -- speed: concurrency, pushes, cache ---------------------------------------------------------


def test_identity_and_orders_are_fetched_at_the_same_time(world):
    # Each call waits until the other has started: done one after the other, the
    # barrier would break and the entry would not be granted.
    barrier = threading.Barrier(2, timeout=0.4)
    world.platform.before["hub_verify_rider"] = barrier.wait
    world.platform.before["hub_active_orders"] = barrier.wait

    entry = world.engine.decide(request())

    assert entry.decision is Decision.GRANTED
    (v_start, v_end), (o_start, o_end) = (
        world.platform.calls.spans[h][0] for h in ("hub_verify_rider", "hub_active_orders")
    )
    assert v_start < o_end and o_start < v_end


def test_pushed_order_state_within_freshness_is_used_without_asking(world):
    world.store.upsert_order("plat", order("O1", "R1", "PC-1"), source="push")

    entry = world.engine.decide(request(order_ref="O1"))

    assert entry.decision is Decision.GRANTED
    assert world.platform.calls.count["hub_active_orders"] == 0


def test_pushed_order_state_older_than_freshness_is_not_trusted(world):
    world.store.upsert_order("plat", order("O1", "R1", "PC-1"), source="push")
    world.clock.advance(seconds=121)

    world.engine.decide(request(order_ref="O1"))

    assert world.platform.calls.count["hub_active_orders"] == 1


def test_pushed_order_of_another_rider_is_no_evidence(world):
    world.store.upsert_order("plat", order("O7", "R-SOMEONE-ELSE", "PC-1"), source="push")
    entry = world.engine.decide(request(order_ref="O7"))
    assert entry.decision is Decision.DENIED


def test_pushed_order_into_another_community_is_no_evidence(world):
    world.store.upsert_order("plat", order("O8", "R1", "PC-ELSEWHERE"), source="push")
    entry = world.engine.decide(request(order_ref="O8"))
    assert entry.decision is Decision.DENIED
    assert entry.order_refs == ()


def test_pushed_order_that_names_no_rider_is_no_evidence(world):
    world.store.upsert_order("plat", order("O6", "", ""), source="push")
    entry = world.engine.decide(request(order_ref="O6"))
    assert world.platform.calls.count["hub_active_orders"] == 1  # so the platform was asked instead
    assert entry.decision is Decision.DENIED
    assert reason_codes(entry) == ["order_not_found"]


def test_common_case_costs_only_the_grant_call(world):
    world.engine.decide(request())  # first visit: identity cached
    world.store.upsert_order("plat", order("O2", "R1", "PC-1"), source="push")
    platform_calls, grants = world.platform.calls.upstream, world.gate_ctl.calls.upstream

    entry = world.engine.decide(request(order_ref="O2"))

    assert entry.decision is Decision.GRANTED
    assert world.platform.calls.upstream == platform_calls
    assert world.gate_ctl.calls.upstream == grants + 1
    assert {c.hook: c.outcome for c in entry.hook_calls}["hub_verify_rider"] == "cache"


def test_signed_entry_code_with_pushed_orders_needs_no_platform_call(world):
    world.platform.codes["SIGNED-1"] = RiderIdentity("R1", order_refs=("O3",))
    world.store.upsert_order("plat", order("O3", "R1", "PC-1"), source="push")

    entry = world.engine.decide(request(credential=Credential(CredentialKind.ENTRY_CODE, "SIGNED-1")))

    assert entry.decision is Decision.GRANTED
    assert entry.order_refs == ("O3",)
    assert world.platform.calls.upstream == 0


def test_single_use_entry_code_is_accepted_once(world):
    world.platform.codes["SIGNED-2"] = RiderIdentity(
        "R1", order_refs=("O1",), single_use_id="jti-1", single_use_until=NOON_SHANGHAI + timedelta(minutes=5)
    )
    code = Credential(CredentialKind.ENTRY_CODE, "SIGNED-2")

    first = world.engine.decide(request(credential=code))
    second = world.engine.decide(request(credential=code))

    assert first.decision is Decision.GRANTED
    assert second.decision is Decision.DENIED
    assert "already used" in second.reasons[0].en
    assert len(world.gate_ctl.grants) == 1


def test_failed_orders_call_falls_back_to_the_riders_pushed_orders(world):
    world.platform.fail["hub_active_orders"] = UpstreamError("orders API down")
    world.store.upsert_order("plat", order("O4", "R1", "PC-1"), source="push")

    entry = world.engine.decide(request())

    assert entry.decision is Decision.GRANTED
    assert entry.order_refs == ("O4",)


# -- after the decision ------------------------------------------------------------------------


def test_side_effects_go_to_the_outbox_not_the_critical_path(tmp_path):
    visitors = FakeVisitorSystem()
    w = build_world(tmp_path, CommunityPolicy(visitor_record=True), extra_plugins=[visitors])
    w.store.add_connection(Connection("visitors", "fakevisitors", "Visitor book"), (), ["c1"])

    entry = w.engine.decide(request())

    assert entry.decision is Decision.GRANTED
    assert visitors.visits == [] and w.platform.notices == []  # delivered later, by the outbox job
    with w.store.transaction() as session:
        rows = session.execute(text("SELECT kind, connection_id, payload FROM outbox")).all()
    assert sorted((kind, conn) for kind, conn, _ in rows) == [
        ("notify_rider", "plat"),
        ("register_visitor", "visitors"),
    ]
    assert all(entry.id in str(payload) for _, _, payload in rows)


class Recorder:
    def __init__(self, store):
        self.store = store
        self.seen = []

    @hookimpl
    def hub_plugin_info(self):
        return PluginInfo(name="recorder", kinds={"policy"}, version="1")

    @hookimpl
    def hub_entry_decided(self, entry):
        # the entry is already committed when listeners hear of it
        self.seen.append(self.store.get_entry(entry.id).decision)


def test_listeners_hear_of_the_entry_after_it_is_committed(tmp_path):
    w = build_world(tmp_path)
    recorder = Recorder(w.store)
    w.hub.register(recorder)

    entry = w.engine.decide(request())

    assert recorder.seen == [entry.decision]


def test_fingerprint_ignores_the_idempotency_key_but_not_the_credential():
    base = request(idempotency_key="a")
    assert base.fingerprint() == replace(base, idempotency_key="b").fingerprint()
    assert base.fingerprint() != request(token="tok-2").fingerprint()
    assert "tok-1" not in base.fingerprint()


# -- bulkheads: one slow connection cannot take the pool ----------------------------------------


def test_bulkheads_limit_each_connection_alone():
    bulkheads = Bulkheads(2)
    slow, healthy = Connection("slow", "p", "Slow"), Connection("ok", "p", "Healthy")
    first, second = bulkheads.enter(slow), bulkheads.enter(slow)
    assert first is not None and second is not None
    assert bulkheads.enter(slow) is None
    assert bulkheads.enter(healthy) is not None
    first()
    assert bulkheads.busy("slow") == 1
    assert bulkheads.enter(slow) is not None


def test_bulkheads_need_a_limit():
    with pytest.raises(ValueError, match="1 or more"):
        Bulkheads(0)


def test_a_connection_using_its_share_of_the_pool_gets_manual_checks_at_once(world):
    """The engine's pool has 8 threads, so a connection may hold 4: two entries waiting on
    a silent platform hold them all; the next entry is not made to wait for a thread,
    and its calls are never made."""
    release, started = threading.Event(), []

    def silent() -> None:
        started.append(1)
        release.wait(10)

    for hook in ("hub_verify_rider", "hub_active_orders"):
        world.platform.before[hook] = silent
    stuck = [threading.Thread(target=world.engine.decide, args=(request(),)) for _ in range(2)]
    try:
        for thread in stuck:
            thread.start()
        deadline = monotonic() + 10
        while len(started) < 4 and monotonic() < deadline:
            sleep(0.01)
        entry = world.engine.decide(request())
        made = len(started)
    finally:
        release.set()
        for thread in stuck:
            thread.join(10)
    assert entry.decision is Decision.MANUAL_CHECK
    assert reason_codes(entry) == ["platform_error"]
    busy = [c for c in entry.hook_calls if c.hook == "hub_verify_rider"]
    assert [(c.outcome, c.duration_ms) for c in busy] == [("error", 0.0)]
    assert "calls under way already" in busy[0].detail
    assert made == 4  # the stuck ones only
    assert entry.access_pass is None
    # Once the stuck calls end, the places are free again.
    deadline = monotonic() + 10
    while world.engine._bulkheads.busy("plat") and monotonic() < deadline:
        sleep(0.01)
    assert world.engine.decide(request()).decision is Decision.GRANTED
