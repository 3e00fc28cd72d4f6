"""End to end: the hub, with its built-in plugins and this plugin, against the simulated
visitor book served on loopback: every hook, idempotent re-delivery, a failing system
recovering, masked data only, timeouts on a real socket, and the simulator's own checks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from hub.core.errors import UpstreamError, UpstreamTimeout
from hub.core.model import Connection, Visit
from hub.core.plugins import Hub
from last100_visitor_http.signing import sign
from last100_visitor_http.simulator import demo_simulator


@dataclass
class Book:
    """A running simulated visitor book and a hub connected to it."""

    url: str
    stop: Callable[[], None]
    hub: Hub
    connection: Connection

    def admin(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        reply = requests.request(method, f"{self.url}/_sim{path}", json=body or None, timeout=5)
        assert reply.ok, reply.text
        return reply.json()

    def records(self) -> list[dict[str, Any]]:
        return self.admin("GET", "/records")["records"]

    def requests_received(self) -> int:
        return self.admin("GET", "/records")["requests"]

    def connect(self, **changes: Any) -> Connection:
        """Another connection to the same book, with some settings or the timeout changed."""
        timeout_s = changes.pop("timeout_s", self.connection.timeout_s)
        return replace(self.connection, settings={**self.connection.settings, **changes}, timeout_s=timeout_s)

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{self.url}/openapi/visitor/records", data=body, headers=headers, timeout=5)

    def signed(self, body: bytes, key: str | None, timestamp: int | None = None) -> dict[str, str]:
        """Headers of a request signed as the hub signs (the signing is checked against
        literal values in test_signing)."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": stamp,
            "X-Signature": sign(self.connection.settings["secret"], stamp, body),
            "X-Key-Id": self.connection.settings["key_id"],
        }
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


@pytest.fixture
def book(serve, make_hub) -> Book:
    hub = make_hub()  # the real clock: the simulator checks timestamps against it
    simulator = demo_simulator()
    served = serve(simulator.app(""))
    settings = hub.validate_settings("visitor-http", simulator.settings(served.url))
    connection = Connection("visitors-sim", "visitor-http", "Visitor book simulator", settings=settings, timeout_s=1.0)
    return Book(served.url, served.stop, hub, connection)


@pytest.fixture
def visit() -> Visit:
    started = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    return Visit(
        entry_id="5d1c3a52-7a51-4c1e-9b84-2f2f8f1c9e01",
        community_id="sunny-garden",
        gate_id="north",
        rider_ref="R1001",
        masked_name="王*",
        masked_phone="138****5678",
        platform="riderpass",
        started_at=started,
        ends_at=started.replace(minute=25),
    )


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_passes_with_the_signature_accepted(book) -> None:
    health = book.hub.check_connection(book.connection)

    assert health.ok, health.message
    assert "signature accepted" in health.message


@pytest.mark.parametrize(
    "change",
    [{"secret": "not-the-shared-secret"}, {"key_id": "hub-elsewhere"}],
    ids=["secret", "key id"],
)
def test_a_wrong_secret_or_key_id_fails_the_check_naming_both(book, change) -> None:
    health = book.hub.check_connection(book.connect(**change))

    assert not health.ok
    assert "HTTP 401" in health.message and "secret, key_id" in health.message
    assert "not-the-shared-secret" not in health.message


def test_the_check_probes_the_health_url_when_there_is_one(book) -> None:
    healthy = book.hub.check_connection(book.connect(health_url=f"{book.url}/health"))
    refused = book.hub.check_connection(book.connect(health_url=f"{book.url}/health", secret="wrong"))

    assert healthy.ok and f"{book.url}/health" in healthy.message
    assert not refused.ok and "signature_invalid" in refused.message


def test_an_unreachable_system_fails_the_check_with_its_url_and_never_the_secret(book) -> None:
    book.stop()

    health = book.hub.check_connection(book.connection)

    assert not health.ok
    assert f"{book.url}/openapi/visitor/records (url) cannot be reached" in health.message
    assert book.connection.settings["secret"] not in health.message


def test_a_slow_system_fails_the_check_within_the_connection_timeout(book) -> None:
    book.admin("POST", "/delay", seconds=2)

    started = time.monotonic()
    health = book.hub.check_connection(book.connect(timeout_s=0.5))

    assert time.monotonic() - started < 1.5
    assert not health.ok and "did not answer within 0.5 s" in health.message


# -- hub_register_visitor ----------------------------------------------------------------


