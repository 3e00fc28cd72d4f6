"""The client against recorded platform replies: what it sends, what it reads, and the
typed error for every way a platform can fail."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
from responses import matchers

from last100_riderpass.client import RiderPassClient
from last100_riderpass.errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    CredentialError,
    NotFoundError,
    ProtocolError,
    RiderPassTimeout,
    ServerError,
    TransportError,
)
from last100_riderpass.wire import Acknowledgement

API = "https://platform.test/riderpass/v1"
SECRET = b"riderpass-example-signing-key-32"


@pytest.fixture
def client() -> RiderPassClient:
    return RiderPassClient("https://platform.test/riderpass", "hub-sunny", SECRET, timeout=(0.5, 2.0))


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_ping_returns_the_protocol_version(client, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", json=fixture_json("ping.json"))

    assert client.ping() == "riderpass/1"


def test_verify_rider_sends_the_credential_and_gate_and_reads_the_rider(client, mocked, fixture_json) -> None:
    mocked.post(
        f"{API}/riders/verify",
        json=fixture_json("verify_rider.json"),
        match=[
            matchers.json_params_matcher(
                {
                    "credential": {"kind": "typed_code", "value": "482913"},
                    "community_id": "sunny-garden",
                    "gate_id": "north",
                }
            )
        ],
    )

    rider = client.verify_rider("typed_code", "482913", community_id="sunny-garden", gate_id="north")

    assert (rider.ref, rider.masked_name, rider.masked_phone, rider.status) == ("R1001", "王*", "138****5678", "active")
    assert rider.cache_seconds == 600


def test_active_orders_by_rider_ref(client, mocked, fixture_json) -> None:
    mocked.post(
        f"{API}/orders/active",
        json=fixture_json("active_orders.json"),
        match=[matchers.json_params_matcher({"rider": {"ref": "R1001"}, "community_id": "sunny-garden"})],
    )

    orders = client.active_orders("sunny-garden", rider_ref="R1001")

    assert [o.ref for o in orders] == ["DEMO-ORDER-1", "ORDER-7", "ORDER-9"]
    first = orders[0]
    assert first.eta == datetime(2026, 1, 5, 4, 8, tzinfo=UTC)  # +08:00 read as UTC
    assert first.updated_at == datetime(2026, 1, 5, 3, 58, 30, tzinfo=UTC)
    assert (first.building, first.address) == ("3", "3 号楼 2 单元 501")
    assert orders[1].status == "at_pickup_locker"  # kept as sent; the plugin decides what it means


def test_active_orders_by_credential_when_the_rider_is_not_known_yet(client, mocked) -> None:
    mocked.post(
        f"{API}/orders/active",
        json={"orders": []},
        match=[
            matchers.json_params_matcher(
                {"rider": {"credential": {"kind": "token", "value": "t-1"}}, "community_id": "sunny-garden"}
            )
        ],
    )

    assert client.active_orders("sunny-garden", credential=("token", "t-1")) == []


def test_active_orders_needs_exactly_one_way_to_name_the_rider(client) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        client.active_orders("sunny-garden")


def test_get_order_reads_one_order(client, mocked, fixture_json) -> None:
    mocked.get(f"{API}/orders/DEMO-ORDER-1", json=fixture_json("order_delivered.json"))

    order = client.get_order("DEMO-ORDER-1")

    assert order is not None
    assert (order.ref, order.status, order.community_id) == ("DEMO-ORDER-1", "delivered", "sunny-garden")


def test_get_order_is_none_for_an_order_the_platform_does_not_know(client, mocked, fixture_json) -> None:
    mocked.get(f"{API}/orders/NOPE", status=404, json=fixture_json("problem_order_not_found.json"))

    assert client.get_order("NOPE") is None


def test_publish_profile_puts_it_under_the_community_id(client, mocked, fixture_json) -> None:
    profile = {"version": 4, "community": {"id": "sunny-garden"}}
    mocked.put(
        f"{API}/communities/sunny-garden/profile",
        json=fixture_json("profile_receipt.json"),
        match=[matchers.json_params_matcher(profile)],
    )

    assert client.publish_profile("sunny-garden", profile) == Acknowledgement(True, "profile-sunny-garden-v4")


def test_notify_rider_posts_the_notice(client, mocked, fixture_json) -> None:
    notice = {"kind": "gate_open", "text": {"zh": "北门已开", "en": "North gate is open"}, "data": {}}
    mocked.post(
        f"{API}/riders/R1001/notices",
        status=202,
        json=fixture_json("notice_receipt.json"),
        match=[matchers.json_params_matcher(notice)],
    )

    assert client.notify_rider("R1001", notice).ref == "ntc-20260105-0001"


@pytest.mark.parametrize(
    ("status", "fixture", "error", "code"),
    [
        (401, "problem_signature_invalid.json", AuthenticationError, "signature_invalid"),
        (422, "problem_credential_expired.json", CredentialError, "credential_expired"),
        (422, "problem_credential_invalid.json", CredentialError, "credential_invalid"),
        (409, "problem_profile_version_stale.json", ConflictError, "profile_version_stale"),
        (404, "problem_rider_not_found.json", NotFoundError, "rider_not_found"),
        (503, "problem_unavailable.json", ServerError, "unavailable"),
    ],
)
def test_problem_replies_become_typed_errors_with_their_code(
    client, mocked, fixture_json, status, fixture, error, code
) -> None:
    mocked.post(f"{API}/riders/verify", status=status, json=fixture_json(fixture))

    with pytest.raises(error) as caught:
        client.verify_rider("token", "t", community_id="c", gate_id="g")

    assert (caught.value.status, caught.value.code) == (status, code)


def test_an_expired_credential_says_so(client, mocked, fixture_json) -> None:
    mocked.post(f"{API}/riders/verify", status=422, json=fixture_json("problem_credential_expired.json"))

    with pytest.raises(CredentialError) as caught:
        client.verify_rider("token", "t", community_id="c", gate_id="g")

    assert caught.value.expired


def test_an_error_page_that_is_not_a_problem_still_gets_a_code(client, mocked) -> None:
    mocked.get(f"{API}/ping", status=502, body="<html>Bad Gateway</html>", content_type="text/html")

    with pytest.raises(ServerError) as caught:
        client.ping()

    assert caught.value.code == "http_502"


def test_rate_limiting_is_a_server_error(client, mocked) -> None:
    mocked.get(f"{API}/ping", status=429, json={"code": "rate_limited"})

    with pytest.raises(ServerError):
        client.ping()


def test_an_unexpected_client_error_is_an_api_error(client, mocked) -> None:
    mocked.get(f"{API}/ping", status=418, json={"code": "teapot"})

    with pytest.raises(ApiError) as caught:
        client.ping()

    assert type(caught.value) is ApiError


def test_a_redirect_is_not_followed(client, mocked) -> None:
    # The signature covers the path: following would send a credential to another URL.
    mocked.get(f"{API}/ping", status=302, headers={"Location": "https://elsewhere.test/ping"})

    with pytest.raises(ProtocolError, match="302"):
        client.ping()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps(["a list"]),
        json.dumps({"rider": {"masked_name": "王*", "status": "active"}}),  # no ref
        json.dumps({"rider": {"ref": "R1", "status": "active"}, "cache_seconds": -5}),
        json.dumps({"rider": {"ref": "R1", "status": "active"}, "cache_seconds": True}),
        json.dumps({"rider": {"ref": 1001, "status": "active"}}),
    ],
    ids=["not json", "not an object", "no ref", "negative cache", "boolean cache", "numeric ref"],
)
def test_a_malformed_reply_is_a_protocol_error(client, mocked, body) -> None:
    mocked.post(f"{API}/riders/verify", body=body, content_type="application/json")

    with pytest.raises(ProtocolError):
        client.verify_rider("token", "t", community_id="c", gate_id="g")


@pytest.mark.parametrize(
    "order",
    [
        {"ref": "A", "status": "delivering", "rider_ref": "R1", "community_id": "c", "eta": "2026-01-05T12:08:00"},
        {"ref": "A", "status": "delivering", "rider_ref": "R1", "community_id": "c", "eta": "tomorrow"},
        {"ref": "A", "status": "delivering", "rider_ref": "R1"},
    ],
    ids=["time without offset", "not a time", "no community"],
)
def test_a_malformed_order_is_a_protocol_error(client, mocked, order) -> None:
    mocked.post(f"{API}/orders/active", json={"orders": [order]})

    with pytest.raises(ProtocolError):
        client.active_orders("c", rider_ref="R1")


def test_a_reply_larger_than_the_limit_is_refused(mocked) -> None:
    small = RiderPassClient("https://platform.test/riderpass", "hub-sunny", SECRET, max_reply_bytes=64)
    mocked.get(f"{API}/ping", json={"protocol": "riderpass/1", "padding": "x" * 100})

    with pytest.raises(ProtocolError, match=r"too large|larger"):
        small.ping()


def test_an_unreachable_platform_is_a_transport_error(client, mocked) -> None:
    mocked.get(f"{API}/ping", body=requests.ConnectionError("refused"))

    with pytest.raises(TransportError) as caught:
        client.ping()

    assert not isinstance(caught.value, RiderPassTimeout)


@pytest.mark.parametrize("exc", [requests.ConnectTimeout("slow"), requests.ReadTimeout("slow")])
def test_a_timeout_is_a_timeout(client, mocked, exc) -> None:
    mocked.get(f"{API}/ping", body=exc)

    with pytest.raises(RiderPassTimeout):
        client.ping()


def test_every_call_passes_explicit_connect_and_read_timeouts(mocked, fixture_json) -> None:
    client = RiderPassClient("https://platform.test/riderpass", "hub-sunny", SECRET, timeout=(0.4, 1.5))
    call = mocked.get(f"{API}/ping", json=fixture_json("ping.json"))

    client.ping()

    assert call.calls[0].request.req_kwargs["timeout"] == (0.4, 1.5)


def test_calls_reuse_one_kept_alive_connection() -> None:
    # A new TCP (and TLS) handshake per call would add a round trip at every gate.
    peers: set[tuple[str, int]] = set()

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            peers.add(self.client_address)
            body = b'{"protocol": "riderpass/1"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        client = RiderPassClient(f"http://127.0.0.1:{server.server_port}/riderpass", "hub-sunny", SECRET)
        answers = [client.ping() for _ in range(4)]
        client.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    assert answers == ["riderpass/1"] * 4
    assert len(peers) == 1
