"""The plugin through the hub's facade, with the built-in plugins around it, against
recorded visitor-system replies: the record sent, the result, and mapped errors."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import requests
import responses
from responses import matchers

from hub.core.errors import SettingsError, UpstreamError, UpstreamTimeout
from hub.core.model import Connection
from last100_visitor_http.plugin import VisitorHttpPlugin

ENDPOINT = "https://pms.test/openapi/visitor/records"  # the url of the settings fixture


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def changed(connection: Connection, **settings) -> Connection:
    return replace(connection, settings={**connection.settings, **settings})


def sent_body(call) -> dict:
    return json.loads(call.request.body)


# -- hub_register_visitor ----------------------------------------------------------------


def test_a_visit_is_posted_as_the_worked_example_and_the_system_record_id_returned(
    hub, connection, visit, mocked, fixture_json
) -> None:
    example = fixture_json("signature_example.json")
    mocked.post(
        ENDPOINT,
        json=fixture_json("reply_ok.json"),
        match=[
            matchers.body_matcher(example["body"]),
            matchers.header_matcher(
                {
                    "X-Timestamp": "1767585600",
                    "X-Signature": "3b9fb7ce462ef41a77f10c6b5c0daab238b492014ed69d5299e9fc496ec2195e",
                    "X-Key-Id": "hub-sunny",
                    "Idempotency-Key": "0f8fad5b-d9cb-469f-a165-70867728950e",
                }
            ),
        ],
    )

    record = hub.register_visitor(connection, visit)

    assert record.ref == "V00000001"


def test_the_default_field_map_writes_shanghai_times_and_the_static_fields(
    hub, connection, visit, mocked, fixture_json
) -> None:
    mocked.post(ENDPOINT, json=fixture_json("reply_ok.json"))

    hub.register_visitor(connection, visit)

    assert sent_body(mocked.calls[0]) == {
        "communityCode": "SUNNY-GARDEN",
        "visitorName": "王*",
        "visitorPhone": "138****5678",
        "visitTime": "2026-01-05 12:00:00",
        "leaveTime": "2026-01-05 12:25:00",
        "reason": "外卖配送 meituan",
        "gate": "north",
        "externalId": "0f8fad5b-d9cb-469f-a165-70867728950e",
    }


def test_a_configured_field_map_timezone_and_static_fields_shape_the_record(
    hub, connection, visit, mocked, fixture_json
) -> None:
    mocked.post(ENDPOINT, json=fixture_json("reply_ok.json"))
    custom = changed(
        connection,
        field_map={"name": "{masked_name}", "arrival": "{started_at:%d/%m/%Y %H:%M}", "until": "{ends_at}"},
        static_fields={"siteNo": 17, "visitorType": "delivery", "verified": True},
        timezone="Europe/Berlin",
        idempotency_field="bizId",
    )

    hub.register_visitor(custom, visit)

    assert sent_body(mocked.calls[0]) == {
        "siteNo": 17,
        "visitorType": "delivery",
        "verified": True,
        "name": "王*",
        "arrival": "05/01/2026 05:00",
        "until": "2026-01-05T05:25:00+01:00",
        "bizId": "0f8fad5b-d9cb-469f-a165-70867728950e",
    }


def test_without_an_idempotency_field_the_entry_id_goes_in_the_header_only(
    hub, connection, visit, mocked, fixture_json
) -> None:
    mocked.post(
        ENDPOINT,
        json=fixture_json("reply_ok.json"),
        match=[matchers.header_matcher({"Idempotency-Key": visit.entry_id})],
    )

    hub.register_visitor(changed(connection, idempotency_field=""), visit)

    assert "externalId" not in sent_body(mocked.calls[0])
    assert visit.entry_id not in mocked.calls[0].request.body.decode()


def test_without_a_record_id_path_the_record_is_known_by_the_entry_id(hub, connection, visit, mocked) -> None:
    mocked.post(ENDPOINT, status=201, body="")

    record = hub.register_visitor(changed(connection, success_path="", success_value="", record_id_path=""), visit)

    assert record.ref == visit.entry_id


@pytest.mark.parametrize(
    ("status", "fixture", "words"),
    [
        (400, "reply_idempotency_key_missing.json",
         ["HTTP 400: the Idempotency-Key header is required", "field_map and static_fields"]),
        (422, "reply_idempotency_key_reused.json", ["HTTP 422: Idempotency-Key", "used with a different body"]),
        (401, "reply_signature_invalid.json", ["HTTP 401: signature_invalid", "secret, key_id"]),
        (503, "reply_unavailable.json", ["failed (HTTP 503: simulated failure)"]),
    ],
    ids=["400", "422", "401", "503"],
)  # fmt: skip
def test_an_error_status_is_an_upstream_error_naming_the_status_and_the_systems_message(
    hub, connection, visit, mocked, fixture_json, status, fixture, words
) -> None:
    mocked.post(ENDPOINT, status=status, json=fixture_json(fixture))

    with pytest.raises(UpstreamError) as caught:
        hub.register_visitor(connection, visit)

    assert type(caught.value) is UpstreamError
    assert str(caught.value).startswith("Sunny Garden visitor book ")
    for word in words:
        assert word in str(caught.value)
    assert "visitor-example-secret" not in str(caught.value)


def test_a_refusal_in_the_reply_body_is_an_upstream_error_with_the_code_and_message(
    hub, connection, visit, mocked, fixture_json
) -> None:
    mocked.post(ENDPOINT, json=fixture_json("reply_unknown_community.json"))

    with pytest.raises(UpstreamError) as caught:
        hub.register_visitor(connection, visit)

    assert "did not accept the visitor record (code='1002': unknown communityCode MAPLE-COURT)" in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        ({"body": requests.ConnectionError("refused")}, UpstreamError,
         f"cannot be reached (POST {ENDPOINT}: ConnectionError)"),
        ({"body": "<html>ok</html>"}, UpstreamError, "answered unexpectedly (the reply is not JSON"),
        ({"json": {"code": 0}}, UpstreamError, "answered unexpectedly (the reply has no record id at data.recordId)"),
        ({"body": requests.ReadTimeout("slow")}, UpstreamTimeout, "did not answer within 2 s"),
        ({"body": requests.ConnectTimeout("slow")}, UpstreamTimeout, "did not answer within 2 s"),
    ],
    ids=["unreachable", "unreadable", "no record id", "read timeout", "connect timeout"],
)  # fmt: skip
def test_transport_failures_become_upstream_errors(hub, connection, visit, mocked, reply, error, words) -> None:
    mocked.post(ENDPOINT, **reply)

    with pytest.raises(error) as caught:
        hub.register_visitor(connection, visit)

    assert type(caught.value) is error
    assert str(caught.value).startswith(f"Sunny Garden visitor book {words}")


def test_a_failing_system_raises_until_it_recovers_and_every_attempt_is_the_same_request(
    hub, connection, visit, mocked, fixture_json, clock
) -> None:
    for _ in range(2):
        mocked.post(ENDPOINT, status=503, json=fixture_json("reply_unavailable.json"))
    mocked.post(ENDPOINT, json=fixture_json("reply_ok.json"))

    for _ in range(2):
        with pytest.raises(UpstreamError):
            hub.register_visitor(connection, visit)
        clock.advance(30)  # the outbox's back-off
    record = hub.register_visitor(connection, visit)

    assert record.ref == "V00000001"
    assert {call.request.headers["Idempotency-Key"] for call in mocked.calls} == {visit.entry_id}
    assert len({call.request.body for call in mocked.calls}) == 1
    assert [call.request.headers["X-Timestamp"] for call in mocked.calls] == ["1767585600", "1767585630", "1767585660"]


def test_invalid_settings_are_a_settings_error_naming_the_field(hub, connection, visit) -> None:
    broken = changed(connection, field_map={"visitorName": "{rider_name}"})

    with pytest.raises(SettingsError) as caught:
        hub.register_visitor(broken, visit)

    assert set(caught.value.errors) == {"field_map"}
    assert "visitorName: unknown placeholder {rider_name}" in str(caught.value)


def test_changed_settings_take_effect_on_the_next_call(hub, connection, visit, mocked, fixture_json) -> None:
    mocked.post(ENDPOINT, json=fixture_json("reply_ok.json"))
    mocked.post("https://pms2.test/records", json=fixture_json("reply_ok.json"))

    hub.register_visitor(connection, visit)
    hub.register_visitor(changed(connection, url="https://pms2.test/records"), visit)

    assert [call.request.url for call in mocked.calls] == [ENDPOINT, "https://pms2.test/records"]


def test_one_session_per_connection_is_made_once_and_shared_by_threads(
    make_hub, clock, connection, visit, mocked, fixture_json
) -> None:
    mocked.post(ENDPOINT, json=fixture_json("reply_ok.json"))
    made = []
    lock = threading.Lock()

    def factory() -> requests.Session:
        with lock:
            made.append(requests.Session())
            return made[-1]

    hub = make_hub(clock, VisitorHttpPlugin(clock=clock, session_factory=factory))

    with ThreadPoolExecutor(8) as pool:
        refs = list(pool.map(lambda _: hub.register_visitor(connection, visit).ref, range(16)))

    assert refs == ["V00000001"] * 16
    assert len(made) == 1


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_reports_a_signature_the_system_accepts(hub, connection, mocked) -> None:
    mocked.head(
        ENDPOINT,
        status=200,
        match=[
            matchers.header_matcher({"X-Signature": "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc"})
        ],
    )

    health = hub.check_connection(connection)

    assert health.ok and "signature accepted" in health.message
    assert health.latency_ms is not None


def test_check_connection_names_the_settings_a_refused_signature_points_to(
    hub, connection, mocked, fixture_json
) -> None:
    mocked.head(ENDPOINT, status=401)

    health = hub.check_connection(connection)

    assert not health.ok
    assert "secret" in health.message and "key_id" in health.message
    assert "visitor-example-secret" not in health.message


def test_check_connection_passes_a_system_that_routes_only_post_and_says_so(hub, connection, mocked) -> None:
    mocked.head(ENDPOINT, status=405)

    health = hub.check_connection(connection)

    assert health.ok
    assert "HEAD answered HTTP 405" in health.message and "checked on the first visit" in health.message


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        ({"status": 404}, "answered HTTP 404: check url"),
        ({"status": 503}, "is failing (HTTP 503)"),
        ({"status": 302, "headers": {"Location": "https://pms.example/v2/records?sig=x"}},
         "redirects to https://pms.example/v2/records; set url"),
        ({"body": requests.ConnectionError("refused")}, "(url) cannot be reached"),
        ({"body": requests.ReadTimeout("slow")}, "(url) did not answer within 2 s"),
    ],
    ids=["404", "503", "redirect", "unreachable", "timeout"],
)  # fmt: skip
def test_check_connection_reports_a_system_that_is_not_there_with_its_url(
    hub, connection, mocked, reply, words
) -> None:
    mocked.head(ENDPOINT, **reply)

    health = hub.check_connection(connection)

    assert not health.ok
    assert ENDPOINT in health.message and words in health.message
    assert "visitor-example-secret" not in health.message


@pytest.mark.parametrize(("status", "ok"), [(200, True), (204, True), (400, False), (500, False)])
def test_check_connection_gets_the_health_url_when_there_is_one(hub, connection, mocked, status, ok) -> None:
    mocked.get("https://pms.test/health", status=status)

    health = hub.check_connection(changed(connection, health_url="https://pms.test/health"))

    assert health.ok is ok
    assert "https://pms.test/health" in health.message


def test_check_connection_reports_invalid_settings_instead_of_raising(hub, connection) -> None:
    health = hub.check_connection(changed(connection, field_map={"visitTime": "{started_at:%Y"}))

    assert not health.ok
    assert "field_map" in health.message and "visitTime" in health.message
