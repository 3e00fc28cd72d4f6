"""Order reconciliation (``orders.reconcile``) with the engine fakes on a manual clock:
a delivered order ends its pass at the exit grace without any push; what is fresh or
final is not asked again; unknown orders and failing platforms are counted and left for
the next run; a run that crashed halfway is finished by the next; at most ``WORKERS``
calls are made at once."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.core.engine import EntryRequest
from hub.core.errors import UpstreamError
from hub.core.jobs import JobContext
from hub.core.model import Connection, Decision, RiderIdentity
from hub.core.reconcile import ACTOR, WORKERS, reconcile_orders
from hub.core.scheduler import run_job
from tests.engine_fakes import NOON_SHANGHAI, FakePlatform, build_world, order, request

FRESHNESS = timedelta(seconds=120)  # the default of the world's connections
GRACE = timedelta(minutes=5)  # the default exit grace


@pytest.fixture
def world(tmp_path):
    other = FakePlatform("otherplatform")
    world = build_world(tmp_path, extra_plugins=[other])
    world.store.add_connection(Connection("plat2", "otherplatform", "Other platform", timeout_s=0.5), (), ["c1"])
    refs = {"plat": "PC-1", "plat2": "PC-1", "plat3": "PC-1"}  # plat3: see PushOnlyPlatform
    world.store.update_community(dataclasses.replace(world.community, platform_refs=refs))
    world.other = other
    yield world
    world.engine.close()
    world.store.dispose()


def job(world):
    return next(spec for spec in world.hub.jobs() if spec.id == "orders.reconcile")


def run(world):
    return run_job(job(world), JobContext(world.hub, world.store, world.clock))


def rider(world, n: int, platform=None, eta_minutes: int = 10) -> str:
    """Rider ``R<n>`` (token ``tok-<n>``) with order ``O<n>`` being delivered."""
    platform = platform or world.platform
    platform.riders[f"tok-{n}"] = RiderIdentity(f"R{n}", "王*", "138****5678", cache_seconds=300)
    eta = NOON_SHANGHAI + timedelta(minutes=eta_minutes)
    platform.orders[f"R{n}"] = [order(f"O{n}", f"R{n}", "PC-1", eta=eta)]
    return f"tok-{n}"


def enter(world, token: str = "tok-1", connection: str = "plat"):
    entry = world.engine.decide(EntryRequest("north-code", connection, request(token).credential))
    assert entry.decision is Decision.GRANTED, entry.reasons
    return entry


def deliver(platform, n: int, status: str = "delivered") -> None:
    [current] = platform.orders[f"R{n}"]
    platform.orders[f"R{n}"] = [order(current.ref, current.rider_ref, "PC-1", status=status, eta=current.eta)]


def valid_until(world, entry_id: str):
    return world.store.get_entry(entry_id).access_pass.valid_until


def audit(world) -> list[tuple[str, str, str]]:
    with world.store.transaction() as session:
        return [tuple(r) for r in session.execute(text("SELECT actor, action, subject FROM audit_log ORDER BY id"))]


def test_the_job_is_built_in_every_minute():
    from hub.plugins.jobs import BuiltinJobs

    [spec] = [s for s in BuiltinJobs().hub_jobs() if s.id == "orders.reconcile"]
    assert (spec.trigger, dict(spec.trigger_args)) == ("interval", {"seconds": 60})
    assert spec.description


def test_a_delivered_order_ends_the_pass_at_the_exit_grace_without_a_push(world):
    entry = enter(world)
    assert valid_until(world, entry.id) == NOON_SHANGHAI + timedelta(minutes=15)
    deliver(world.platform, 1)
    world.clock.advance(FRESHNESS.total_seconds())

    result = run(world)

    assert result.ok and result.items == 1
    assert valid_until(world, entry.id) == world.clock.now() + GRACE
    assert (ACTOR, "pass.shortened", entry.id) in audit(world)
    assert world.store.get_orders("plat", ["O1"])[0].status == "delivered"
    assert world.store.last_job_runs()["orders.reconcile"]["items"] == 1


def test_a_cancelled_order_ends_the_pass_too(world):
    entry = enter(world)
    deliver(world.platform, 1, status="cancelled")
    world.clock.advance(FRESHNESS.total_seconds())

    run(world)

    assert valid_until(world, entry.id) == world.clock.now() + GRACE


def test_fresh_state_is_not_asked_about_and_a_run_twice_changes_nothing(world):
    entry = enter(world)
    deliver(world.platform, 1)

    assert run(world).items == 0  # the entry's own lookup is still fresh
    assert world.platform.calls.count["hub_get_order"] == 0

    world.clock.advance(FRESHNESS.total_seconds())
    run(world)
    state, records = valid_until(world, entry.id), audit(world)
    world.clock.advance(minutes=3)
    again = run(world)

    assert again.ok and again.items == 0
    assert world.platform.calls.count["hub_get_order"] == 1  # a final order is not asked again
    assert valid_until(world, entry.id) == state
    assert audit(world) == records


def test_an_order_still_on_its_way_is_stored_as_polled_and_asked_again_a_window_later(world):
    entry = enter(world)
    world.clock.advance(FRESHNESS.total_seconds())

    assert run(world).items == 1
    assert valid_until(world, entry.id) == NOON_SHANGHAI + timedelta(minutes=15)
    assert run(world).items == 0  # just polled: fresh
    world.clock.advance(FRESHNESS.total_seconds())
    assert run(world).items == 1
    assert world.platform.calls.count["hub_get_order"] == 2


def test_unknown_orders_and_a_failing_platform_are_counted_and_left_while_others_go_on(world, caplog):
    enter(world, rider(world, 2))
    enter(world, rider(world, 3, world.other), connection="plat2")
    kept = enter(world)  # O1 at plat, delivered below
    world.platform.orders.pop("R2")  # the platform no longer knows O2
    world.other.fail["hub_get_order"] = UpstreamError("Other platform failed: HTTP 503")
    deliver(world.platform, 1)
    world.clock.advance(FRESHNESS.total_seconds())

    report = reconcile_orders(world.hub, world.store)

    assert (report.polled, report.final, report.shortened, report.unknown, report.failed) == (1, 1, 1, 1, 1)
    assert valid_until(world, kept.id) == world.clock.now() + GRACE
    assert "does not know 1 order(s), e.g. O2" in caplog.text
    assert "could not be fetched from plat2, e.g. O3: Other platform failed: HTTP 503" in caplog.text

    world.other.fail.clear()
    deliver(world.other, 3)
    again = reconcile_orders(world.hub, world.store)  # left for the next run: asked again
    assert (again.polled, again.unknown, again.shortened) == (1, 1, 1)


class PushOnlyPlatform(FakePlatform):
    """A platform that pushes its orders' changes and cannot be asked for one."""

    hub_get_order = None


