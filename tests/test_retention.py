"""The retention purge job, with a controlled clock: personal data just inside a
community's retention period is kept and just outside it is anonymised or deleted, the
counts are audited once per community, and a run that crashed halfway is finished by
the next without counting anything twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core import store as store_module
from hub.core.clock import ManualClock
from hub.core.jobs import JobContext
from hub.core.model import Community, CommunityPolicy, Connection, Gate
from hub.core.plugins import Hub
from hub.core.retention import RETENTION_ACTOR, connection_retention, purge
from hub.core.scheduler import MISFIRE_GRACE_S, build_scheduler, run_job
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.plugins import builtin_plugins
from tests.storage.builders import NOW, make_community, make_entry, make_order, save, seed

DAY = timedelta(days=1)


@pytest.fixture
def clock():
    return ManualClock(NOW)


@pytest.fixture
def store(tmp_path, clock):
    store = Store(f"sqlite:///{tmp_path / 'hub.sqlite'}", [generate_key()], clock=clock)
    store.upgrade()
    seed(store)  # c1 (30 days' retention), plat and gatectl, gates g1 and g2
    store.add_community(make_community(id="c2", name="River Bank", policy=CommunityPolicy(retention_days=90)))
    store.link_connection("c2", "plat")
    store.add_gate(Gate("g9", "c2", "South gate", "south", "1", None))
    yield store
    store.dispose()


def entry(store, entry_id: str, rider: str, community: str = "c1", order: str | None = None):
    gate = "g9" if community == "c2" else "g1"
    refs = (order,) if order else ()
    values = {"id": entry_id, "community_id": community, "gate_id": gate, "rider_ref": rider, "order_refs": refs}
    if community == "c2":
        values["access_pass"] = None
    return save(store, make_entry(created_at=store.clock.now(), **values), orders=[make_order(ref=o) for o in refs])


def feedback(store, community: str, contact: str):
    return store.add_feedback(
        community, source="resident", category="parking", body="bikes", contact=contact, actor="t"
    )[0]


@pytest.fixture
def world(store, clock):
    """At NOW: c1's entry ``out`` (rider R1, order O1) and feedback; c2's entry ``c2-old``
    (R3) and feedback; rider R4 at both communities. Two seconds later: c1's entry ``in``
    (R2, order O2) and feedback. Then the clock moves to 30 days and one second after
    NOW: c1's cutoff falls between the two."""
    entry(store, "out", "R1", order="O1")
    entry(store, "c2-old", "R3", "c2")
    entry(store, "r4-c1", "R4")
    entry(store, "r4-c2", "R4", "c2")
    old_note = feedback(store, "c1", "138 0000 1111")
    c2_note = feedback(store, "c2", "139 2222 3333")
    clock.advance(2)
    entry(store, "in", "R2", order="O2")
    new_note = feedback(store, "c1", "王五")
    clock.advance(days=30, seconds=-1)
    return {"old_note": old_note.id, "new_note": new_note.id, "c2_note": c2_note.id}


def purged(store) -> list:
    return [r for r in reversed(store.list_audit(limit=500)) if r.action.startswith("retention.")]


def rider_of(store, entry_id: str) -> str:
    return store.get_entry(entry_id).rider_ref


def test_just_outside_the_period_is_forgotten_and_just_inside_kept(store, world):
    report = purge(store, store.clock)

    out, inside = store.get_entry("out"), store.get_entry("in")
    assert (out.rider_ref, out.order_refs, out.access_pass.value) == ("", (), "")
    assert (inside.rider_ref, inside.order_refs, inside.access_pass.value) == ("R2", ("O2",), "PASS-in")
    assert store.get_orders("plat", ["O1", "O2"]) == [make_order(ref="O2")]
    assert store.feedback_contact(world["old_note"]) == ""
    assert store.feedback_contact(world["new_note"]) == "王五"
    assert report.audited["c1"] == {
        "entries_anonymised": 2,
        "feedback_anonymised": 1,
        "orders_deleted": 1,
        "riders_deleted": 1,
    }


def test_another_communitys_data_is_untouched(store, world):
    purge(store, store.clock)

    assert rider_of(store, "c2-old") == "R3"  # c2 keeps 90 days
    assert store.feedback_contact(world["c2_note"]) == "139 2222 3333"
    assert "c2" not in store.retention_tallies()
    assert [r.subject for r in purged(store)] == ["c1"]


