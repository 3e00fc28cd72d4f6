"""End to end: the hub, with its built-in plugins and this plugin, against the simulated
bank served on loopback, for every hook and the overdue job (with the hub's real store
on SQLite); a timeout on a real slow socket; the simulator run on its own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from hub.core.errors import UpstreamError, UpstreamTimeout
from hub.core.jobs import JobContext
from hub.core.model import Connection, LockerAllocation, LockerBank
from hub.core.plugins import Hub
from hub.core.store import Store
from last100_locker.client import LockerClient
from last100_locker.errors import AuthenticationError
from last100_locker.simulator import SimCompartment, connection_settings, create_app, demo_simulator

KEY_ID = "hub-test"
SECRET = "simulator-test-secret-0123456789abcdef"


@dataclass
class Bank:
    """A running simulated bank and a hub connected to it."""

    url: str
    stop: Callable[[], None]
    hub: Hub
    connection: Connection
    bank: LockerBank

    def admin(self, method: str, path: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        reply = requests.request(method, f"{self.url}/_sim{path}", json=body or None, timeout=5)
        assert reply.status_code == expect, reply.text
        return reply.json()

    def state(self) -> dict[str, Any]:
        return self.admin("GET", "/state")

    def compartment(self, no: str) -> dict[str, Any]:
        [found] = [c for c in self.state()["compartments"] if c["no"] == no]
        return found

    def allocation(self, allocation_id: str) -> dict[str, Any]:
        [found] = [a for a in self.state()["allocations"] if a["id"] == allocation_id]
        return found

    def connect(self, **changes: Any) -> Connection:
        """Another connection to the same bank, with some settings or the timeout changed."""
        timeout_s = changes.pop("timeout_s", self.connection.timeout_s)
        settings = {**self.connection.settings, **changes}
        return Connection(self.connection.id, "locker", self.connection.name, settings=settings, timeout_s=timeout_s)


@pytest.fixture
def start_bank(serve, make_hub, order) -> Callable[..., Bank]:
    def start(compartments: list[SimCompartment] | None = None, **settings: Any) -> Bank:
        hub = make_hub()  # the real clock: the simulator checks signatures against it
        served = serve(create_app(key_id=KEY_ID, secret=SECRET, compartments=compartments))
        loaded = hub.validate_settings("locker", {**connection_settings(served.url, KEY_ID, SECRET), **settings})
        connection = Connection("lockers-north", "locker", "North gate lockers", settings=loaded, timeout_s=1.0)
        bank = LockerBank(connection.id, "sunny-garden", "North gate lockers", connection.id)
        return Bank(served.url, served.stop, hub, connection, bank)

    return start


@pytest.fixture
def sim(start_bank) -> Bank:
    return start_bank()


# -- hub_check_connection ------------------------------------------------------------------


def test_check_connection_passes_against_the_simulator(sim) -> None:
    health = sim.hub.check_connection(sim.connection)

    assert health.ok, health.message
    assert "bank north-gate: 24 compartments, 24 free, 0 out of service" in health.message


def test_a_wrong_secret_fails_the_check_naming_the_secret(sim) -> None:
    health = sim.hub.check_connection(sim.connect(secret="a-wrong-secret-of-at-least-32-characters"))

    assert not health.ok
    assert "secret" in health.message and "signature_invalid" in health.message


def test_a_wrong_key_id_fails_the_check_naming_it(sim) -> None:
    health = sim.hub.check_connection(sim.connect(key_id="someone-else"))

    assert not health.ok and "key_id 'someone-else'" in health.message


def test_a_wrong_bank_id_fails_the_check_naming_it(sim) -> None:
    health = sim.hub.check_connection(sim.connect(bank_id="south-gate"))

    assert not health.ok and "bank_id 'south-gate'" in health.message


def test_the_simulator_answers_an_unsigned_request_with_a_problem(sim) -> None:
    reply = requests.get(f"{sim.url}/locker/v1/ping", timeout=5)

    assert reply.status_code == 401
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["code"] == "signature_missing"


def test_the_simulator_refuses_a_stale_signature(sim) -> None:
    stale = LockerClient(f"{sim.url}/locker", KEY_ID, SECRET.encode(), now=lambda: datetime.now().timestamp() - 301)

    with pytest.raises(AuthenticationError) as caught:
        stale.ping()

    assert caught.value.code == "timestamp_out_of_range"


def test_an_out_of_service_compartment_is_reported_by_the_check(sim) -> None:
    sim.admin("POST", "/compartments/C06/out-of-service", reason="cleaning")

    health = sim.hub.check_connection(sim.connection)

    assert "23 free, 1 out of service" in health.message
    assert sim.compartment("C06")["out_of_service_reason"] == "cleaning"


# -- hub_allocate_locker -------------------------------------------------------------------


def test_allocate_reserves_a_warm_medium_compartment_with_the_riders_dropoff_code(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())

    held = sim.allocation(allocated.allocation_id)
    assert (allocated.bank_id, allocated.locker_no) == ("lockers-north", "B04")  # the first warm M
    assert allocated.pin == held["dropoff_code"] != held["pickup_code"]
    assert allocated.valid_until == datetime.fromisoformat(held["dropoff_deadline"])
    assert allocated.valid_until - datetime.fromisoformat(held["created_at"]) == timedelta(minutes=30)
    assert sim.compartment("B04")["state"] == "reserved"


def test_allocation_is_idempotent_per_order(sim, order) -> None:
    first = sim.hub.allocate_locker(sim.connection, sim.bank, order("DEMO-ORDER-1"))
    again = sim.hub.allocate_locker(sim.connection, sim.bank, order("DEMO-ORDER-1"))
    other = sim.hub.allocate_locker(sim.connection, sim.bank, order("DEMO-ORDER-2"))

    assert again == first and again.pin == first.pin
    assert other.allocation_id != first.allocation_id and other.locker_no != first.locker_no
    assert [c["no"] for c in sim.state()["compartments"] if c["state"] == "reserved"] == ["B04", "B05"]


def test_a_retry_after_the_food_was_dropped_returns_the_same_allocation(sim, order) -> None:
    first = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    sim.admin("POST", "/dropoff", code=first.pin)

    assert sim.hub.allocate_locker(sim.connection, sim.bank, order()) == first


def test_the_zone_and_size_come_from_the_connections_settings(start_bank, order) -> None:
    sim = start_bank(default_zone="chilled", default_size="L", dropoff_minutes=15)

    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())

    assert allocated.locker_no == "C06"  # the only chilled L
    held = sim.allocation(allocated.allocation_id)
    assert (held["zone"], held["size"]) == ("chilled", "L")
    assert allocated.valid_until - datetime.fromisoformat(held["created_at"]) == timedelta(minutes=15)


def test_a_larger_compartment_of_the_same_zone_is_used_when_the_size_is_taken(start_bank, order) -> None:
    sim = start_bank([SimCompartment("B01", "S", "warm"), SimCompartment("B02", "L", "warm")], default_size="S")

    first = sim.hub.allocate_locker(sim.connection, sim.bank, order("O-1"))
    second = sim.hub.allocate_locker(sim.connection, sim.bank, order("O-2"))

    assert (first.locker_no, second.locker_no) == ("B01", "B02")


def test_another_zone_is_never_used_when_the_zone_is_full(start_bank, order) -> None:
    sim = start_bank([SimCompartment("A01", "L", "ambient"), SimCompartment("C01", "S", "chilled")])
    connection = sim.connect(default_zone="chilled", default_size="M")

    with pytest.raises(UpstreamError, match="no free compartment in the chilled zone of size M or larger"):
        sim.hub.allocate_locker(connection, sim.bank, order())
    assert {c["state"] for c in sim.state()["compartments"]} == {"free"}


def test_a_full_bank_is_an_upstream_error_saying_no_compartment_is_free(start_bank, order) -> None:
    sim = start_bank([SimCompartment("B01", "M", "warm"), SimCompartment("B02", "L", "warm")])
    sim.admin("POST", "/compartments/B02/out-of-service", reason="fault")
    sim.hub.allocate_locker(sim.connection, sim.bank, order("O-1"))

    with pytest.raises(UpstreamError, match="no free compartment") as caught:
        sim.hub.allocate_locker(sim.connection, sim.bank, order("O-2"))

    assert not isinstance(caught.value, UpstreamTimeout)


def test_an_unused_reservation_lapses_at_its_dropoff_deadline(sim, order) -> None:
    first = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    sim.admin("POST", "/clock", advance_minutes=31)

    assert sim.allocation(first.allocation_id)["state"] == "expired"
    assert sim.compartment(first.locker_no)["state"] == "free"
    sim.admin("POST", "/dropoff", expect=403, code=first.pin)
    again = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    assert again.allocation_id != first.allocation_id


# -- drop-off and pickup at the bank -------------------------------------------------------------


def test_the_rider_drops_off_with_the_pin_and_the_resident_picks_up_with_the_pickup_code(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    pickup_code = sim.allocation(allocated.allocation_id)["pickup_code"]
    sim.admin("POST", "/pickup", expect=403, code=pickup_code)  # nothing inside yet

    dropped = sim.admin("POST", "/dropoff", code=allocated.pin)["allocation"]
    assert dropped["state"] == "occupied" and sim.compartment(allocated.locker_no)["state"] == "occupied"
    assert datetime.fromisoformat(dropped["pickup_deadline"]) - datetime.fromisoformat(
        dropped["dropped_at"]
    ) == timedelta(minutes=30)

    sim.admin("POST", "/pickup", code=pickup_code)
    assert sim.allocation(allocated.allocation_id)["state"] == "picked_up"
    assert sim.compartment(allocated.locker_no)["state"] == "free"


def test_a_wrong_code_opens_nothing(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    wrong = f"{(int(allocated.pin) + 1) % 1_000_000:06d}"

    reply = sim.admin("POST", "/dropoff", expect=403, code=wrong)

    assert reply["code"] == "code_invalid"
    assert sim.compartment(allocated.locker_no)["state"] == "reserved"


# -- hub_release_locker --------------------------------------------------------------------


def test_release_frees_the_compartment_and_is_idempotent(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())

    assert sim.hub.release_locker(sim.connection, allocated) is True
    assert sim.hub.release_locker(sim.connection, allocated) is True

    assert sim.allocation(allocated.allocation_id)["state"] == "released"
    assert sim.compartment(allocated.locker_no)["state"] == "free"
    sim.admin("POST", "/dropoff", expect=403, code=allocated.pin)


def test_releasing_an_allocation_the_bank_never_had_is_not_an_error(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    unknown = LockerAllocation("al_0000000000000000", allocated.bank_id, "B09")

    assert sim.hub.release_locker(sim.connection, unknown) is True
    assert sim.compartment(allocated.locker_no)["state"] == "reserved"


def test_releasing_after_pickup_changes_nothing(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    sim.admin("POST", "/dropoff", code=allocated.pin)
    sim.admin("POST", "/pickup", code=sim.allocation(allocated.allocation_id)["pickup_code"])

    assert sim.hub.release_locker(sim.connection, allocated) is True
    assert sim.allocation(allocated.allocation_id)["state"] == "picked_up"
    assert sim.compartment(allocated.locker_no)["state"] == "free"


def test_releasing_with_food_inside_keeps_the_compartment_closed_until_staff_clear_it(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    sim.admin("POST", "/dropoff", code=allocated.pin)

    sim.hub.release_locker(sim.connection, allocated)

    compartment = sim.compartment(allocated.locker_no)
    assert (compartment["state"], compartment["out_of_service_reason"]) == ("out_of_service", "awaiting_clearing")
    cleaned = sim.admin("POST", f"/compartments/{allocated.locker_no}/in-service")["compartment"]
    assert cleaned["state"] == "free" and cleaned["last_cleaned_at"] is not None


def test_a_compartment_in_use_cannot_be_taken_out_of_service(sim, order) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())

    reply = sim.admin("POST", f"/compartments/{allocated.locker_no}/out-of-service", expect=409, reason="cleaning")

    assert reply["code"] == "compartment_in_use"


# -- the overdue job -----------------------------------------------------------------------------


@pytest.fixture
def job_context(sim, store) -> JobContext:
    store.add_connection(sim.connection, {"secret"})
    return JobContext(hub=sim.hub, store=store, clock=store.clock)


def run_overdue_job(context: JobContext) -> int:
    [job] = [j for j in context.hub.jobs() if j.id == "locker.overdue_pickups"]
    return job.func(context)


def test_the_overdue_job_reports_each_overdue_pickup_once(sim, order, job_context, audit_records) -> None:
    late = [sim.hub.allocate_locker(sim.connection, sim.bank, order(ref)) for ref in ("O-1", "O-2")]
    for allocated in late:
        sim.admin("POST", "/dropoff", code=allocated.pin)
    sim.admin("POST", "/clock", advance_minutes=25)
    fresh = sim.hub.allocate_locker(sim.connection, sim.bank, order("O-3"))
    sim.admin("POST", "/dropoff", code=fresh.pin)
    waiting = sim.hub.allocate_locker(sim.connection, sim.bank, order("O-4"))  # never dropped off
    sim.admin("POST", "/clock", advance_minutes=6)

    assert run_overdue_job(job_context) == 2
    assert run_overdue_job(job_context) == 2

    records = audit_records("locker.overdue")
    assert len(records) == 2
    assert {actor for actor, _, _ in records} == {"job:locker.overdue_pickups"}
    reported = {subject: data for _, subject, data in records}
    assert set(reported) == {a.allocation_id for a in late}
    for allocated in late:
        data = reported[allocated.allocation_id]
        assert (data["compartment_no"], data["zone"], data["pickup_minutes"]) == (allocated.locker_no, "warm", 30)
        pickup_code = sim.allocation(allocated.allocation_id)["pickup_code"]
        assert allocated.pin not in json.dumps(data) and pickup_code not in json.dumps(data)
    assert all(sim.allocation(a.allocation_id)["overdue_reported_at"] for a in late)
    assert sim.allocation(fresh.allocation_id)["overdue_reported_at"] is None
    assert sim.allocation(waiting.allocation_id)["overdue_reported_at"] is None
    assert job_context.store.verify_audit_chain() is None


def test_a_pickup_after_the_report_leaves_nothing_overdue(sim, order, job_context, audit_records) -> None:
    allocated = sim.hub.allocate_locker(sim.connection, sim.bank, order())
    sim.admin("POST", "/dropoff", code=allocated.pin)
    sim.admin("POST", "/clock", advance_minutes=45)
    assert run_overdue_job(job_context) == 1

    sim.admin("POST", "/pickup", code=sim.allocation(allocated.allocation_id)["pickup_code"])

    assert run_overdue_job(job_context) == 0
    assert len(audit_records("locker.overdue")) == 1


def test_a_bank_that_is_down_does_not_keep_the_others_from_being_reported(
    start_bank, order, store: Store, audit_records
) -> None:
    up, down = start_bank(), start_bank()
    store.add_connection(up.connection, {"secret"})
    store.add_connection(Connection("lockers-east", "locker", "East lockers", down.connection.settings), {"secret"})
    allocated = up.hub.allocate_locker(up.connection, up.bank, order())
    up.admin("POST", "/dropoff", code=allocated.pin)
    up.admin("POST", "/clock", advance_minutes=31)
    down.stop()

    with pytest.raises(UpstreamError, match="lockers-east"):
        run_overdue_job(JobContext(hub=up.hub, store=store, clock=store.clock))

    assert [subject for _, subject, _ in audit_records("locker.overdue")] == [allocated.allocation_id]


# -- slow and stopped banks ----------------------------------------------------------------------


def test_a_stopped_bank_is_an_upstream_error_and_a_failed_check(sim, order) -> None:
    sim.stop()

    with pytest.raises(UpstreamError):
        sim.hub.allocate_locker(sim.connection, sim.bank, order())
    health = sim.hub.check_connection(sim.connection)
    assert not health.ok and "base_url" in health.message


# -- the demo and the command line ---------------------------------------------------------------


def test_the_demo_simulator_serves_a_bank_its_settings_reach(serve, make_hub, order) -> None:
    simulator = demo_simulator()
    served = serve(simulator.app("http://127.0.0.1:9/api/v1/push/demo-locker"))
    hub = make_hub()
    settings = hub.validate_settings("locker", simulator.settings(served.url))
    connection = Connection("demo-locker", "locker", simulator.name, settings=settings)

    assert hub.check_connection(connection).ok
    allocated = hub.allocate_locker(
        connection, LockerBank("demo-locker", "sunny-garden", "North", "demo-locker"), order()
    )
    assert allocated.locker_no.startswith("B")


def test_the_simulator_runs_on_its_own_and_prints_settings_that_reach_it(make_hub) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "last100_locker.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = []
        while not lines or lines[-1] != "}\n":
            line = process.stdout.readline()
            assert line, "the simulator stopped before printing its settings"
            lines.append(line)
        settings = json.loads("".join(lines))
        hub = make_hub()
        connection = Connection("cli", "locker", "CLI", settings=hub.validate_settings("locker", settings))

        health = hub.check_connection(connection)

        assert health.ok, health.message
    finally:
        process.terminate()
        process.wait(timeout=5)
