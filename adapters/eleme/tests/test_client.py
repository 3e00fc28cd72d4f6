"""The pure client against recorded Ele.me replies (``responses``; every expected call
must be made)."""

from __future__ import annotations

import json

import pytest
import requests

from last100_eleme.client import (
    ElemeAuthError,
    ElemeClient,
    ElemeError,
    ElemeProtocolError,
    ElemeTimeout,
    ElemeTransportError,
)

REQUEST_ID = "6f1c2b9e-3d4a-4c5b-9e8f-0a1b2c3d4e5f"


@pytest.fixture
def client(base_url):
    return ElemeClient(
        base_url,
        "key-1",
        "sec-1",
        "tok-1",
        timeout=(0.5, 2.0),
        clock=lambda: 1767585600.9,
        new_id=lambda: REQUEST_ID,
    )


def test_a_call_posts_a_signed_nop_envelope_and_returns_the_result(client, eleme_api, fixture):
    eleme_api.expect("eleme.user.getUser", "reply_get_user.json")

    user = client.get_user()

    assert user == fixture("reply_get_user.json")["result"]
    (sent,) = eleme_api.sent
    assert sent == {
        "nop": "1.0.0",
        "id": REQUEST_ID,
        "action": "eleme.user.getUser",
        "token": "tok-1",
        "metas": {"app_key": "key-1", "timestamp": 1767585600},
        "params": {},
        # Worked example: MD5 of 'eleme.user.getUsertok-1app_key="key-1"timestamp=1767585600sec-1'
        "signature": "13DA76D6EAC7A5C023BEF454380394B5",
    }


def test_the_body_is_utf8_json_and_every_call_has_explicit_connect_and_read_timeouts(client, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_none.json")

    client.get_order("8076190120874666666")

    (call,) = eleme_api.mock.calls
    assert call.request.req_kwargs["timeout"] == (0.5, 2.0)
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(call.request.body.decode("utf-8"))["params"] == {"orderId": "8076190120874666666"}


def test_an_unknown_order_is_none(client, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_none.json")

    assert client.get_order("nope") is None


@pytest.mark.parametrize(
    ("fixture_name", "error", "code"),
    [
        ("reply_error_invalid_signature.json", ElemeAuthError, "INVALID_SIGNATURE"),
        ("reply_error_unauthorized.json", ElemeAuthError, "UNAUTHORIZED"),
        ("reply_error_method_not_allowed.json", ElemeAuthError, "METHOD_NOT_ALLOWED"),
        ("reply_error_server_error.json", ElemeError, "SERVER_ERROR"),
        ("reply_error_validation_failed.json", ElemeError, "VALIDATION_FAILED"),
        ("reply_error_invalid_timestamp.json", ElemeError, "INVALID_TIMESTAMP"),
    ],
)
def test_an_error_reply_raises_a_typed_error_with_the_platforms_code_and_message(
    client, eleme_api, fixture, fixture_name, error, code
):
    eleme_api.expect("eleme.user.getUser", fixture_name)

    with pytest.raises(error) as caught:
        client.get_user()

    assert caught.value.code == code
    assert caught.value.message == fixture(fixture_name)["error"]["message"]
    assert isinstance(caught.value, ElemeAuthError) == (error is ElemeAuthError)


def test_a_reply_to_another_request_is_a_protocol_error(client, eleme_api):
    eleme_api.expect_raw(json.dumps({"id": "someone-else", "result": {}, "error": None}))

    with pytest.raises(ElemeProtocolError, match="another request"):
        client.get_user()


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b'{"hello": "world"}', b"[1, 2]"])
def test_a_reply_that_is_not_a_nop_reply_is_a_protocol_error(client, eleme_api, body):
    eleme_api.expect_raw(body)

    with pytest.raises(ElemeProtocolError):
        client.get_user()


def test_a_server_error_status_is_a_transport_error(client, eleme_api):
    eleme_api.expect_raw(b"upstream unavailable", status=503)

    with pytest.raises(ElemeTransportError, match="HTTP 503"):
        client.get_user()


def test_a_refused_connection_is_a_transport_error(client, eleme_api):
    eleme_api.expect_failure(requests.ConnectionError("connection refused"))

    with pytest.raises(ElemeTransportError) as caught:
        client.get_user()

    assert not isinstance(caught.value, ElemeTimeout)


def test_a_read_timeout_is_an_eleme_timeout(client, eleme_api):
    eleme_api.expect_failure(requests.ReadTimeout("read timed out"))

    with pytest.raises(ElemeTimeout):
        client.get_user()


def test_params_may_not_shadow_the_metas():
    client = ElemeClient("https://open-api.test.ele.me", "k", "s", "t")

    with pytest.raises(ValueError, match="timestamp"):
        client.envelope("eleme.order.getOrder", {"timestamp": 1})


def test_the_client_never_shows_its_secret_or_token():
    client = ElemeClient("https://open-api.test.ele.me", "key-1", "very-secret", "very-token")

    assert "very-secret" not in repr(client)
    assert "very-token" not in repr(client)


def test_a_session_passed_in_is_the_one_used(base_url, eleme_api):
    session = requests.Session()
    session.headers["X-Probe"] = "passed-in session"
    client = ElemeClient(base_url, "key-1", "sec-1", "tok-1", session=session)
    eleme_api.expect("eleme.user.getUser", "reply_get_user.json")

    client.get_user()

    assert eleme_api.mock.calls[0].request.headers["X-Probe"] == "passed-in session"