def test_a_rider_with_an_entry_still_kept_elsewhere_is_kept(store, world):
    purge(store, store.clock)

    assert rider_of(store, "r4-c1") == ""  # anonymised at c1
    assert rider_of(store, "r4-c2") == "R4"  # the rider row is still there for c2
    assert store.entry_rider("r4-c2").masked_name == "王*"
    assert store.entry_rider("out") is None


def test_the_counts_are_audited_once_per_community(store, world):
    purge(store, store.clock)

    (record,) = purged(store)
    assert (record.action, record.subject, record.actor) == ("retention.purged", "c1", RETENTION_ACTOR)
    assert record.data == {
        "community": "c1",
        "retention_days": 30,
        "cutoff": (NOW + timedelta(seconds=1)).isoformat(),
        "entries_anonymised": 2,
        "feedback_anonymised": 1,
        "orders_deleted": 1,
        "riders_deleted": 1,
    }
    assert store.verify_audit_chain() is None


def test_a_second_run_changes_and_audits_nothing(store, world):
    purge(store, store.clock)
    first = store.list_audit(limit=500)

    again = purge(store, store.clock)

    assert again.changed == 0 and again.audited == {}
    assert store.list_audit(limit=500) == first


def test_nothing_old_means_nothing_audited(store):
    entry(store, "fresh", "R1")

    report = purge(store, store.clock)

    assert (report.changed, report.audited, purged(store)) == (0, {}, [])


def test_the_period_moves_with_the_clock(store, world, clock):
    purge(store, store.clock)
    clock.advance(2)

    report = purge(store, store.clock)

    assert rider_of(store, "in") == ""
    assert report.audited == {
        "c1": {"entries_anonymised": 1, "feedback_anonymised": 1, "orders_deleted": 1, "riders_deleted": 1}
    }
    clock.advance(days=61)
    assert purge(store, store.clock).audited["c2"]["entries_anonymised"] == 2
    assert rider_of(store, "r4-c2") == ""


def test_housekeeping_is_audited_hub_wide(store, clock):
    store.record_push_event("plat", "ev-1")
    store.claim_single_use("plat", "jti-1", NOW + timedelta(minutes=5))
    user_id = store.add_user("anna", "hash", "operator")
    store.start_console_session("s-1", user_id, "10.0.0.1")
    store.end_console_session("s-1", "signed_out")
    clock.advance(days=7, seconds=1)
    store.record_push_event("plat", "ev-2")

    report = purge(store, store.clock)

    # The session ended 7 days ago: it is kept for 30.
    assert report.audited == {"": {"push_events_deleted": 1, "single_use_codes_deleted": 1}}
    (record,) = purged(store)
    assert (record.action, record.subject, record.data) == (
        "retention.housekept",
        "",
        {"push_events_deleted": 1, "single_use_codes_deleted": 1},
    )
    clock.advance(days=23)
    assert purge(store, store.clock).audited == {"": {"console_sessions_deleted": 1, "push_events_deleted": 1}}


def test_job_runs_are_forgotten_after_two_weeks_but_each_job_keeps_its_latest(store, clock):
    old = store.start_job_run("outbox.deliver")
    store.finish_job_run(old, items=3)
    lonely = store.start_job_run("communities.publish")  # its job has not run since
    store.finish_job_run(lonely)
    stuck = store.start_job_run("orders.reconcile")  # never finished
    clock.advance(days=14, seconds=1)
    recent = store.start_job_run("outbox.deliver")
    store.finish_job_run(recent, items=1)
    store.start_job_run("orders.reconcile")

    assert purge(store, store.clock).audited == {"": {"job_runs_deleted": 1}}

    assert [run["id"] for run in store.job_runs("outbox.deliver")] == [recent]
    assert [run["id"] for run in store.job_runs("communities.publish")] == [lonely]
    assert stuck in {run["id"] for run in store.job_runs("orders.reconcile")}


def test_a_connection_takes_the_shortest_period_of_the_communities_it_serves():
    short = Community("b", "B", policy=CommunityPolicy(retention_days=7))
    long = Community("a", "A", policy=CommunityPolicy(retention_days=90))
    communities = {"a": long, "b": short}

    assert connection_retention("plat", communities, {"plat": ["a", "b"]}) == (7, "b")
    assert connection_retention("plat", communities, {"plat": ["a"]}) == (90, "a")
    # Serving no community: the shortest period of all, counted hub-wide.
    assert connection_retention("lonely", communities, {}) == (7, "")
    assert connection_retention("lonely", {}, {}) == (CommunityPolicy().retention_days, "")


