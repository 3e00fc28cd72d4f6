"""Pass expiry (``passes.expire``) with the engine fakes on a manual clock: expired
passes are taken back at the device (a guard's at once), a failing device is retried
with back-off and given up on after the last attempt, a rider's exit that failed is
finished by the job, a run that crashed halfway is finished by the next, and the console
shows the passes the devices have not taken back, scoped for managers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.core.errors import UpstreamError
from hub.core.expiry import ACTOR, expire_passes
from hub.core.jobs import JobContext
from hub.core.model import Decision
from hub.core.revocation import MAX_ATTEMPTS, retry_after
from hub.core.scheduler import run_job
from hub.core.trace import AuditAction
from tests.console_world import build_console_world
from tests.engine_fakes import NOON_SHANGHAI, build_world, request
from tests.storage.builders import make_entry, save

PASS_LIFE = timedelta(minutes=15)  # the order's expected delivery in 10 minutes, plus the grace


@pytest.fixture
def world(tmp_path):
    world = build_world(tmp_path)
    yield world
    world.engine.close()
    world.store.dispose()


def job(world):
    return next(spec for spec in world.hub.jobs() if spec.id == "passes.expire")


def run(world):
    return run_job(job(world), JobContext(world.hub, world.store, world.clock))


def enter(world, gate: str = "north-code"):
    entry = world.engine.decide(request(gate=gate))
    assert entry.decision is Decision.GRANTED, entry.reasons
    return entry


def advance(world, delta: timedelta) -> None:
    world.clock.advance(delta.total_seconds())


def audit(world) -> list[tuple[str, str, str]]:
    with world.store.transaction() as session:
        return [tuple(r) for r in session.execute(text("SELECT actor, action, subject FROM audit_log ORDER BY id"))]


def stored_pass(world, entry_id: str) -> dict:
    with world.store.transaction() as session:
        query = text("SELECT revoked_at, revoke_attempts, revoke_error FROM passes WHERE entry_id = :id")
        return dict(session.execute(query, {"id": entry_id}).mappings().one())


def test_the_job_is_built_in_every_minute():
    from hub.plugins.jobs import BuiltinJobs

    [spec] = [s for s in BuiltinJobs().hub_jobs() if s.id == "passes.expire"]
    assert (spec.trigger, dict(spec.trigger_args)) == ("interval", {"seconds": 60})
    assert spec.description


def test_an_expired_pass_is_revoked_at_the_device_once(world):
    entry = enter(world)
    advance(world, PASS_LIFE - timedelta(seconds=1))
    assert run(world).items == 0  # still valid
    advance(world, timedelta(seconds=1))

    result = run(world)
    records = audit(world)
    again = run(world)

    assert (result.ok, result.items, again.items) == (True, 1, 0)
    assert world.gate_ctl.revoked == [entry.id]
    assert world.store.get_entry(entry.id).pass_revoked_at == NOON_SHANGHAI + PASS_LIFE
    assert records[-1] == (ACTOR, "access.revoked", entry.id)
    assert audit(world) == records
    assert [r["items"] for r in world.store.job_runs("passes.expire")] == [0, 1, 0]  # newest first


def test_a_guards_pass_is_marked_revoked_without_a_device(world):
    entry = enter(world, gate="east-code")
    advance(world, PASS_LIFE)

    assert run(world).items == 1

    assert world.gate_ctl.calls.count["hub_revoke_access"] == 0
    assert world.store.get_entry(entry.id).pass_revoked_at == world.clock.now()
    assert audit(world)[-1] == (ACTOR, "pass.revoked", entry.id)


def test_a_failing_device_is_retried_with_back_off_and_the_failure_is_kept(world):
    entry = enter(world)
    advance(world, PASS_LIFE)
    world.gate_ctl.revoke_fail = UpstreamError("North controller failed: HTTP 503")

    assert run(world).items == 1
    assert stored_pass(world, entry.id) == {
        "revoked_at": None,
        "revoke_attempts": 1,
        "revoke_error": "North controller failed: HTTP 503",
    }
    assert audit(world)[-1] == (ACTOR, "access.revoked.failed", entry.id)
    [shown] = world.store.unrevoked_passes()
    assert (shown.pass_id, shown.attempts, shown.given_up) == (entry.id, 1, False)

    advance(world, timedelta(minutes=1))
    assert run(world).items == 0  # not every minute: 2 minutes after the first failure
    advance(world, retry_after(1) - timedelta(minutes=1))
    assert run(world).items == 1
    assert world.gate_ctl.calls.count["hub_revoke_access"] == 2

    world.gate_ctl.revoke_fail = None
    advance(world, retry_after(2))
    assert run(world).items == 1
    assert world.gate_ctl.revoked == [entry.id]
    assert world.store.get_entry(entry.id).pass_revoked_at == world.clock.now()
    assert world.store.unrevoked_passes() == []


def test_after_the_last_attempt_the_pass_is_given_up_on_and_shown(world):
    entry = enter(world)
    advance(world, PASS_LIFE)
    world.gate_ctl.revoke_fail = UpstreamError("North controller failed: timeout")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert run(world).items == 1
        advance(world, retry_after(attempt))
    advance(world, timedelta(days=1))
    assert run(world).items == 0

    assert world.gate_ctl.calls.count["hub_revoke_access"] == MAX_ATTEMPTS
    assert [a for _, a, _ in audit(world)].count("access.revoked.failed") == MAX_ATTEMPTS
    assert audit(world)[-1] == (ACTOR, "pass.revoke_given_up", entry.id)
    [shown] = world.store.unrevoked_passes()
    assert (shown.attempts, shown.given_up, shown.error) == (MAX_ATTEMPTS, True, "North controller failed: timeout")


def test_an_exit_the_device_did_not_confirm_is_finished_by_the_job(world):
    entry = enter(world)
    advance(world, timedelta(minutes=3))
    world.gate_ctl.revoke_fail = UpstreamError("North controller failed: HTTP 503")
    world.engine.exit(entry.id)
    assert stored_pass(world, entry.id)["revoke_attempts"] == 1  # the exit's attempt counts
    world.gate_ctl.revoke_fail = None

    assert run(world).items == 0  # the pass ended at the exit; its retry waits
    advance(world, retry_after(1))
    assert run(world).items == 1

    assert world.gate_ctl.revoked == [entry.id]
    assert world.store.get_entry(entry.id).pass_revoked_at == world.clock.now()


def test_a_run_that_crashed_halfway_is_finished_by_the_next(world, monkeypatch):
    entries = [enter(world) for _ in range(3)]
    advance(world, PASS_LIFE)
    record = world.store.record_pass_revocation
    calls = []

    def crash_on_the_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return record(*args, **kwargs)

    monkeypatch.setattr(world.store, "record_pass_revocation", crash_on_the_second)
    crashed = run(world)

    assert crashed.error == "RuntimeError"
    assert world.store.last_job_runs()["passes.expire"]["errors"] == 1
    revoked = [world.store.get_entry(e.id).pass_revoked_at is not None for e in entries]
    assert revoked.count(True) == 1

    monkeypatch.undo()
    finished = run(world)

    assert finished.ok and finished.items == 2
    assert all(world.store.get_entry(e.id).pass_revoked_at is not None for e in entries)
    # The pass whose revocation was not recorded is asked for again: the device does not mind.
    assert sorted(world.gate_ctl.revoked) == sorted([e.id for e in entries] + [calls[1][0]])


def test_progress_is_reported_pass_by_pass(world):
    entries = [enter(world) for _ in range(2)]
    advance(world, PASS_LIFE)
    seen = []

    report = expire_passes(world.hub, world.store, progress=lambda done, total, note: seen.append((done, total, note)))

    assert report.revoked == 2
    assert [s[:2] for s in seen] == [(1, 2), (2, 2)]
    assert {s[2] for s in seen} == {e.id for e in entries}


def test_a_run_stays_within_its_limit(world):
    for _ in range(3):
        enter(world)
    advance(world, PASS_LIFE)

    assert expire_passes(world.hub, world.store, limit=2).attempted == 2
    assert expire_passes(world.hub, world.store, limit=2).attempted == 1


# -- the console --------------------------------------------------------------------------


def test_the_jobs_page_shows_passes_not_taken_back_scoped_for_managers(tmp_path):
    cw = build_console_world(tmp_path)
    try:
        store = cw.store
        save(store, make_entry(id="a-pass"))
        save(store, make_entry(id="b-pass", community_id="c2", gate_id="g9", connection_id="plat2"), orders=[])
        failed = AuditAction("access.revoked.failed", "gatectl", "", {"error": "HTTP 503 from the controller"})
        store.record_pass_revocation("a-pass", confirmed=False, actions=[failed], actor="test", error="HTTP 503")
        for _ in range(MAX_ATTEMPTS):
            store.record_pass_revocation("b-pass", confirmed=False, actions=[], actor="test", error="unknown user")

        olga = cw.sign_in("olga").get("/admin/jobs").get_data(as_text=True)
        anna = cw.sign_in("anna").get("/admin/jobs").get_data(as_text=True)
        zh = cw.sign_in("olga").get("/admin/jobs", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    finally:
        cw.close()

    assert re.findall(r'data-unrevoked="([^"]+)"', olga) == ["a-pass", "b-pass"]
    assert "HTTP 503" in olga and "unknown user" in olga
    assert "given up" in olga and "retrying" in olga
    assert re.findall(r'data-unrevoked="([^"]+)"', anna) == ["a-pass"]
    assert "unknown user" not in anna
    assert "未被设备收回的通行证" in zh
