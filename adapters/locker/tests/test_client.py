"""The client against recorded controller replies: what it sends, what it reads, and
the typed error for every way a controller can fail."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from hub.testing import Misbehaving
from last100_locker.client import LockerClient
from last100_locker.errors import (
    ApiError,
    AuthenticationError,
    LockerTimeout,
    NoFreeCompartment,
    NotFoundError,
    ProtocolError,
    ServerError,
    TransportError,
)
from last100_locker.wire import Compartment

API = "https://lockers.test/locker/v1"
BANK = f"{API}/banks/north-gate"
SECRET = b"locker-example-secret-0123456789abcdef"


@pytest.fixture
def client() -> LockerClient:
    return LockerClient("https://lockers.test/locker", "hub-sunny", SECRET, timeout=(0.5, 2.0))


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_ping_returns_the_protocol_version(client, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", json=fixture_json("ping.json"))

    assert client.ping() == "locker/1"


def test_compartments_reads_size_zone_state_and_temperature(client, mocked, fixture_json) -> None:
    mocked.get(f"{BANK}/compartments", json=fixture_json("compartments.json"))

    compartments = client.compartments("north-gate")

    assert compartments[0] == Compartment(
        "A01", "S", "ambient", "free", 22.0, "", datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    )
    assert [(c.no, c.state) for c in compartments] == [
        ("A01", "free"),
        ("B04", "reserved"),
        ("B05", "occupied"),
        ("C06", "out_of_service"),
    ]
    assert compartments[3].out_of_service_reason == "cleaning"


def test_allocate_sends_order_size_zone_and_dropoff_minutes_and_reads_both_codes(client, mocked, fixture_json) -> None:
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

    allocation = client.allocate("north-gate", "DEMO-ORDER-1", size="M", zone="warm", dropoff_minutes=30)

    assert (allocation.id, allocation.compartment_no, allocation.state) == ("al_7f3a9c2e5b1d4f60", "B04", "reserved")
    assert (allocation.dropoff_code, allocation.pickup_code) == ("482913", "605118")
    assert allocation.dropoff_deadline == datetime(2026, 1, 5, 4, 30, tzinfo=UTC)


def test_allocate_escapes_the_bank_id_in_the_path(client, mocked, fixture_json) -> None:
    mocked.post(f"{API}/banks/tower%2F2%20east/allocations", status=201, json=fixture_json("allocation_created.json"))

    client.allocate("tower/2 east", "DEMO-ORDER-1", size="M", zone="warm", dropoff_minutes=30)


def test_an_allocation_reply_without_a_dropoff_code_is_a_protocol_error(client, mocked, fixture_json) -> None:
    reply = fixture_json("allocation_created.json")
    del reply["allocation"]["dropoff_code"]
    mocked.post(f"{BANK}/allocations", status=201, json=reply)

    with pytest.raises(ProtocolError, match="dropoff_code"):
        client.allocate("north-gate", "DEMO-ORDER-1", size="M", zone="warm", dropoff_minutes=30)


def test_a_full_bank_is_no_free_compartment(client, mocked, fixture_json) -> None:
    mocked.post(f"{BANK}/allocations", status=409, json=fixture_json("problem_no_free_compartment.json"))

    with pytest.raises(NoFreeCompartment) as caught:
        client.allocate("north-gate", "DEMO-ORDER-1", size="L", zone="chilled", dropoff_minutes=30)

    assert caught.value.detail == "no free chilled compartment of size L or larger"


def test_release_posts_an_empty_object_and_reads_the_finished_allocation(client, mocked, fixture_json) -> None:
    mocked.post(
        f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/release",
        json=fixture_json("allocation_released.json"),
        match=[matchers.json_params_matcher({})],
    )

    released = client.release("north-gate", "al_7f3a9c2e5b1d4f60")

    assert released is not None and released.state == "released"
    assert released.finished_at == datetime(2026, 1, 5, 4, 5, tzinfo=UTC)
    assert released.dropoff_code == "" and released.pickup_code == ""


def test_releasing_an_allocation_the_bank_does_not_know_is_none(client, mocked, fixture_json) -> None:
    mocked.post(
        f"{BANK}/allocations/al_gone/release", status=404, json=fixture_json("problem_allocation_not_found.json")
    )

    assert client.release("north-gate", "al_gone") is None


def test_releasing_at_a_bank_the_controller_does_not_know_is_an_error(client, mocked, fixture_json) -> None:
    mocked.post(f"{BANK}/allocations/al_1/release", status=404, json=fixture_json("problem_bank_not_found.json"))

    with pytest.raises(NotFoundError) as caught:
        client.release("north-gate", "al_1")

    assert caught.value.code == "bank_not_found"


def test_overdue_reads_the_limit_and_the_allocations_with_their_reported_marks(client, mocked, fixture_json) -> None:
    mocked.get(f"{BANK}/overdue", json=fixture_json("overdue.json"))

    overdue = client.overdue("north-gate")

    assert overdue.pickup_minutes == 30
    assert [(a.id, a.overdue_reported_at) for a in overdue.allocations] == [
        ("al_7f3a9c2e5b1d4f60", None),
        ("al_0c61d2e8a9b3f745", datetime(2026, 1, 5, 4, 2, tzinfo=UTC)),
    ]
    assert overdue.allocations[0].pickup_deadline == datetime(2026, 1, 5, 4, 40, tzinfo=UTC)


def test_mark_overdue_reported_posts_to_the_allocation(client, mocked, fixture_json) -> None:
    mocked.post(
        f"{BANK}/allocations/al_7f3a9c2e5b1d4f60/overdue-report",
        json=fixture_json("overdue_reported.json"),
        match=[matchers.json_params_matcher({})],
    )

    marked = client.mark_overdue_reported("north-gate", "al_7f3a9c2e5b1d4f60")

    assert marked.overdue_reported_at == datetime(2026, 1, 5, 4, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "problem", "error", "code"),
    [
        (401, "problem_signature_invalid.json", AuthenticationError, "signature_invalid"),
        (401, "problem_key_unknown.json", AuthenticationError, "key_unknown"),
        (404, "problem_bank_not_found.json", NotFoundError, "bank_not_found"),
        (503, None, ServerError, "http_503"),
        (429, None, ServerError, "http_429"),
        (400, None, ApiError, "http_400"),
    ],
)
def test_error_replies_become_typed_errors_with_their_code(
    client, mocked, fixture_json, status, problem, error, code
) -> None:
    body = json.dumps(fixture_json(problem)) if problem else "<html>Service Unavailable</html>"
    mocked.get(f"{BANK}/compartments", status=status, body=body)

    with pytest.raises(error) as caught:
        client.compartments("north-gate")

    assert caught.value.code == code and caught.value.status == status


def test_a_redirect_is_not_followed(client, mocked) -> None:
    mocked.get(f"{API}/ping", status=302, headers={"Location": "https://elsewhere.test/ping"})

    with pytest.raises(ProtocolError, match="302"):
        client.ping()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"compartments": {}}),
        json.dumps({"compartments": [{"no": "A01", "size": "S", "zone": "ambient"}]}),
        json.dumps({"compartments": [{"no": "A01", "size": "S", "zone": "ambient", "state": "free",
                                      "temperature_c": "hot"}]}),
        json.dumps({"compartments": [{"no": "A01", "size": "S", "zone": "ambient", "state": "free",
                                      "last_cleaned_at": "2026-01-05T01:00:00"}]}),
    ],
    ids=["not json", "not a list", "no state", "temperature not a number", "time without offset"],
)  # fmt: skip
def test_a_malformed_reply_is_a_protocol_error(client, mocked, body) -> None:
    mocked.get(f"{BANK}/compartments", body=body)

    with pytest.raises(ProtocolError):
        client.compartments("north-gate")


def test_a_malformed_overdue_reply_is_a_protocol_error(client, mocked, fixture_json) -> None:
    reply = fixture_json("overdue.json")
    reply["pickup_minutes"] = 0
    mocked.get(f"{BANK}/overdue", json=reply)

    with pytest.raises(ProtocolError, match="pickup_minutes"):
        client.overdue("north-gate")


def test_an_unreachable_controller_is_a_transport_error(client, mocked) -> None:
    mocked.get(f"{API}/ping", body=requests.ConnectionError("refused"))

    with pytest.raises(TransportError) as caught:
        client.ping()

    assert not isinstance(caught.value, LockerTimeout)


@pytest.mark.parametrize("exc", [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")])
def test_a_timeout_is_a_timeout(client, mocked, exc) -> None:
    mocked.get(f"{API}/ping", body=exc)

    with pytest.raises(LockerTimeout):
        client.ping()


def test_every_call_passes_explicit_connect_and_read_timeouts(client, mocked, fixture_json) -> None:
    mocked.get(
        f"{API}/ping", json=fixture_json("ping.json"), match=[matchers.request_kwargs_matcher({"timeout": (0.5, 2.0)})]
    )

    client.ping()


def test_a_body_trickling_in_past_the_deadline_is_a_timeout() -> None:
    # A real socket: every pause is shorter than the read timeout, only the deadline stops it.
    server = Misbehaving("trickle")
    try:
        client = LockerClient(f"{server.url}/locker", "hub-sunny", SECRET, timeout=(0.5, 0.5), deadline_s=0.5)
        started = time.monotonic()

        with pytest.raises(LockerTimeout, match=r"not complete within 0\.5 s"):
            client.ping()

        assert time.monotonic() - started < 2
    finally:
        server.close()