def test_an_unlinked_connections_orders_are_counted_hub_wide(store, clock):
    store.add_connection(Connection("old-plat", "acme", "Old platform"), ())
    store.upsert_order("old-plat", make_order(ref="X1"), "push")
    clock.advance(days=30, seconds=1)

    report = purge(store, store.clock)

    assert store.get_orders("old-plat", ["X1"]) == []
    assert report.audited == {"": {"orders_deleted": 1}}


# -- a crash halfway -------------------------------------------------------------------------


@pytest.fixture
def many(store, clock):
    """Seven old entries at c1 (riders R0..R6), purged in batches of two."""
    for n in range(7):
        entry(store, f"e{n}", f"R{n}")
        clock.advance(1)
    clock.advance(days=31)


class Crash(Exception):
    pass


def test_a_crash_between_batches_is_finished_by_the_next_run(store, many, monkeypatch):
    calls = {"n": 0}
    real = store.anonymise_entries

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("the scheduler died")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "anonymise_entries", crashing)
    with pytest.raises(Crash):
        purge(store, store.clock, batch_size=2)

    assert [rider_of(store, f"e{n}") for n in range(7)] == ["", "", "", "", "R4", "R5", "R6"]
    assert store.retention_tallies() == {"c1": {"entries_anonymised": 4}}
    assert purged(store) == []
    monkeypatch.undo()

    report = purge(store, store.clock, batch_size=2)

    assert all(rider_of(store, f"e{n}") == "" for n in range(7))
    assert report.changed == 3 + 7  # the rest of the entries, then every rider
    (record,) = purged(store)
    assert (record.data["entries_anonymised"], record.data["riders_deleted"]) == (7, 7)
    assert store.retention_tallies() == {}


def test_a_crash_inside_a_batch_leaves_that_batch_undone(store, many, monkeypatch):
    calls = {"n": 0}
    real = store_module._add_to_tally

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Crash("power cut")  # after the batch's updates, before its commit
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module, "_add_to_tally", crashing)
    with pytest.raises(Crash):
        purge(store, store.clock, batch_size=2)
    assert [rider_of(store, f"e{n}") for n in range(4)] == ["", "", "R2", "R3"]
    monkeypatch.undo()

    purge(store, store.clock, batch_size=2)

    (record,) = purged(store)
    assert record.data["entries_anonymised"] == 7


# -- the job -------------------------------------------------------------------------------


def spec(job_id: str):
    hub = Hub()
    for plugin in builtin_plugins():
        hub.register(plugin)
    return hub, next(s for s in hub.jobs() if s.id == job_id)


def test_the_job_runs_hourly_as_one_instance_with_its_runs_recorded(store, world):
    hub, job = spec("retention.purge")
    notes = []
    context = JobContext(hub, store, store.clock, progress=lambda done, total, note: notes.append(note))

    result = run_job(job, context)

    assert (job.trigger, dict(job.trigger_args)) == ("interval", {"hours": 1})
    assert result.ok and result.items == 5  # 2 entries, 1 feedback, 1 rider, 1 order
    assert store.last_job_runs()["retention.purge"]["items"] == 5
    assert "c1" in notes
    scheduled = build_scheduler([job], context, blocking=False).get_job("retention.purge")
    assert (scheduled.coalesce, scheduled.max_instances, scheduled.misfire_grace_time) == (True, 1, MISFIRE_GRACE_S)


def test_a_crashed_job_run_is_recorded_and_the_rerun_finishes(store, many, monkeypatch):
    hub, job = spec("retention.purge")
    context = JobContext(hub, store, store.clock)
    monkeypatch.setattr(store, "anonymise_feedback", lambda *a, **k: (_ for _ in ()).throw(Crash("x")))

    failed = run_job(job, context)
    monkeypatch.undo()
    rerun = run_job(job, context)

    assert not failed.ok and rerun.ok
    assert [r["error"] for r in store.job_runs("retention.purge")] == [None, "Crash"]
    (record,) = purged(store)
    assert record.data["entries_anonymised"] == 7
