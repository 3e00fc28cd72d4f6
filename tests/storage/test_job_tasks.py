"""Job runs of Celery tasks, on SQLite and PostgreSQL: a task's key is claimed once, a
task delivered again after its run finished is skipped, one whose worker died is taken
over once its run is past the stale limit (and given up on after the last attempt), an
earlier tick of the same partition that still runs makes a later one skip, concurrent
copies of one task run once; the run views add up a tick's partitions; and the queries
the partitioned jobs use keep to their connection."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.core.db import JobRunRow
from hub.core.model import AccessGrant, Connection, Gate, PassKind
from hub.core.revocation import MAX_ATTEMPTS as MAX_REVOKE_ATTEMPTS
from hub.core.tasks import WORKER_LOST, ClaimOutcome, task_key
from tests.storage.builders import make_entry, save, seed

STALE = timedelta(minutes=11)
TICK = datetime(2026, 12, 5, 9, 15, tzinfo=UTC)
JOB = "outbox.deliver"


def claim(store, partition="plat", tick=TICK, *, job=JOB, max_attempts=3, stale=STALE):
    return store.claim_job_task(
        job, partition, task_key(job, tick, partition), tick, stale_after=stale, max_attempts=max_attempts
    )


def rows(store):
    with store.transaction() as s:
        return [
            (r.partition, r.task_key, r.attempts, r.ended_at is not None, r.error)
            for r in s.scalars(select(JobRunRow).order_by(JobRunRow.id))
        ]


def test_a_new_task_is_claimed_and_recorded_with_its_partition_key_and_tick(store, clock):
    got = claim(store)

    assert got.outcome is ClaimOutcome.CLAIMED and got.runs and got.attempt == 1
    assert rows(store) == [("plat", task_key(JOB, TICK, "plat"), 1, False, None)]
    [run] = store.job_runs(JOB)
    assert (run["tick"], run["ended_at"], run["started_at"]) == (TICK, None, clock.now())


def test_a_task_delivered_again_after_its_run_finished_is_skipped(store):
    first = claim(store)
    assert store.finish_job_run(first.run_id, items=4, attempt=first.attempt)

    again = claim(store)

    assert again.outcome is ClaimOutcome.FINISHED and not again.runs
    assert again.run_id == first.run_id
    assert len(rows(store)) == 1
    assert store.job_runs(JOB)[0]["items"] == 4


def test_a_copy_of_a_task_whose_run_may_still_go_on_waits_until_it_is_stale(store, clock):
    first = claim(store)
    clock.advance(minutes=4)

    copy = claim(store)

    assert copy.outcome is ClaimOutcome.RUNNING and not copy.runs
    assert copy.stale_in_s == pytest.approx((STALE - timedelta(minutes=4)).total_seconds())
    assert copy.run_id == first.run_id
    assert rows(store)[0][2] == 1  # not taken over


def test_a_run_whose_worker_died_is_taken_over_after_the_stale_limit(store, clock):
    first = claim(store)
    clock.advance(seconds=STALE.total_seconds() + 1)

    copy = claim(store)

    assert copy.outcome is ClaimOutcome.TAKEN_OVER and copy.runs
    assert (copy.run_id, copy.attempt) == (first.run_id, 2)
    [run] = store.job_runs(JOB)
    assert run["started_at"] == clock.now() and run["ended_at"] is None
    # The presumed-dead worker cannot overwrite the record of the one that took over.
    assert store.finish_job_run(first.run_id, items=99, attempt=first.attempt) is False
    assert store.finish_job_run(copy.run_id, items=2, attempt=copy.attempt) is True
    assert store.job_runs(JOB)[0]["items"] == 2
    assert claim(store).outcome is ClaimOutcome.FINISHED


def test_a_task_that_kills_every_worker_is_given_up_after_the_last_attempt(store, clock):
    claim(store, max_attempts=2)
    clock.advance(seconds=STALE.total_seconds() + 1)
    assert claim(store, max_attempts=2).outcome is ClaimOutcome.TAKEN_OVER
    clock.advance(seconds=STALE.total_seconds() + 1)

    last = claim(store, max_attempts=2)

    assert last.outcome is ClaimOutcome.GIVEN_UP and not last.runs
    [(_, _, attempts, ended, error)] = rows(store)
    assert (attempts, ended) == (2, True) and error.startswith("given up after 2 attempts")
    assert claim(store, max_attempts=2).outcome is ClaimOutcome.FINISHED


def test_a_later_tick_skips_while_an_earlier_run_of_the_same_partition_runs(store, clock):
    earlier = claim(store, "plat", TICK)
    clock.advance(seconds=15)

    later = claim(store, "plat", TICK + timedelta(seconds=15))
    other_partition = claim(store, "plat2", TICK + timedelta(seconds=15))
    other_job = claim(store, "plat", TICK + timedelta(seconds=15), job="orders.reconcile")

    assert later.outcome is ClaimOutcome.BUSY and later.run_id == earlier.run_id
    assert (other_partition.outcome, other_job.outcome) == (ClaimOutcome.CLAIMED, ClaimOutcome.CLAIMED)
    store.finish_job_run(earlier.run_id, attempt=earlier.attempt)
    assert claim(store, "plat", TICK + timedelta(seconds=30)).outcome is ClaimOutcome.CLAIMED


def test_a_whole_job_task_is_a_partition_of_its_own(store, clock):
    whole = claim(store, None)
    assert whole.outcome is ClaimOutcome.CLAIMED
    assert claim(store, None, TICK + timedelta(hours=1)).outcome is ClaimOutcome.BUSY
    assert claim(store, "plat", TICK + timedelta(hours=1)).outcome is ClaimOutcome.CLAIMED


def test_a_new_run_closes_stale_runs_of_its_partition_and_their_late_copies_skip(store, clock):
    dead = claim(store, "plat", TICK)
    clock.advance(seconds=STALE.total_seconds() + 1)
    tick2 = TICK + STALE + timedelta(seconds=1)

    fresh = claim(store, "plat", tick2)

    assert fresh.outcome is ClaimOutcome.CLAIMED
    assert rows(store)[0] == ("plat", task_key(JOB, TICK, "plat"), 1, True, WORKER_LOST)
    assert claim(store, "plat", TICK).outcome is ClaimOutcome.FINISHED  # its late copy
    assert store.finish_job_run(dead.run_id, attempt=dead.attempt) is False


def test_a_stale_run_is_not_taken_over_while_another_run_of_its_partition_goes_on(store, clock):
    claim(store, "plat", TICK)
    clock.advance(seconds=STALE.total_seconds() + 1)
    with store.transaction() as s:  # a run another worker started without closing it
        s.add(
            JobRunRow(
                job_id=JOB,
                partition="plat",
                task_key="other",
                tick=TICK + STALE,
                started_at=clock.now(),
                items=0,
                errors=0,
                attempts=1,
            )
        )

    copy = claim(store, "plat", TICK)

    assert copy.outcome is ClaimOutcome.BUSY
    assert rows(store)[0][3:] == (True, WORKER_LOST)


def test_concurrent_copies_of_one_task_run_once(make_store, keys):
    stores = [make_store(keys) for _ in range(4)]
    stores[0].upgrade()
    barrier = threading.Barrier(len(stores))
    outcomes: list[ClaimOutcome] = []
    errors: list[BaseException] = []

    def copy(store):
        barrier.wait()
        try:
            outcomes.append(claim(store).outcome)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=copy, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(outcomes) == sorted([ClaimOutcome.CLAIMED] + [ClaimOutcome.RUNNING] * 3)
    assert len(rows(stores[0])) == 1


def test_concurrent_ticks_of_one_partition_run_one_at_a_time(make_store, keys, clock):
    stores = [make_store(keys) for _ in range(4)]
    stores[0].upgrade()
    barrier = threading.Barrier(len(stores))
    outcomes: list[ClaimOutcome] = []

    def tick(store, n):
        barrier.wait()
        outcomes.append(claim(store, "plat", TICK + timedelta(seconds=15 * n)).outcome)

    threads = [threading.Thread(target=tick, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == sorted([ClaimOutcome.CLAIMED] + [ClaimOutcome.BUSY] * 3)


# -- the run views ------------------------------------------------------------------------


def test_a_ticks_partitions_are_one_run_in_the_views(store, clock):
    started = clock.now()
    a = claim(store, "plat-a")
    b = claim(store, "plat-b")
    store.finish_job_run(a.run_id, items=3, errors=1, attempt=a.attempt)
    clock.advance(seconds=2)

    [running] = store.job_runs(JOB)
    assert (running["ended_at"], running["items"], running["partition"]) == (None, 3, None)
    assert [p["partition"] for p in running["parts"]] == ["plat-a", "plat-b"]

    store.finish_job_run(b.run_id, errors=1, error="TimeoutError", attempt=b.attempt)
    [run] = store.job_runs(JOB)
    assert (run["items"], run["errors"], run["error"]) == (3, 2, "plat-b: TimeoutError")
    assert (run["started_at"], run["ended_at"], run["tick"]) == (started, clock.now(), TICK)
    assert store.last_job_runs()[JOB] == run


def test_runs_in_one_process_and_on_workers_are_listed_newest_first(store, clock):
    by_hand = store.start_job_run(JOB)
    store.finish_job_run(by_hand, items=1)
    clock.advance(seconds=20)
    tick = clock.now()
    for partition in ("p1", "p2"):
        got = claim(store, partition, tick)
        store.finish_job_run(got.run_id, items=2, attempt=got.attempt)
    clock.advance(seconds=20)
    failed = store.start_job_run(JOB, tick=clock.now())  # an enqueue that failed
    store.finish_job_run(failed, errors=1, error="not enqueued: OperationalError")

    runs = store.job_runs(JOB)

    assert [(r["items"], r["errors"], r["error"]) for r in runs] == [
        (0, 1, "not enqueued: OperationalError"),
        (4, 0, None),
        (1, 0, None),
    ]
    assert "parts" not in runs[2] and runs[2]["tick"] is None and len(runs[1]["parts"]) == 2
    assert [r["items"] for r in store.job_runs(JOB, limit=2)] == [0, 4]
    assert store.last_job_runs()[JOB]["error"] == "not enqueued: OperationalError"


# -- the queries of partitioned jobs ---------------------------------------------------------


@pytest.fixture
def two_of_each(store, clock):
    """The seeded hub with a second platform ``plat2`` and device ``gatectl2`` (gate
    ``g3``), and an entry with a live pass through each gate and platform."""
    seed(store)
    store.add_connection(Connection("plat2", "fakeplatform", "Second platform"), (), ["c1"])
    store.add_connection(Connection("gatectl2", "gatekit", "South controller"), (), [])
    store.add_gate(Gate("g3", "c1", "South gate", "south", "3", "gatectl2"))
    return store


def test_the_outbox_is_leased_and_listed_by_connection(store, clock):
    from hub.core import outbox as queue
    from hub.core.outbox import OutboxItem

    with store.transaction() as s:
        queue.enqueue(
            s,
            [OutboxItem("notify_rider", c, {"n": n}, f"k{n}") for n, c in enumerate(["plat", "plat2", "plat2"])],
            clock.now(),
        )
    assert store.outbox_connections() == ["plat", "plat2"]

    leased = store.lease_outbox(10, 60, connection_id="plat2")

    assert sorted(i.connection_id for i in leased) == ["plat2", "plat2"]
    assert store.outbox_connections() == ["plat"]  # plat2's are leased: not due
    assert [i.connection_id for i in store.lease_outbox(10, 60)] == ["plat"]


def test_passes_to_revoke_and_orders_to_reconcile_keep_to_their_connection(two_of_each, clock):
    store = two_of_each
    now, ends = clock.now(), clock.now() + timedelta(minutes=5)
    for n, (connection, gate) in enumerate([("plat", "g1"), ("plat2", "g3"), ("plat", "g2")]):
        grant = AccessGrant(f"e{n}", PassKind.QR, f"PASS-{n}", now, ends)
        save(store, make_entry(id=f"e{n}", connection_id=connection, gate_id=gate, created_at=now, access_pass=grant))

    assert store.reconcile_connections() == ["plat", "plat2"]
    assert store.revoke_connections() == []  # nothing ended yet
    clock.advance(minutes=3)  # the orders' reports are stale: asked again
    assert sorted(store.orders_to_reconcile()) == [("plat", "O1"), ("plat2", "O1")]
    assert store.orders_to_reconcile(connection_id="plat2") == [("plat2", "O1")]
    clock.advance(minutes=3)
    assert store.reconcile_connections() == []
    assert store.revoke_connections() == ["gatectl", "gatectl2", None]
    assert [p.entry_id for p in store.passes_to_revoke(connection_id="gatectl2")] == ["e1"]
    assert [p.entry_id for p in store.passes_to_revoke(without_device=True)] == ["e2"]
    assert sorted(p.entry_id for p in store.passes_to_revoke()) == ["e0", "e1", "e2"]
    assert MAX_REVOKE_ATTEMPTS > 1


def test_gates_and_communities_are_listed_by_connection(two_of_each):
    store = two_of_each
    assert [g.id for g in store.list_gates(access_connection_id="gatectl2")] == ["g3"]
    assert [g.id for g in store.list_gates(access_connection_id="gatectl")] == ["g1"]
    assert [c.id for c in store.list_communities(connection_id="plat2")] == ["c1"]
    assert store.list_communities(connection_id="gatectl2") == []
    assert [c.id for c in store.list_communities()] == ["c1"]
