"""The ``communities.publish`` job: each community's profile goes to every platform that
serves it, once per change and again daily; failures are recorded and retried with a
growing wait; a run that crashed halfway is simply run again."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from hub import hookimpl
from hub.core.db import AuditRow
from hub.core.errors import UpstreamError
from hub.core.jobs import JobContext
from hub.core.model import CommunityPolicy, CommunityProfile, Connection, Gate, PluginInfo, Receipt, Zone
from hub.core.publishing import current_profile, profile_digest, publish_communities, retry_delay
from hub.core.scheduler import MISFIRE_GRACE_S, build_scheduler, run_job
from hub.plugins.jobs import BuiltinJobs
from tests.engine_fakes import NOON_SHANGHAI, build_world


class FakePublisher:
    """A platform that keeps the profiles it was sent, per connection. ``fail`` maps a
    connection id to an exception to raise; ``refuse`` holds connections that answer
    "not accepted"."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CommunityProfile]] = []
        self.fail: dict[str, Exception] = {}
        self.refuse: set[str] = set()

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="publisher", kinds={"platform"}, version="1.0")

    @hookimpl
    def hub_publish_community(self, connection: Connection, profile: CommunityProfile) -> Receipt:
        if connection.id in self.fail:
            raise self.fail[connection.id]
        if connection.id in self.refuse:
            return Receipt(accepted=False, message="community unknown here")
        self.sent.append((connection.id, profile))
        return Receipt(accepted=True, ref=f"{connection.id}-v{profile.version}")

    def versions(self, connection_id: str | None = None) -> list[tuple[str, int]]:
        return [(c, p.version) for c, p in self.sent if connection_id in (None, c)]


@pytest.fixture
def world(tmp_path):
    publisher = FakePublisher()
    w = build_world(tmp_path, extra_plugins=[publisher])
    for connection_id in ("pub-a", "pub-b"):
        w.store.add_connection(Connection(connection_id, "publisher", f"Platform {connection_id}"), (), ["c1"])
    w.publisher = publisher
    yield w
    w.engine.close()
    w.store.dispose()


def job():
    (spec,) = [s for s in BuiltinJobs().hub_jobs() if s.id == "communities.publish"]
    return spec


def run(world):
    return run_job(job(), JobContext(world.hub, world.store, world.clock))


def actions(world, *names):
    with world.store.transaction() as s:
        found = s.execute(select(AuditRow.action, AuditRow.data).order_by(AuditRow.id)).all()
    return [(a, d) for a, d in found if not names or a in names]


def publications(world):
    return {p.connection_id: p for p in world.store.community_publications(["c1"])}


def test_the_job_is_scheduled_every_five_minutes():
    spec = job()

    assert (spec.trigger, dict(spec.trigger_args)) == ("interval", {"minutes": 5})


def test_publishing_and_door_events_are_scheduled_with_fixed_ids_coalesce_one_instance_and_grace(world):
    context = JobContext(world.hub, world.store, world.clock)

    scheduler = build_scheduler(BuiltinJobs().hub_jobs(), context, blocking=False)

    jobs = {j.id: j for j in scheduler.get_jobs()}
    for job_id in ("communities.publish", "doors.events"):
        assert (jobs[job_id].coalesce, jobs[job_id].max_instances) == (True, 1)
        assert jobs[job_id].misfire_grace_time == MISFIRE_GRACE_S


def test_the_first_run_publishes_version_1_to_every_platform_that_can_take_it(world):
    result = run(world)

    assert result.ok and result.items == 2
    assert sorted(world.publisher.versions()) == [("pub-a", 1), ("pub-b", 1)]
    _, profile = world.publisher.sent[0]
    assert profile.community.id == "c1" and [g.id for g in profile.gates] == ["g1", "g2"]
    assert profile.rules_zh and profile.rules_en
    held = publications(world)
    assert set(held) == {"pub-a", "pub-b"}  # not the platform without the hook, not the gate
    assert held["pub-a"].published_version == 1 and held["pub-a"].published_at == NOON_SHANGHAI
    assert held["pub-a"].published_digest == profile_digest(profile)
    published = actions(world, "community.published")
    assert len(published) == 2
    assert published[0][1]["version"] == 1 and published[0][1]["accepted"] is True
    assert published[0][1]["reason"] == "new"
    assert world.store.last_job_runs()["communities.publish"]["items"] == 2


def test_an_unchanged_profile_is_not_sent_again(world):
    run(world)
    world.clock.advance(minutes=5)

    again = run(world)

    assert again.items == 0
    assert len(world.publisher.sent) == 2


def test_a_policy_gate_or_zone_change_is_published_as_a_new_version(world):
    run(world)
    community = world.store.get_community("c1")

    world.clock.advance(minutes=5)
    world.store.update_community(
        dataclasses.replace(community, policy=CommunityPolicy(opening=time(7), closing=time(22)))
    )
    run(world)
    world.clock.advance(minutes=5)
    world.store.add_gate(Gate("g9", "c1", "South gate", "south-code", "9"))
    run(world)
    world.clock.advance(minutes=5)
    world.store.add_zone("c1", Zone("park-1", "parking", "Rider parking", ((31.19, 121.43),)))
    run(world)

    assert world.publisher.versions("pub-a") == [("pub-a", 1), ("pub-a", 2), ("pub-a", 3), ("pub-a", 4)]
    latest = world.publisher.sent[-1][1]
    assert "07:00" in latest.rules_en and [z.id for z in latest.zones] == ["park-1"]
    assert "g9" in [g.id for g in latest.gates]
    assert world.store.profile_versions()["c1"].version == 4
    assert [d["reason"] for _, d in actions(world, "community.published")] == ["new", "new"] + ["changed"] * 6


