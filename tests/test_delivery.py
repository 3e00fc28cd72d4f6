"""The outbox delivery: side effects of an entry reach their systems later, with
retries, and a failure that does not go away becomes visible, never silent."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.core import outbox as queue
from hub.core.delivery import FIRST_RETRY_S, LONGEST_RETRY_S, deliver_due, retry_delay
from hub.core.errors import UpstreamError
from hub.core.model import CommunityPolicy, Connection, Decision
from hub.core.outbox import OutboxItem
from tests.engine_fakes import FakeVisitorSystem, build_world, request


@pytest.fixture
def world(tmp_path):
    visitors = FakeVisitorSystem()
    w = build_world(tmp_path, CommunityPolicy(visitor_record=True), extra_plugins=[visitors])
    w.store.add_connection(Connection("visitors", "fakevisitors", "Visitor book"), (), ["c1"])
    w.visitors = visitors
    yield w
    w.engine.close()
    w.store.dispose()


def outbox(world) -> dict[str, tuple[str, int]]:
    with world.store.transaction() as session:
        rows = session.execute(text("SELECT kind, status, attempts FROM outbox")).all()
    return {kind: (status, attempts) for kind, status, attempts in rows}


def deliver(world, **options):
    return deliver_due(world.hub, world.store, world.clock, **options)


def test_an_entrys_notice_and_visitor_record_are_delivered_later(world):
    entry = world.engine.decide(request())
    assert entry.decision is Decision.GRANTED

    report = deliver(world)

    assert report.delivered == 2
    assert outbox(world) == {"notify_rider": ("done", 1), "register_visitor": ("done", 1)}
    [(rider, notice)] = world.platform.notices
    assert (rider, notice.kind) == ("R1", "gate_open")
    [visit] = world.visitors.visits
    assert (visit.entry_id, visit.masked_name, visit.ends_at) == (entry.id, "王*", entry.access_pass.valid_until)
    assert deliver(world).attempted == 0  # nothing is delivered twice


def test_a_failed_delivery_is_retried_after_a_back_off(world, monkeypatch):
    world.engine.decide(request())
    monkeypatch.setattr(world.visitors, "visits", FailingList(times=1))

    first = deliver(world)

    assert (first.delivered, first.retried) == (1, 1)
    assert outbox(world)["register_visitor"] == ("pending", 1)
    assert deliver(world).attempted == 0  # not due yet
    world.clock.advance(seconds=FIRST_RETRY_S)
    assert deliver(world).delivered == 1
    assert outbox(world)["register_visitor"] == ("done", 2)


class FailingList(list):
    """A visitor book that is down for the first ``times`` writes."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.failures_left = times

    def append(self, item) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise UpstreamError("visitor system answered 503")
        super().append(item)


def test_an_item_that_keeps_failing_is_dead_lettered_and_audited(world, monkeypatch):
    world.engine.decide(request())
    monkeypatch.setattr(world.visitors, "visits", FailingList(times=99))

    for _ in range(3):
        deliver(world, max_attempts=3)
        world.clock.advance(seconds=LONGEST_RETRY_S)

    assert outbox(world)["register_visitor"] == ("dead", 3)
    with world.store.transaction() as session:
        actions = [a for (a,) in session.execute(text("SELECT action FROM audit_log"))]
    assert "outbox.dead" in actions
    assert world.store.outbox_counts() == {"done": 1, "dead": 1}


def test_an_item_of_an_unknown_kind_is_dead_at_once(world):
    with world.store.transaction() as session:
        queue.enqueue(session, [OutboxItem("carrier_pigeon", "plat", {}, "pigeon:1")], world.clock.now())

    report = deliver(world)

    assert report.dead == 1
    assert outbox(world)["carrier_pigeon"] == ("dead", 1)


def test_two_deliverers_never_take_the_same_item(world):
    for _ in range(3):
        world.engine.decide(request())
        world.clock.advance(minutes=1)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(deliver(world))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(r.delivered for r in reports) == 6
    assert len(world.platform.notices) == 3 and len(world.visitors.visits) == 3


@pytest.mark.parametrize("attempt", [1, 2, 5, 12])
def test_retry_delay_doubles_with_jitter_and_is_capped(attempt):
    ceiling = min(LONGEST_RETRY_S, FIRST_RETRY_S * 2 ** (attempt - 1))
    assert retry_delay(attempt, rng=lambda: 0.0) == ceiling / 2
    assert retry_delay(attempt, rng=lambda: 1.0) == ceiling
    assert timedelta(seconds=retry_delay(attempt)) <= timedelta(seconds=LONGEST_RETRY_S)