def test_a_connection_that_cannot_be_asked_does_not_stop_the_others(world, caplog):
    push_only = PushOnlyPlatform("pushonly")
    world.hub.register(push_only)
    world.store.add_connection(Connection("plat3", "pushonly", "Push-only platform"), (), ["c1"])
    enter(world, rider(world, 3, push_only), connection="plat3")
    entry = enter(world)
    deliver(world.platform, 1)
    world.clock.advance(FRESHNESS.total_seconds())

    report = reconcile_orders(world.hub, world.store)

    assert (report.polled, report.failed) == (1, 1)
    assert valid_until(world, entry.id) == world.clock.now() + GRACE
    assert "plat3 cannot be reconciled: plugin pushonly does not implement hub_get_order" in caplog.text


def test_a_run_that_crashed_halfway_is_finished_by_the_next(world, monkeypatch):
    entries = [enter(world, rider(world, n)) for n in range(1, 6)]
    for n in range(1, 6):
        deliver(world.platform, n)
    world.clock.advance(FRESHNESS.total_seconds())
    store_batch = world.store.apply_polled_orders
    batches = []

    def crash_on_the_second_batch(*args, **kwargs):
        batches.append(args)
        if len(batches) == 2:
            raise RuntimeError("the database went away")
        return store_batch(*args, **kwargs)

    monkeypatch.setattr(world.store, "apply_polled_orders", crash_on_the_second_batch)
    spec = job(world)
    crashed = run_job(
        type(spec)(spec.id, lambda ctx: reconcile_orders(ctx.hub, ctx.store, batch_size=2).polled, "interval"),
        JobContext(world.hub, world.store, world.clock),
    )

    assert crashed.error == "RuntimeError"
    assert world.store.last_job_runs()["orders.reconcile"]["errors"] == 1
    cut = [valid_until(world, e.id) == world.clock.now() + GRACE for e in entries]
    assert cut == [True, True, False, False, False]  # the first batch is kept

    monkeypatch.undo()
    finished = run(world)

    assert finished.ok and finished.items == 3  # only what the crash left
    assert all(valid_until(world, e.id) == world.clock.now() + GRACE for e in entries)
    assert [action for _, action, _ in audit(world)].count("pass.shortened") == 5
    assert world.platform.calls.count["hub_get_order"] == 4 + 3


def test_no_more_than_the_workers_call_the_platform_at_once(world):
    for n in range(1, 13):
        enter(world, rider(world, n))
    world.clock.advance(FRESHNESS.total_seconds())
    lock, running, most = threading.Lock(), [0], [0]
    release = threading.Event()

    def count_and_wait():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == WORKERS:
                release.set()
        release.wait(timeout=2)  # hold the first calls until all workers are busy
        time.sleep(0.02)  # and every call a little, so that more workers would show
        with lock:
            running[0] -= 1

    world.platform.before["hub_get_order"] = count_and_wait

    report = reconcile_orders(world.hub, world.store)

    assert report.polled == 12
    assert most[0] == WORKERS


def test_progress_is_reported_batch_by_batch(world):
    for n in range(1, 6):
        enter(world, rider(world, n))
    world.clock.advance(FRESHNESS.total_seconds())
    seen = []

    reconcile_orders(
        world.hub, world.store, batch_size=2, progress=lambda done, total, note: seen.append((done, total))
    )

    assert seen == [(2, 5), (4, 5), (5, 5)]
