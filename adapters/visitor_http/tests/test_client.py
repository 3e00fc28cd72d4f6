"""The client against recorded replies: what goes on the wire, how replies are read, and
the typed errors."""

from __future__ import annotations

import json
import time

import pytest
import requests
import responses
from responses import matchers

from last100_visitor_http.client import HeaderNames, ReplyRules, VisitorHttpClient
from last100_visitor_http.errors import (
    NotAccepted,
    ProtocolError,
    StatusError,
    TransportError,
    VisitorHttpTimeout,
)

URL = "https://pms.test/openapi/visitor/records"
KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
RULES = ReplyRules(success_path="code", success_value="0", record_id_path="data.recordId", message_path="msg")


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def example(fixture_json) -> dict:
    return fixture_json("signature_example.json")


def make_client(**options) -> VisitorHttpClient:
    options.setdefault("rules", RULES)
    options.setdefault("key_id", "hub-sunny")
    return VisitorHttpClient(URL, "visitor-example-secret", now=lambda: 1767585600.9, **options)


@pytest.fixture
def client() -> VisitorHttpClient:
    return make_client()


def test_register_posts_the_signed_record_with_its_idempotency_key(client, mocked, example, fixture_json) -> None:
    body = example["body"].encode("utf-8")
    mocked.post(
        URL,
        json=fixture_json("reply_ok.json"),
        match=[
            matchers.header_matcher(
                {
                    "X-Timestamp": "1767585600",
                    "X-Signature": "3b9fb7ce462ef41a77f10c6b5c0daab238b492014ed69d5299e9fc496ec2195e",
                    "X-Key-Id": "hub-sunny",
                    "Idempotency-Key": KEY,
                    "Content-Type": "application/json; charset=utf-8",
                }
            ),
            matchers.body_matcher(example["body"]),
        ],
    )

    # Given in another key order: the bytes sent are sorted, so they match the example.
    record = dict(reversed(list(json.loads(body).items())))
    assert client.register(record, idempotency_key=KEY) == "V00000001"


def test_the_signing_header_names_are_configurable(mocked, fixture_json) -> None:
    mocked.post(
        URL,
        json=fixture_json("reply_ok.json"),
        match=[
            matchers.header_matcher(
                {
                    "Sign": "62db9ce970d2f108b085e8207c5d8823b528b7560e2da5ad0aff4c33396b720b",
                    "Timestamp": "1767585600",
                    "AppKey": "hub-sunny",
                }
            )
        ],
    )
    client = make_client(headers=HeaderNames(signature="Sign", timestamp="Timestamp", key_id="AppKey"))

    assert client.register({"a": 1}, idempotency_key=KEY) == "V00000001"
    sent = mocked.calls[0].request.headers
    assert "X-Signature" not in sent and "X-Key-Id" not in sent


def test_no_key_id_header_is_sent_without_a_key_id(mocked, fixture_json) -> None:
    mocked.post(URL, json=fixture_json("reply_ok.json"))

    make_client(key_id="").register({"a": 1}, idempotency_key=KEY)

    assert "X-Key-Id" not in mocked.calls[0].request.headers


def test_any_2xx_is_success_without_reply_rules(mocked) -> None:
    mocked.post(URL, status=204)

    assert make_client(rules=ReplyRules()).register({"a": 1}, idempotency_key=KEY) is None


@pytest.mark.parametrize(
    ("reply", "rules", "record_id"),
    [
        ({"code": "0", "data": {"recordId": 42}}, RULES, "42"),
        ({"success": True, "result": [{"id": "R-1"}]}, ReplyRules("success", "true", "result.0.id"), "R-1"),
        ({"code": 0}, ReplyRules("code", "0"), None),
    ],
    ids=["numeric id, string code", "list index, boolean", "no record id path"],
)
def test_success_and_record_id_are_read_at_their_paths(mocked, reply, rules, record_id) -> None:
    mocked.post(URL, json=reply)

    assert make_client(rules=rules).register({"a": 1}, idempotency_key=KEY) == record_id


def test_another_value_at_the_success_path_is_not_accepted_with_the_systems_message(
    client, mocked, fixture_json
) -> None:
    mocked.post(URL, json=fixture_json("reply_invalid_field.json"))

    with pytest.raises(NotAccepted) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert (caught.value.path, caught.value.value) == ("code", "1001")
    assert caught.value.message == "leaveTime is before visitTime"


@pytest.mark.parametrize(
    ("status", "fixture", "message"),
    [
        (401, "reply_signature_invalid.json", "signature_invalid: the signature does not match"),
        (400, "reply_idempotency_key_missing.json", "the Idempotency-Key header is required"),
        (422, "reply_idempotency_key_reused.json", f"Idempotency-Key {KEY} was used with a different body"),
        (503, "reply_unavailable.json", "simulated failure"),
    ],
)
def test_an_error_status_is_a_status_error_with_the_systems_message(
    client, mocked, fixture_json, status, fixture, message
) -> None:
    mocked.post(URL, status=status, json=fixture_json(fixture))

    with pytest.raises(StatusError) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert (caught.value.status, caught.value.message) == (status, message)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"errmsg": "bad gate"}, "bad gate"),
        ({"error": {"nested": True}, "detail": "no such community"}, "no such community"),
        ({"status": 400}, ""),
    ],
)
def test_without_a_message_path_the_usual_keys_are_tried(mocked, reply, message) -> None:
    mocked.post(URL, status=400, json=reply)

    with pytest.raises(StatusError) as caught:
        make_client(rules=ReplyRules()).register({"a": 1}, idempotency_key=KEY)

    assert caught.value.message == message


