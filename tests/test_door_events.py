"""The ``doors.events`` job, and door events pushed by devices: door events become the
real entry and exit times of entries, each gate's cursor moves on only with the events
stored, events read twice change nothing and a run that crashed halfway is run again."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hub import hookimpl
from hub.core.db import AuditRow
from hub.core.doors import FIRST_LOOK_BACK, read_door_events
from hub.core.errors import UpstreamError
from hub.core.jobs import JobContext
from hub.core.model import AccessEvent, Connection, Decision, Gate, PluginInfo, PushEvent, PushRequest
from hub.core.pushes import receive_push
from hub.core.scheduler import run_job
from hub.plugins.jobs import BuiltinJobs
from tests.engine_fakes import NOON_SHANGHAI, FakeGate, build_world, request


class DoorController(FakeGate):
    """A gate controller with an event log: ``log`` holds its events; every read is
    kept in ``reads`` as (gate id, since). ``fail`` makes reads of these gates fail."""

    def __init__(self) -> None:
        super().__init__("doorctl")
        self.log: list[AccessEvent] = []
        self.reads: list[tuple[str, datetime]] = []
        self.broken: set[str] = set()

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name=self.name, kinds={"access"}, version="1.0")

    @hookimpl
    def hub_access_events(self, gate: Gate, since: datetime) -> list[AccessEvent]:
        self.reads.append((gate.id, since))
        if gate.id in self.broken:
            raise UpstreamError(f"the controller of {gate.id} did not answer")
        found = [e for e in self.log if e.occurred_at > since and e.door_no == gate.door_no]
        return [dataclasses.replace(e, gate_id=gate.id) for e in sorted(found, key=lambda e: e.occurred_at)]

    @hookimpl
    def hub_parse_push(self, request: PushRequest) -> list[PushEvent]:
        event = self.log[int(request.body)]
        return [PushEvent(event.event_id, event.occurred_at, access_event=event)]

    def swipe(self, value: str, minutes: float, direction: str = "in", door: str = "3") -> AccessEvent:
        event = AccessEvent(
            event_id=f"serial-{len(self.log) + 1}",
            occurred_at=NOON_SHANGHAI + timedelta(minutes=minutes),
            direction=direction,
            credential_value=value,
            door_no=door,
        )
        self.log.append(event)
        return event


@pytest.fixture
def world(tmp_path):
    controller = DoorController()
    w = build_world(tmp_path, extra_plugins=[controller])
    w.store.add_connection(Connection("doors", "doorctl", "West controller", timeout_s=0.5), (), ["c1"])
    w.store.add_gate(Gate("west", "c1", "West gate", "west-code", "3", "doors"))
    w.store.add_gate(Gate("south", "c1", "South gate", "south-code", "4", "doors"))
    w.controller = controller
    yield w
    w.engine.close()
    w.store.dispose()


def enter(world, gate: str = "west-code"):
    entry = world.engine.decide(request(gate=gate))
    assert entry.decision is Decision.GRANTED, entry.reasons
    return entry


def job():
    (spec,) = [s for s in BuiltinJobs().hub_jobs() if s.id == "doors.events"]
    return spec


def run(world):
    return run_job(job(), JobContext(world.hub, world.store, world.clock))


def audited(world, *names):
    with world.store.transaction() as s:
        found = s.execute(select(AuditRow.action, AuditRow.subject, AuditRow.data).order_by(AuditRow.id)).all()
    return [row for row in found if row[0] in names]


def at(minutes: float) -> datetime:
    return NOON_SHANGHAI + timedelta(minutes=minutes)


def test_the_job_is_scheduled_every_two_minutes():
    assert (job().trigger, dict(job().trigger_args)) == ("interval", {"minutes": 2})


def test_door_events_become_the_entrys_real_entry_and_exit_times(world):
    entry = enter(world)
    world.controller.swipe(entry.access_pass.value, 1, "in")
    world.controller.swipe(entry.access_pass.value, 7, "out")
    world.clock.advance(minutes=8)

    result = run(world)

    stored = world.store.get_entry(entry.id)
    assert result.ok and result.items == 2
    assert (stored.entered_at, stored.exited_at) == (at(1), at(7))
    assert stored.access_pass.valid_until == at(7)  # gone: the expiry job takes the pass back
    assert [(a, s) for a, s, _ in audited(world, "entry.entered", "entry.exited")] == [
        ("entry.entered", entry.id),
        ("entry.exited", entry.id),
    ]
    assert world.store.last_job_runs()["doors.events"]["items"] == 2


def test_the_first_read_goes_an_hour_back_and_the_next_from_the_latest_event(world):
    entry = enter(world)
    run(world)
    world.controller.swipe(entry.access_pass.value, 1)
    world.clock.advance(minutes=2)
    run(world)
    world.clock.advance(minutes=2)
    run(world)

    west = [since for gate, since in world.controller.reads if gate == "west"]
    assert west == [NOON_SHANGHAI - FIRST_LOOK_BACK, NOON_SHANGHAI - FIRST_LOOK_BACK, at(1)]
    assert world.store.door_cursor("west") == at(1)
    assert world.store.door_cursor("south") == NOON_SHANGHAI - FIRST_LOOK_BACK
    assert world.store.door_cursor("g1") is None  # its controller keeps no event log


def test_events_read_again_change_nothing(world):
    entry = enter(world)
    world.controller.swipe(entry.access_pass.value, 1)
    world.clock.advance(minutes=2)
    run(world)

    replayed = read_door_events(world.hub, world.store, world.clock)
    world.store.record_door_events("doors", world.controller.log, "test", gate_id="west", since=NOON_SHANGHAI)

    assert replayed.events.read == 0  # the cursor is past it
    assert world.store.get_entry(entry.id).entered_at == at(1)
    assert len(audited(world, "entry.entered")) == 1


def test_unknown_credentials_are_counted_and_ignored(world):
    entry = enter(world)
    world.controller.swipe("resident-card-1", 1)
    world.controller.swipe(entry.access_pass.value, 2)
    world.controller.swipe("resident-card-2", 3, "out")
    world.clock.advance(minutes=4)

    report = read_door_events(world.hub, world.store, world.clock)

    assert (report.events.read, report.events.entered, report.events.unknown) == (3, 1, 2)
    assert world.store.get_entry(entry.id).entered_at == at(2)


def test_a_gate_that_cannot_be_read_does_not_stop_the_others_and_keeps_its_cursor(world):
    entry = enter(world)
    run(world)
    world.controller.broken.add("south")
    world.controller.swipe(entry.access_pass.value, 1)
    world.clock.advance(minutes=2)

    result = run(world)
    report = read_door_events(world.hub, world.store, world.clock)

    assert result.ok and result.items == 1
    assert (report.gates, report.failed) == (2, 1)
    assert world.store.get_entry(entry.id).entered_at == at(1)
    assert world.store.door_cursor("south") == NOON_SHANGHAI - FIRST_LOOK_BACK


def test_a_run_that_crashed_halfway_reads_the_unstored_events_again(world, monkeypatch):
    west, south = enter(world), enter(world, "south-code")
    world.controller.swipe(west.access_pass.value, 1)
    world.controller.swipe(south.access_pass.value, 2, door="4")
    world.clock.advance(minutes=3)
    record = world.store.record_door_events
    stored_gates = []

    def dies_on_the_second_gate(connection_id, events, actor, **kwargs):
        if stored_gates:
            raise RuntimeError("the scheduler's process was killed")
        stored_gates.append(kwargs["gate_id"])
        return record(connection_id, events, actor, **kwargs)

    monkeypatch.setattr(world.store, "record_door_events", dies_on_the_second_gate)
    crashed = run(world)
    monkeypatch.setattr(world.store, "record_door_events", record)

    assert not crashed.ok
    assert stored_gates == ["south"]  # gates are read in id order
    assert world.store.get_entry(south.id).entered_at == at(2)
    assert world.store.get_entry(west.id).entered_at is None
    assert world.store.door_cursor("west") is None

    rerun = run(world)

    assert rerun.ok and rerun.items == 1  # only the west gate's event: south's cursor moved on
    assert world.store.get_entry(west.id).entered_at == at(1)
    assert world.store.door_cursor("west") == at(1)
    assert len(audited(world, "entry.entered")) == 2


def test_disabled_controllers_are_not_read(world):
    connection = world.store.get_connection("doors")
    world.store.update_connection(dataclasses.replace(connection, enabled=False), ())

    assert run(world).items == 0
    assert world.controller.reads == []


def test_progress_is_reported_per_gate(world):
    seen = []

    read_door_events(world.hub, world.store, world.clock, progress=lambda *p: seen.append(p))

    assert seen == [(1, 2, "south"), (2, 2, "west")]


def test_a_pushed_door_event_sets_the_time_and_the_poll_then_changes_nothing(world):
    entry = enter(world)
    world.controller.swipe(entry.access_pass.value, 1)
    world.controller.swipe(entry.access_pass.value, 6, "out")
    world.clock.advance(minutes=7)
    push = PushRequest("POST", "https://hub.example/api/v1/push/doors", {}, b"0", world.clock.now())

    first = receive_push(world.hub, world.store, "doors", push)
    again = receive_push(world.hub, world.store, "doors", push)
    later = receive_push(world.hub, world.store, "doors", dataclasses.replace(push, body=b"1"))

    assert (first.status, first.applied, again.repeated, later.applied) == (200, 1, 1, 1)
    stored = world.store.get_entry(entry.id)
    assert (stored.entered_at, stored.exited_at) == (at(1), at(6))
    actors = [d["connection"] for _, _, d in audited(world, "entry.entered", "entry.exited")]
    assert actors == ["doors", "doors"]

    polled = read_door_events(world.hub, world.store, world.clock)

    assert (polled.events.read, polled.events.repeated) == (2, 2)
    assert len(audited(world, "entry.entered", "entry.exited")) == 2