def test_a_visit_becomes_one_record_in_the_book(book, visit, fixture_json) -> None:
    record = book.hub.register_visitor(book.connection, visit)

    [received] = book.records()
    assert record.ref == fixture_json("reply_ok.json")["data"]["recordId"] == received["record_id"]
    assert received["idempotency_key"] == visit.entry_id
    assert received["body"] == {
        "communityCode": "SUNNY-GARDEN",
        "visitorName": "王*",
        "visitorPhone": "138****5678",
        "visitTime": "2026-01-05 12:00:00",
        "leaveTime": "2026-01-05 12:25:00",
        "reason": "外卖配送 riderpass",
        "gate": "north",
        "externalId": visit.entry_id,
    }


def test_a_redelivered_visit_creates_no_second_record(book, visit) -> None:
    first = book.hub.register_visitor(book.connection, visit)
    again = book.hub.register_visitor(book.connection, visit)

    assert again == first
    assert len(book.records()) == 1
    assert book.requests_received() == 2


def test_a_retry_after_a_reply_that_came_too_late_finds_the_record_already_made(book, visit) -> None:
    book.admin("POST", "/delay", seconds=1.5)

    with pytest.raises(UpstreamTimeout):
        book.hub.register_visitor(book.connect(timeout_s=0.5), visit)
    book.admin("POST", "/delay", seconds=0)
    deadline = time.monotonic() + 5
    while not book.records() and time.monotonic() < deadline:  # the slow request finishes in the book
        time.sleep(0.05)
    record = book.hub.register_visitor(book.connection, visit)

    [made] = book.records()
    assert record.ref == made["record_id"]


def test_a_failing_system_raises_upstream_errors_until_it_recovers(book, visit) -> None:
    book.admin("POST", "/fail", times=2, status=503)

    errors = []
    for _ in range(2):
        with pytest.raises(UpstreamError) as caught:
            book.hub.register_visitor(book.connection, visit)
        errors.append(str(caught.value))
    record = book.hub.register_visitor(book.connection, visit)

    assert errors == ["Visitor book simulator failed (HTTP 503: simulated failure)"] * 2
    assert [r["record_id"] for r in book.records()] == [record.ref]
    assert book.requests_received() == 3


def test_a_client_error_names_the_status_and_the_systems_message(book, visit) -> None:
    book.admin("POST", "/fail", times=1, status=400)

    with pytest.raises(UpstreamError) as caught:
        book.hub.register_visitor(book.connection, visit)

    assert "refused the visitor record (HTTP 400: simulated failure)" in str(caught.value)
    assert book.records() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"static_fields": {"communityCode": "MAPLE-COURT"}}, "code='1002': unknown communityCode MAPLE-COURT"),
        (
            {"field_map": {"visitorName": "{masked_name}", "visitorPhone": "{masked_phone}",
                           "visitTime": "{started_at}", "leaveTime": "{ends_at}"}},
            "code='1001': visitTime and leaveTime must be yyyy-MM-dd HH:mm:ss",
        ),
        ({"field_map": {"visitorName": "{masked_name}"}}, "code='1001': missing field visitorPhone"),
    ],
    ids=["community code", "time format", "missing field"],
)  # fmt: skip
def test_a_mapping_the_system_does_not_take_is_refused_with_its_message(book, visit, change, message) -> None:
    with pytest.raises(UpstreamError) as caught:
        book.hub.register_visitor(book.connect(**change), visit)

    assert f"did not accept the visitor record ({message})" in str(caught.value)
    assert book.records() == []


def test_the_book_receives_nothing_but_what_the_visit_carries(book, visit) -> None:
    # Every placeholder a field map may use, so every value the hub could send is sent.
    field_map = {
        name: "{" + name + "}"
        for name in ("entry_id", "community_id", "gate_id", "rider_ref", "masked_name", "masked_phone", "platform")
    } | {"visitTime": "{started_at:%Y-%m-%d %H:%M:%S}", "leaveTime": "{ends_at:%Y-%m-%d %H:%M:%S}"}
    field_map |= {"visitorName": "{masked_name}", "visitorPhone": "{masked_phone}"}

    book.hub.register_visitor(book.connect(field_map=field_map), visit)

    [received] = book.records()
    from_visit = {
        visit.entry_id, visit.community_id, visit.gate_id, visit.rider_ref, visit.masked_name,
        visit.masked_phone, visit.platform, "2026-01-05 12:00:00", "2026-01-05 12:25:00",
    }  # fmt: skip
    assert set(received["body"].values()) == from_visit | {"SUNNY-GARDEN"}
    assert {name.lower() for name in received["headers"]} <= {
        "host", "user-agent", "accept-encoding", "accept", "connection", "content-type", "content-length",
        "x-timestamp", "x-signature", "x-key-id", "idempotency-key",
    }  # fmt: skip
    assert received["headers"]["Idempotency-Key"] == visit.entry_id
    everything = received["raw"] + json.dumps(received["headers"])
    # A mobile number stands alone: digits inside the hex signature are no number.
    assert not re.search(r"(?<![0-9A-Za-z])1\d{10}(?![0-9A-Za-z])", everything), (
        "an unmasked mobile number reached the book"
    )


