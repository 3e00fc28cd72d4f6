"""The plugin through the hub's facade, with the built-in plugins around it, against
recorded controller replies: mapped results, mapped errors, and the overdue job."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from hub.core.errors import SettingsError, UpstreamError, UpstreamTimeout
from hub.core.jobs import JobContext
from hub.core.model import Connection, LockerAllocation
from last100_locker.plugin import LockerPlugin

API = "https://lockers.test/locker/v1"
BANK = f"{API}/banks/north-gate"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def allocation(allocation_id: str = "al_7f3a9c2e5b1d4f60") -> LockerAllocation:
    return LockerAllocation(allocation_id, "lockers-north", "B04", "482913", datetime(2026, 1, 5, 4, 30, tzinfo=UTC))


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_reports_the_bank_and_its_free_compartments(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", json=fixture_json("ping.json"))
    mocked.get(f"{BANK}/compartments", json=fixture_json("compartments.json"))

    health = hub.check_connection(connection)

    assert health.ok
    assert health.message == "locker/1: signature accepted; bank north-gate: 4 compartments, 1 free, 1 out of service"
    assert health.latency_ms is not None


def test_a_refused_signature_fails_the_check_naming_the_secret(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", status=401, json=fixture_json("problem_signature_invalid.json"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "secret" in health.message and "signature_invalid" in health.message


def test_an_unknown_key_id_fails_the_check_naming_it(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", status=401, json=fixture_json("problem_key_unknown.json"))

    health = hub.check_connection(connection)

    assert not health.ok and "key_id 'hub-sunny'" in health.message


def test_an_unknown_bank_fails_the_check_naming_bank_id(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", json=fixture_json("ping.json"))
    mocked.get(f"{BANK}/compartments", status=404, json=fixture_json("problem_bank_not_found.json"))

    health = hub.check_connection(connection)

    assert not health.ok and "bank_id 'north-gate'" in health.message


def test_a_url_that_does_not_speak_the_protocol_fails_the_check(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", status=404, body="Not Found")

    health = hub.check_connection(connection)

    assert not health.ok and "does not serve the Locker Bank Protocol" in health.message


def test_another_protocol_version_fails_the_check(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", json={"protocol": "locker/2"})

    health = hub.check_connection(connection)

    assert not health.ok and "locker/2" in health.message


def test_an_unreachable_controller_fails_the_check_naming_base_url(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", body=requests.ConnectionError("refused"))

    health = hub.check_connection(connection)

    assert not health.ok and "base_url cannot be reached" in health.message


# -- hub_allocate_locker -------------------------------------------------------------------


def test_allocate_returns_the_compartment_and_the_riders_dropoff_code(
    hub, connection, bank, order, mocked, fixture_json
) -> None:
    mocked.post(f"{BANK}/allocations", status=201, json=fixture_json("allocation_created.json"))

    allocated = hub.allocate_locker(connection, bank, order())

    assert allocated == LockerAllocation(
        allocation_id="al_7f3a9c2e5b1d4f60",
        bank_id="lockers-north",
        locker_no="B04",
        pin="482913",
        valid_until=datetime(2026, 1, 5, 4, 30, tzinfo=UTC),
    )
    assert "605118" not in repr(allocated)


def test_allocate_asks_for_the_default_zone_size_and_dropoff_time(
    hub, connection, bank, order, mocked, fixture_json
) -> None:
    mocked.post(
        f"{BANK}/allocations",
        status=201,
        json=fixture_json("allocation_created.json"),
        match=[
            matchers.json_params_matcher(
                {"order_ref": "DEMO-ORDER-1", "size": "M", "zone": "warm", "dropoff_minutes": 30}
            )
        ],
    )

    hub.allocate_locker(connection, bank, order())


def test_allocate_follows_the_connections_zone_size_and_dropoff_settings(
    hub, connection, bank, order, mocked, fixture_json
) -> None:
    chilled = Connection(
        connection.id,
        "locker",
        connection.name,
        settings={**connection.settings, "default_zone": "chilled", "default_size": "L", "dropoff_minutes": 15},
    )
    mocked.post(
        f"{BANK}/allocations",
        status=201,
        json=fixture_json("allocation_created.json"),
        match=[
            matchers.json_params_matcher(
                {"order_ref": "DEMO-ORDER-7", "size": "L", "zone": "chilled", "dropoff_minutes": 15}
            )
        ],
    )

    hub.allocate_locker(chilled, bank, order("DEMO-ORDER-7"))


def test_a_full_bank_is_an_upstream_error_saying_no_compartment_is_free(
    hub, connection, bank, order, mocked, fixture_json
) -> None:
    mocked.post(f"{BANK}/allocations", status=409, json=fixture_json("problem_no_free_compartment.json"))

    with pytest.raises(UpstreamError, match="no free compartment in the warm zone of size M or larger"):
        hub.allocate_locker(connection, bank, order())


def test_a_slow_controller_is_an_upstream_timeout(hub, connection, bank, order, mocked) -> None:
    mocked.post(f"{BANK}/allocations", body=requests.ReadTimeout("slow"))

    with pytest.raises(UpstreamTimeout):
        hub.allocate_locker(connection, bank, order())


@pytest.mark.parametrize(
    ("status", "problem", "words"),
    [
        (401, "problem_signature_invalid.json", "check secret and key_id"),
        (404, "problem_bank_not_found.json", "check bank_id"),
        (503, None, "HTTP 503"),
    ],
)
def test_controller_failures_become_upstream_errors_naming_what_to_fix(
    hub, connection, bank, order, mocked, fixture_json, status, problem, words
) -> None:
    mocked.post(f"{BANK}/allocations", status=status, json=fixture_json(problem) if problem else {})

    with pytest.raises(UpstreamError, match=words) as caught:
        hub.allocate_locker(connection, bank, order())

    assert not isinstance(caught.value, UpstreamTimeout)


def test_invalid_settings_are_a_settings_error_naming_them(hub, connection, bank, order) -> None:
    broken = Connection(
        connection.id, "locker", connection.name, settings={**connection.settings, "default_size": "XL"}
    )

    with pytest.raises(SettingsError) as caught:
        hub.allocate_locker(broken, bank, order())

    assert set(caught.value.errors) == {"default_size"}


# -- hub_release_locker --------------------------------------------------------------------


def test_release_releases_at_the_bank_of_the_settings(hub, connection, mocked, fixture_json) -> None:
    call = mocked.post(f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/release", json=fixture_json("allocation_released.json"))

    assert hub.release_locker(connection, allocation()) is True
    assert call.call_count == 1


def test_releasing_an_allocation_the_bank_does_not_know_is_not_an_error(hub, connection, mocked, fixture_json) -> None:
    mocked.post(
        f"{BANK}/allocations/al_gone/release", status=404, json=fixture_json("problem_allocation_not_found.json")
    )

    assert hub.release_locker(connection, allocation("al_gone")) is True


def test_a_release_the_controller_cannot_answer_is_an_upstream_error_for_the_outbox(hub, connection, mocked) -> None:
    mocked.post(f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/release", body=requests.ConnectionError("refused"))

    with pytest.raises(UpstreamError):
        hub.release_locker(connection, allocation())


# -- hub_jobs and the overdue job ------------------------------------------------------------


def test_the_plugin_contributes_the_overdue_job_every_ten_minutes(hub) -> None:
    [job] = [j for j in hub.jobs() if j.id == "locker.overdue_pickups"]

    assert (job.trigger, dict(job.trigger_args)) == ("interval", {"minutes": 10})


def test_the_overdue_job_records_new_overdue_pickups_and_marks_them_at_the_bank(
    hub, connection, store, clock, audit_records, mocked, fixture_json
) -> None:
    store.add_connection(connection, {"secret"})
    mocked.get(f"{BANK}/overdue", json=fixture_json("overdue.json"))
    mark = mocked.post(
        f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/overdue-report", json=fixture_json("overdue_reported.json")
    )
    [job] = [j for j in hub.jobs() if j.id == "locker.overdue_pickups"]

    found = job.func(JobContext(hub=hub, store=store, clock=clock))

    # Two overdue, one of which the bank already marked reported: one new record.
    assert found == 2
    assert mark.call_count == 1
    assert audit_records("locker.overdue") == [
        (
            "job:locker.overdue_pickups",
            "al_7f3a9c2e5b1d4f60",
            {
                "connection_id": "lockers-north",
                "bank_id": "north-gate",
                "order_ref": "DEMO-ORDER-1",
                "compartment_no": "B04",
                "zone": "warm",
                "dropped_at": "2026-01-05T04:10:00Z",
                "pickup_deadline": "2026-01-05T04:40:00Z",
                "pickup_minutes": 30,
            },
        )
    ]


def test_when_marking_fails_the_next_run_retries_the_mark_without_a_second_record(
    connection, store, clock, audit_records, make_hub, fixture_json
) -> None:
    plugin = LockerPlugin(clock=clock)
    hub = make_hub(clock, plugin)
    store.add_connection(connection, {"secret"})
    context = JobContext(hub=hub, store=store, clock=clock)
    mark_url = f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/overdue-report"

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.get(f"{BANK}/overdue", json=fixture_json("overdue.json"))
        mocked.post(mark_url, status=503, json={})
        with pytest.raises(UpstreamError, match="lockers-north"):
            plugin.report_overdue_pickups(context)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.get(f"{BANK}/overdue", json=fixture_json("overdue.json"))
        mark = mocked.post(mark_url, json=fixture_json("overdue_reported.json"))
        assert plugin.report_overdue_pickups(context) == 2

    assert mark.call_count == 1
    assert [subject for _, subject, _ in audit_records("locker.overdue")] == ["al_7f3a9c2e5b1d4f60"]


def test_the_overdue_job_asks_only_enabled_locker_connections(
    hub, connection, store, clock, audit_records, mocked, fixture_json
) -> None:
    store.add_connection(connection, {"secret"})
    store.add_connection(Connection("gate-1", "example-gate", "Gate"), ())
    off = Connection(
        "lockers-off", "locker", "Closed lockers", {**connection.settings, "bank_id": "east"}, enabled=False
    )
    store.add_connection(off, {"secret"})
    mocked.get(f"{BANK}/overdue", json={"bank_id": "north-gate", "pickup_minutes": 30, "allocations": []})
    notes: list[tuple[int, int | None, str]] = []

    found = LockerPlugin(clock=clock).report_overdue_pickups(
        JobContext(hub=hub, store=store, clock=clock, progress=lambda *p: notes.append(p))
    )

    assert found == 0
    assert notes == [(1, 1, "lockers-north")]
    assert audit_records("locker.overdue") == []


# -- one client per connection -------------------------------------------------------------------


def test_one_session_per_connection_rebuilt_when_its_settings_change(
    make_hub, clock, connection, bank, order, mocked, fixture_json
) -> None:
    sessions: list[requests.Session] = []

    def factory() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    hub = make_hub(clock, LockerPlugin(clock=clock, session_factory=factory))
    mocked.post(f"{BANK}/allocations", status=201, json=fixture_json("allocation_created.json"))
    changed = Connection(
        connection.id, "locker", connection.name, settings={**connection.settings, "dropoff_minutes": 20}
    )

    hub.allocate_locker(connection, bank, order())
    hub.allocate_locker(connection, bank, order())
    hub.allocate_locker(changed, bank, order())

    assert len(sessions) == 2


def test_concurrent_first_calls_on_a_connection_share_one_session(
    make_hub, clock, connection, bank, order, mocked, fixture_json
) -> None:
    created = 0
    lock = threading.Lock()

    def factory() -> requests.Session:
        nonlocal created
        with lock:
            created += 1
        return requests.Session()

    hub = make_hub(clock, LockerPlugin(clock=clock, session_factory=factory))
    mocked.post(f"{BANK}/allocations", status=201, json=fixture_json("allocation_created.json"))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: hub.allocate_locker(connection, bank, order()), range(8)))

    assert created == 1
    assert {r.allocation_id for r in results} == {"al_7f3a9c2e5b1d4f60"}


def test_timeouts_are_at_most_one_second_to_connect_and_the_connections_timeout_to_read(
    hub, connection, bank, order, mocked, fixture_json
) -> None:
    mocked.post(
        f"{BANK}/allocations",
        status=201,
        json=fixture_json("allocation_created.json"),
        match=[matchers.request_kwargs_matcher({"timeout": (1.0, 2.0)})],
    )

    hub.allocate_locker(connection, bank, order())