def test_an_error_page_that_is_not_json_gives_its_text_cut_short(client, mocked) -> None:
    mocked.post(URL, status=502, body="<html>\n  <h1>502 Bad Gateway</h1>" + "x" * 400 + "</html>")

    with pytest.raises(StatusError) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert caught.value.message.startswith("<html> <h1>502 Bad Gateway</h1>")
    assert len(caught.value.message) == 200


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        ({"body": "ok"}, "not JSON"),
        ({"json": {"code": 0, "data": {}}}, "no record id at data.recordId"),
        ({"json": {"code": 0, "data": {"recordId": ""}}}, "no record id at data.recordId"),
        ({"json": {"code": 0, "data": {"recordId": {"id": 1}}}}, "no record id at data.recordId"),
        ({"status": 302, "headers": {"Location": "https://elsewhere.test/"}}, "redirect"),
    ],
    ids=["not json", "no id", "empty id", "object id", "redirect"],
)
def test_a_reply_that_cannot_be_read_as_configured_is_a_protocol_error(client, mocked, reply, words) -> None:
    mocked.post(URL, **reply)

    with pytest.raises(ProtocolError) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert words in str(caught.value)


def test_a_reply_larger_than_the_limit_is_refused(mocked) -> None:
    mocked.post(URL, json={"code": 0, "data": {"recordId": "x" * 200}})

    with pytest.raises(ProtocolError, match="larger than 100 bytes"):
        make_client(max_reply_bytes=100).register({"a": 1}, idempotency_key=KEY)


def test_an_unreachable_system_is_a_transport_error_without_the_query(mocked) -> None:
    mocked.post(f"{URL}?token=abc", body=requests.ConnectionError("refused"))
    client = VisitorHttpClient(f"{URL}?token=abc", "visitor-example-secret")

    with pytest.raises(TransportError) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert not isinstance(caught.value, VisitorHttpTimeout)
    assert "pms.test/openapi/visitor/records" in str(caught.value) and "abc" not in str(caught.value)


@pytest.mark.parametrize("exc", [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")])
def test_a_timeout_is_a_timeout(client, mocked, exc) -> None:
    mocked.post(URL, body=exc)

    with pytest.raises(VisitorHttpTimeout):
        client.register({"a": 1}, idempotency_key=KEY)


def test_every_call_passes_explicit_connect_and_read_timeouts(mocked, fixture_json) -> None:
    mocked.post(URL, json=fixture_json("reply_ok.json"))
    mocked.head(URL, status=200)
    client = make_client(timeout=(0.5, 2.0))

    client.register({"a": 1}, idempotency_key=KEY)
    client.probe()

    assert [call.request.req_kwargs["timeout"] for call in mocked.calls] == [(0.5, 2.0), (0.5, 2.0)]


def test_probe_sends_a_signed_head_of_the_endpoint(client, mocked) -> None:
    mocked.head(
        URL,
        status=200,
        match=[
            matchers.header_matcher(
                {
                    "X-Timestamp": "1767585600",
                    "X-Signature": "1d99e0c80a5f9424dbd7f20e471b0a081f02d828b342d01a0bd9cf65c868c8fc",
                }
            )
        ],
    )

    probe = client.probe()

    assert (probe.method, probe.status) == ("HEAD", 200)


def test_probe_gets_the_health_url_when_there_is_one(mocked, fixture_json) -> None:
    mocked.get("https://pms.test/health", status=401, json=fixture_json("reply_signature_invalid.json"))

    probe = make_client(health_url="https://pms.test/health").probe()

    assert (probe.method, probe.url, probe.status) == ("GET", "https://pms.test/health", 401)
    assert probe.message == "signature_invalid: the signature does not match"


def test_probe_reports_a_redirect_with_its_target(client, mocked) -> None:
    mocked.head(URL, status=301, headers={"Location": "https://pms.example/records"})

    probe = client.probe()

    assert (probe.status, probe.location) == (301, "https://pms.example/records")


def slow_body_app(pieces: int, pause_s: float):
    """A WSGI app answering at once with headers, then its body piece by piece."""

    def app(environ, start_response):
        body = json.dumps({"code": 0, "data": {"recordId": "V1"}}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])

        def trickle():
            step = -(-len(body) // pieces)
            for start in range(0, len(body), step):
                if start:
                    time.sleep(pause_s)
                yield body[start : start + step]

        return trickle()

    return app


@pytest.mark.parametrize(
    ("pieces", "pause_s", "words"),
    [(8, 0.3, "not complete within 1 s"), (2, 1.5, "stalled")],
    ids=["trickling past the deadline", "stalling past the read timeout"],
)
def test_a_reply_body_that_does_not_arrive_in_time_is_a_timeout(serve, pieces, pause_s, words) -> None:
    served = serve(slow_body_app(pieces, pause_s))
    client = VisitorHttpClient(f"{served.url}/records", "visitor-example-secret", rules=RULES, timeout=(0.5, 1.0))

    started = time.monotonic()
    with pytest.raises(VisitorHttpTimeout) as caught:
        client.register({"a": 1}, idempotency_key=KEY)

    assert words in str(caught.value)
    assert time.monotonic() - started < 1.6


def test_a_reply_body_arriving_in_pieces_within_the_deadline_is_read(serve) -> None:
    served = serve(slow_body_app(4, 0.05))
    client = VisitorHttpClient(f"{served.url}/records", "visitor-example-secret", rules=RULES, timeout=(0.5, 1.0))

    assert client.register({"a": 1}, idempotency_key=KEY) == "V1"