def test_a_profile_is_published_again_a_day_later(world):
    run(world)
    world.clock.advance(hours=23, minutes=59)
    assert run(world).items == 0

    world.clock.advance(minutes=1)
    daily = run(world)

    assert daily.items == 2
    assert world.publisher.versions() == [("pub-a", 1), ("pub-b", 1)] * 2  # the same version again
    assert publications(world)["pub-a"].published_at == NOON_SHANGHAI + timedelta(hours=24)
    assert [d["reason"] for _, d in actions(world, "community.published")][-2:] == ["daily", "daily"]


def test_one_failing_platform_is_recorded_and_does_not_stop_the_others(world):
    world.publisher.fail["pub-a"] = UpstreamError("the platform answered 503")

    result = run(world)

    assert result.ok and result.items == 2
    assert world.publisher.versions() == [("pub-b", 1)]
    held = publications(world)
    assert held["pub-a"].error == "the platform answered 503"
    assert held["pub-a"].published_version is None and held["pub-a"].attempted_at == NOON_SHANGHAI
    assert held["pub-b"].error is None
    ((_, failed),) = actions(world, "community.published.failed")
    assert failed["connection"] == "pub-a" and failed["version"] == 1
    assert failed["error"] == "the platform answered 503"


def test_a_failure_is_retried_after_a_wait_that_doubles_up_to_an_hour(world):
    world.publisher.fail["pub-a"] = UpstreamError("down")
    run(world)  # fails at 0 minutes

    attempts = []
    for minute in range(1, 200):
        world.clock.advance(minutes=1)
        before = publications(world)["pub-a"].attempted_at
        run(world)
        if publications(world)["pub-a"].attempted_at != before:
            attempts.append(minute)

    assert attempts == [5, 10, 20, 40, 80, 140]  # waits of 5, 5, 10, 20, 40, 60, 60… minutes
    del world.publisher.fail["pub-a"]
    world.clock.advance(minutes=60)
    run(world)
    assert publications(world)["pub-a"].error is None
    assert world.publisher.versions("pub-a") == [("pub-a", 1)]


def test_a_refused_profile_counts_as_a_failure(world):
    world.publisher.refuse.add("pub-b")

    run(world)

    error = publications(world)["pub-b"].error
    assert error == "the platform did not accept version 1: community unknown here"
    world.clock.advance(minutes=4)
    assert run(world).items == 0


def test_the_retry_wait_of_a_failed_daily_publication_starts_when_it_became_due(world):
    run(world)
    world.publisher.fail["pub-a"] = UpstreamError("down")
    world.clock.advance(hours=24)
    run(world)

    publication = publications(world)["pub-a"]
    version = world.store.profile_versions()["c1"]

    assert publication.published_version == 1 and publication.error == "down"
    assert retry_delay(publication, version) == timedelta(minutes=5)


def test_a_change_while_failing_is_published_when_the_retry_comes(world):
    world.publisher.fail["pub-a"] = UpstreamError("down")
    run(world)
    del world.publisher.fail["pub-a"]
    community = world.store.get_community("c1")
    world.store.update_community(dataclasses.replace(community, name="Sunny Garden II"))

    world.clock.advance(minutes=5)
    run(world)

    assert world.publisher.versions("pub-a") == [("pub-a", 2)]
    assert publications(world)["pub-a"].published_version == 2


def test_disabled_connections_and_unlinked_communities_get_nothing(world):
    connection = world.store.get_connection("pub-b")
    world.store.update_connection(dataclasses.replace(connection, enabled=False), ())

    run(world)

    assert world.publisher.versions() == [("pub-a", 1)]
    assert "pub-b" not in publications(world)


def test_a_run_that_crashed_halfway_is_run_again(world, monkeypatch):
    """The platform accepted the profile, then the job died before it was recorded: the
    rerun sends the same version again (platforms take a version they hold) and then the
    rest."""
    record = world.store.record_publication

    def crash(*args, **kwargs):
        raise RuntimeError("the scheduler's process was killed")

    monkeypatch.setattr(world.store, "record_publication", crash)
    crashed = run(world)
    monkeypatch.setattr(world.store, "record_publication", record)

    assert not crashed.ok
    assert world.publisher.versions() == [("pub-a", 1)]
    assert world.store.community_publications() == []

    rerun = run(world)

    assert rerun.ok and rerun.items == 2
    assert world.publisher.versions() == [("pub-a", 1), ("pub-a", 1), ("pub-b", 1)]
    assert {p.published_version for p in publications(world).values()} == {1}
    assert world.store.profile_versions()["c1"].version == 1
    assert run(world).items == 0


def test_progress_is_reported_per_community(world):
    seen = []

    report = publish_communities(
        world.hub, world.store, world.clock, progress=lambda done, total, note: seen.append((done, total, note))
    )

    assert seen == [(1, 1, "c1")]
    assert (report.published, report.failed, report.up_to_date, report.waiting) == (2, 0, 0, 0)


def test_the_profile_the_api_reads_has_the_version_the_job_sent(world):
    run(world)
    community = world.store.get_community("c1")
    assert current_profile(world.store, community).version == 1

    world.store.update_community(dataclasses.replace(community, address="2 Garden Road"))
    changed = current_profile(world.store, world.store.get_community("c1"))  # the API sees the change first
    run(world)

    assert changed.version == 2
    assert world.publisher.versions("pub-a")[-1] == ("pub-a", 2)
    assert current_profile(world.store, world.store.get_community("c1")).version == 2