# -- the simulator's own checks ----------------------------------------------------------


def test_the_book_refuses_an_unsigned_or_stale_request(book, fixture_json) -> None:
    body = b'{"communityCode":"SUNNY-GARDEN"}'
    unsigned = book.post(body, {"Content-Type": "application/json", "X-Key-Id": "hub-demo", "Idempotency-Key": "k"})
    forged = book.post(body, {**book.signed(body, "k"), "X-Signature": "00" * 32})
    stale = book.post(body, book.signed(body, "k", timestamp=int(time.time()) - 301))

    assert unsigned.status_code == forged.status_code == stale.status_code == 401
    assert forged.json() == fixture_json("reply_signature_invalid.json")
    assert "signature_missing" in unsigned.json()["msg"]
    assert "timestamp_out_of_range" in stale.json()["msg"]
    assert book.records() == []


def test_the_book_requires_an_idempotency_key(book, fixture_json) -> None:
    body = b"{}"

    reply = book.post(body, book.signed(body, key=None))

    assert reply.status_code == 400
    assert reply.json() == fixture_json("reply_idempotency_key_missing.json")


def test_the_book_refuses_a_key_reused_with_another_body_and_replays_the_same_one(book, visit, fixture_json) -> None:
    book.hub.register_visitor(book.connection, visit)
    [made] = book.records()
    same = made["raw"].encode("utf-8")
    other = json.dumps({**made["body"], "gate": "east"}).encode("utf-8")

    quoted = book.post(same, book.signed(same, f'"{visit.entry_id}"'))
    reused = book.post(other, book.signed(other, visit.entry_id))

    assert quoted.status_code == 200 and quoted.headers["Idempotent-Replayed"] == "true"
    assert quoted.json()["data"]["recordId"] == made["record_id"]
    assert reused.status_code == 422
    assert reused.json() == {
        **fixture_json("reply_idempotency_key_reused.json"),
        "msg": f"Idempotency-Key {visit.entry_id} was used with a different body",
    }
    assert len(book.records()) == 1


def test_injected_failures_answer_as_recorded_and_make_no_record(book, fixture_json) -> None:
    book.admin("POST", "/fail", times=1, status=503)
    body = b"{}"

    reply = book.post(body, book.signed(body, "k"))

    assert reply.status_code == 503 and reply.json() == fixture_json("reply_unavailable.json")


@pytest.mark.parametrize(
    ("path", "body"),
    [("/fail", {"times": -1}), ("/fail", {"status": 200}), ("/delay", {"seconds": "slow"})],
)
def test_the_admin_endpoints_refuse_nonsense(book, path, body) -> None:
    reply = requests.post(f"{book.url}/_sim{path}", json=body, timeout=5)

    assert reply.status_code == 400


def test_reset_forgets_records_failures_and_delay(book, visit) -> None:
    book.hub.register_visitor(book.connection, visit)
    book.admin("POST", "/fail", times=5, status=503)
    book.admin("POST", "/delay", seconds=3)

    book.admin("POST", "/reset")

    assert book.records() == [] and book.requests_received() == 0
    assert book.hub.register_visitor(book.connect(timeout_s=0.5), visit).ref == "V00000001"


def test_the_standalone_simulator_prints_settings_that_connect(make_hub, visit) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "last100_visitor_http.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]
        while lines[-1] and lines[-1] != "}\n":
            lines.append(process.stdout.readline())
        hub = make_hub()
        settings = hub.validate_settings("visitor-http", json.loads("".join(lines)))
        connection = Connection("standalone", "visitor-http", "Standalone", settings=settings)

        health = hub.check_connection(connection)
        record = hub.register_visitor(connection, visit)
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert health.ok, health.message
    assert record.ref == "V00000001"
