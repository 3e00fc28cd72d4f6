"""The plugin through the hub's facade, with the built-in plugins around it, against
recorded device replies: mapped results and mapped errors."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
from responses import matchers

from hub.core.errors import PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.model import AccessEvent, AccessGrant, Connection, Gate, GrantRequest, PassKind, PushRequest
from last100_hikvision.plugin import HikvisionPlugin

DEVICE = "https://acs.test"
GRANT_ID = "0b6e1f2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
EMPLOYEE = "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b"
CARD = "7128676793"  # the worked example of test_cards.py
NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
PUSH_TOKEN = "hikvision-example-push-token-01"
DIGEST_CHALLENGE = 'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a", stale="FALSE"'

USER_RECORD = f"{DEVICE}/ISAPI/AccessControl/UserInfo/Record?format=json"
USER_MODIFY = f"{DEVICE}/ISAPI/AccessControl/UserInfo/Modify?format=json"
CARD_RECORD = f"{DEVICE}/ISAPI/AccessControl/CardInfo/Record?format=json"
CARD_SEARCH = f"{DEVICE}/ISAPI/AccessControl/CardInfo/Search?format=json"
DELETE = f"{DEVICE}/ISAPI/AccessControl/UserInfoDetail/Delete?format=json"
DELETE_PROCESS = f"{DEVICE}/ISAPI/AccessControl/UserInfoDetail/DeleteProcess?format=json"
ACS_EVENT = f"{DEVICE}/ISAPI/AccessControl/AcsEvent?format=json"
DEVICE_INFO = f"{DEVICE}/ISAPI/System/deviceInfo"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def basic(connection) -> Connection:
    """The connection set to Basic, so each call is one request against the mocks."""
    return with_settings(connection, auth="basic")


def with_settings(connection: Connection, timeout_s: float | None = None, **changes) -> Connection:
    return Connection(
        connection.id,
        "hikvision",
        connection.name,
        settings={**connection.settings, **changes},
        timeout_s=connection.timeout_s if timeout_s is None else timeout_s,
    )


def grant_request(grant_id: str = GRANT_ID, minutes: int = 20) -> GrantRequest:
    return GrantRequest(grant_id, "R1001", NOW, NOW + timedelta(minutes=minutes), label="rider 0b6e1f2c")


def window_of(call) -> tuple[str, str]:
    valid = json.loads(call.request.body)["UserInfo"]["Valid"]
    return valid["beginTime"], valid["endTime"]


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_names_the_model_firmware_and_scheme(hub, basic, mocked, fixture_bytes) -> None:
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    health = hub.check_connection(basic)

    assert health.ok
    assert health.message == "DS-K1T671M, firmware V3.2.30 build 220512: Basic sign-in accepted; pushes on"
    assert health.latency_ms is not None


def test_check_connection_says_when_pushes_are_off(hub, basic, mocked, fixture_bytes) -> None:
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    health = hub.check_connection(with_settings(basic, push_token=""))

    assert health.ok and "pushes off (no push_token)" in health.message


def test_check_connection_warns_of_basic_over_plain_http(hub, basic, mocked, fixture_bytes) -> None:
    mocked.get("http://10.0.0.12/ISAPI/System/deviceInfo", body=fixture_bytes("device_info.xml"))

    health = hub.check_connection(with_settings(basic, base_url="http://10.0.0.12"))

    assert health.ok and "Basic over plain http" in health.message


def test_check_connection_names_username_and_password_when_refused(hub, connection, mocked) -> None:
    mocked.get(DEVICE_INFO, status=401, headers={"WWW-Authenticate": DIGEST_CHALLENGE})

    health = hub.check_connection(connection)

    assert not health.ok
    assert "username" in health.message and "password" in health.message


def test_check_connection_names_the_auth_setting_for_a_basic_only_device(hub, connection, mocked) -> None:
    mocked.get(DEVICE_INFO, status=401, headers={"WWW-Authenticate": 'Basic realm="DS-K2604"'})

    health = hub.check_connection(with_settings(connection, auth="digest"))

    assert not health.ok
    assert health.message.startswith("auth:") and "set auth to auto" in health.message


def test_check_connection_names_verify_tls_for_a_certificate_it_cannot_check(hub, basic, mocked) -> None:
    mocked.get(DEVICE_INFO, body=requests.exceptions.SSLError("self-signed certificate"))

    health = hub.check_connection(basic)

    assert not health.ok and "verify_tls" in health.message


def test_check_connection_reports_an_unreachable_device(hub, basic, mocked) -> None:
    mocked.get(DEVICE_INFO, body=requests.ConnectionError("refused"))

    health = hub.check_connection(basic)

    assert not health.ok and "base_url cannot be reached" in health.message


def test_check_connection_reports_something_that_is_no_isapi_device(hub, basic, mocked) -> None:
    mocked.get(DEVICE_INFO, status=404, body="<html>Not Found</html>")

    health = hub.check_connection(basic)

    assert not health.ok and "did not answer as a Hikvision ISAPI device" in health.message


# -- hub_grant_access --------------------------------------------------------------------


def test_a_grant_is_a_qr_pass_whose_card_is_the_hmac_of_the_grant_id(hub, basic, gate, mocked, fixture_json) -> None:
    user = mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(
        CARD_RECORD,
        json=fixture_json("status_ok.json"),
        match=[
            matchers.json_params_matcher(
                {"CardInfo": {"employeeNo": EMPLOYEE, "cardNo": CARD, "cardType": "normalCard"}}
            )
        ],
    )

    issued = hub.grant_access(basic, gate, grant_request())

    assert issued == AccessGrant(GRANT_ID, PassKind.QR, CARD, NOW, NOW + timedelta(minutes=20), device_ref=EMPLOYEE)
    assert window_of(user.calls[0]) == ("2026-01-05T12:00:00", "2026-01-05T12:20:00")


def test_the_window_is_written_in_the_devices_timezone(hub, basic, gate, mocked, fixture_json) -> None:
    user = mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, json=fixture_json("status_ok.json"))

    hub.grant_access(with_settings(basic, timezone="Europe/Berlin"), gate, grant_request())

    assert window_of(user.calls[0]) == ("2026-01-05T05:00:00", "2026-01-05T05:20:00")


def test_the_pass_opens_the_gates_door_only(hub, basic, mocked, fixture_json) -> None:
    user = mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, json=fixture_json("status_ok.json"))
    east = Gate("east", "sunny-garden", "East gate", "sunny-east", door_no="2", access_connection_id="hik-1")

    hub.grant_access(basic, east, grant_request())

    sent = json.loads(user.calls[0].request.body)["UserInfo"]
    assert (sent["doorRight"], sent["RightPlan"]) == ("2", [{"doorNo": 2, "planTemplateNo": "1"}])
    assert sent["userType"] == "visitor" and sent["name"] == "rider 0b6e1f2c"


def test_a_retried_grant_returns_the_same_card(hub, basic, gate, mocked, fixture_json) -> None:
    mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(USER_RECORD, status=400, json=fixture_json("status_employee_exists.json"))
    mocked.put(USER_MODIFY, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, status=400, json=fixture_json("status_card_exists.json"))
    mocked.post(CARD_SEARCH, json=fixture_json("card_search.json"))

    first = hub.grant_access(basic, gate, grant_request())
    again = hub.grant_access(basic, gate, grant_request())

    assert first.value == again.value == CARD
    assert first.device_ref == again.device_ref == EMPLOYEE


def test_card_numbers_have_the_configured_length(hub, basic, gate, mocked, fixture_json) -> None:
    mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, json=fixture_json("status_ok.json"))

    issued = hub.grant_access(with_settings(basic, card_number_length=20), gate, grant_request())

    assert issued.value == "50768662705128676793"


def test_a_gate_whose_door_is_not_a_number_is_an_upstream_error(hub, basic) -> None:
    odd = Gate("odd", "sunny-garden", "Odd gate", "sunny-odd", door_no="A", access_connection_id="hik-1")

    with pytest.raises(UpstreamError, match="door_no 'A'"):
        hub.grant_access(basic, odd, grant_request())


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (
            {"status": 400, "json": {"statusCode": 6, "subStatusCode": "badParameters", "errorMsg": "endTime"}},
            "endTime",
        ),
        ({"status": 403, "json": {"statusCode": 4, "subStatusCode": "notSupport"}}, "does not support it (notSupport)"),
        ({"status": 503, "json": {"statusCode": 2, "subStatusCode": "deviceBusy"}}, "answered deviceBusy"),
        ({"status": 403, "json": {"statusCode": 4, "subStatusCode": "lowPrivilege"}}, "username setting"),
        ({"status": 401, "headers": {"WWW-Authenticate": 'Basic realm="x"'}}, "username and password settings"),
        ({"body": requests.ConnectionError("refused")}, "cannot be reached"),
    ],
    ids=["bad parameters", "not supported", "busy", "low privilege", "refused password", "unreachable"],
)
def test_device_failures_become_upstream_errors_that_say_what_to_fix(hub, basic, gate, mocked, reply, words) -> None:
    mocked.post(USER_RECORD, **reply)

    with pytest.raises(UpstreamError, match="North gate controller could not issue a pass") as caught:
        hub.grant_access(basic, gate, grant_request())

    assert words in str(caught.value)
    assert not isinstance(caught.value, UpstreamTimeout)


def test_a_device_that_does_not_answer_in_time_is_an_upstream_timeout(hub, basic, gate, mocked) -> None:
    mocked.post(USER_RECORD, body=requests.ReadTimeout("slow"))

    with pytest.raises(UpstreamTimeout):
        hub.grant_access(basic, gate, grant_request())


@pytest.mark.parametrize(
    "reply",
    [{"json": {"UserInfo": {"employeeNo": EMPLOYEE}}}, {"body": "<html>Welcome</html>"}, {"body": ""}],
    ids=["other json", "html", "empty"],
)
def test_a_reply_that_is_not_a_response_status_is_not_taken_for_an_issued_pass(hub, basic, gate, mocked, reply):
    # A proxy's page, or firmware answering something else, must not pass for "done".
    mocked.post(USER_RECORD, **reply)

    with pytest.raises(UpstreamError, match="not an ISAPI ResponseStatus saying OK"):
        hub.grant_access(basic, gate, grant_request())


def test_a_card_registered_to_someone_else_is_an_upstream_error(hub, basic, gate, mocked, fixture_json) -> None:
    mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, status=400, json=fixture_json("status_card_exists.json"))
    mocked.post(CARD_SEARCH, json=fixture_json("card_search_none.json"))

    with pytest.raises(UpstreamError, match="registered to another user"):
        hub.grant_access(basic, gate, grant_request())


# -- hub_revoke_access -------------------------------------------------------------------


def issued_pass(device_ref: str = EMPLOYEE) -> AccessGrant:
    return AccessGrant(GRANT_ID, PassKind.QR, CARD, NOW, NOW + timedelta(minutes=20), device_ref=device_ref)


def test_revoking_deletes_the_user_and_waits_for_the_device(hub, basic, gate, mocked, fixture_json) -> None:
    mocked.put(
        DELETE,
        json=fixture_json("status_ok.json"),
        match=[
            matchers.json_params_matcher(
                {"UserInfoDetail": {"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo": EMPLOYEE}]}}
            )
        ],
    )
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_processing.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_success.json"))

    assert hub.revoke_access(basic, gate, issued_pass()) is True


def test_revoking_a_pass_without_a_device_ref_derives_it_from_the_grant_id(hub, basic, gate, mocked, fixture_json):
    mocked.put(
        DELETE,
        json=fixture_json("status_ok.json"),
        match=[
            matchers.json_params_matcher(
                {"UserInfoDetail": {"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo": EMPLOYEE}]}}
            )
        ],
    )
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_success.json"))

    assert hub.revoke_access(basic, gate, issued_pass(device_ref="")) is True


def test_revoking_a_pass_the_device_does_not_know_is_not_an_error(hub, basic, gate, mocked) -> None:
    mocked.put(DELETE, status=400, json={"statusCode": 6, "subStatusCode": "employeeNoNotExist"})

    assert hub.revoke_access(basic, gate, issued_pass()) is True


def test_a_failed_deletion_is_an_upstream_error_for_the_outbox_to_retry(hub, basic, gate, mocked, fixture_json):
    mocked.put(DELETE, json=fixture_json("status_ok.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_failed.json"))

    with pytest.raises(UpstreamError, match="could not revoke a pass"):
        hub.revoke_access(basic, gate, issued_pass())


# -- hub_open_door -----------------------------------------------------------------------


def test_opening_the_gate_opens_its_door(hub, basic, mocked, fixture_bytes) -> None:
    call = mocked.put(f"{DEVICE}/ISAPI/AccessControl/RemoteControl/door/2", body=fixture_bytes("status_ok.xml"))
    east = Gate("east", "sunny-garden", "East gate", "sunny-east", door_no="2", access_connection_id="hik-1")

    assert hub.open_door(basic, east, "courier with a parcel too big for the turnstile") is True
    assert b"<cmd>open</cmd>" in call.calls[0].request.body


def test_a_door_open_answered_with_something_else_than_a_response_status_is_an_upstream_error(
    hub, basic, gate, mocked
) -> None:
    mocked.put(f"{DEVICE}/ISAPI/AccessControl/RemoteControl/door/1", body="<html>Welcome</html>")

    with pytest.raises(UpstreamError, match="not an ISAPI ResponseStatus saying OK"):
        hub.open_door(basic, gate, "guard")


def test_an_account_that_may_not_open_doors_is_named(hub, basic, gate, mocked, fixture_bytes) -> None:
    mocked.put(
        f"{DEVICE}/ISAPI/AccessControl/RemoteControl/door/1", status=403, body=fixture_bytes("status_low_privilege.xml")
    )

    with pytest.raises(UpstreamError, match="username setting"):
        hub.open_door(basic, gate, "guard")


# -- hub_access_events -------------------------------------------------------------------


def test_door_events_are_the_passes_at_the_gates_door(hub, basic, gate, mocked, fixture_json) -> None:
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page1.json"))
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page2.json"))

    events = hub.access_events(basic, gate, NOW - timedelta(minutes=1))

    # 102 was a refused card, 103 a pass at door 2.
    assert events == [
        AccessEvent("101", NOW, "in", CARD, "1", "north"),
        AccessEvent("104", datetime(2026, 1, 5, 4, 7, 30, tzinfo=UTC), "out", CARD, "1", "north"),
    ]


def test_door_events_of_another_door_are_another_gates(hub, basic, mocked, fixture_json) -> None:
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page1.json"))
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page2.json"))
    east = Gate("east", "sunny-garden", "East gate", "sunny-east", door_no="2", access_connection_id="hik-1")

    events = hub.access_events(basic, east, NOW - timedelta(minutes=1))

    assert [(e.event_id, e.gate_id, e.credential_value) for e in events] == [("103", "east", "7060263451")]


# -- hub_parse_push ----------------------------------------------------------------------


def push(body: bytes, content_type: str = "application/json", token: str | None = PUSH_TOKEN) -> PushRequest:
    return PushRequest(
        "POST",
        "https://hub.test/api/v1/push/hik-1",
        {"Content-Type": content_type},
        body,
        received_at=NOW,
        query={} if token is None else {"token": token},
    )


def test_a_pushed_pass_becomes_a_door_event(hub, connection, fixture_bytes) -> None:
    request = push(fixture_bytes("push_multipart.bin"), "multipart/form-data; boundary=MIME_boundary")

    [event] = hub.parse_push(connection, request)

    assert (event.event_id, event.occurred_at) == ("4435", NOW)
    assert event.access_event == AccessEvent("4435", NOW, "in", CARD, "1", "")
    assert (event.order, event.rider_status) == (None, None)


@pytest.mark.parametrize("fixture", ["push_denied.json", "push_heartbeat.json"])
def test_refused_swipes_and_heartbeats_are_accepted_without_events(hub, connection, fixture_bytes, fixture) -> None:
    assert hub.parse_push(connection, push(fixture_bytes(fixture))) == []


@pytest.mark.parametrize("token", [None, "", "hikvision-example-push-token-02"], ids=["none", "empty", "wrong"])
def test_a_push_without_the_token_is_rejected_with_401(hub, connection, fixture_bytes, token) -> None:
    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, push(fixture_bytes("push_event.json"), token=token))

    assert caught.value.status == 401


def test_a_connection_without_a_push_token_accepts_no_push(hub, connection, fixture_bytes) -> None:
    with pytest.raises(PushRejected, match="no push_token") as caught:
        hub.parse_push(with_settings(connection, push_token=""), push(fixture_bytes("push_event.json"), token=""))

    assert caught.value.status == 401


def test_a_malformed_push_with_the_token_is_rejected_with_400(hub, connection) -> None:
    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, push(b'{"eventType": "AccessControllerEvent"}'))

    assert caught.value.status == 400


# -- sessions and settings ---------------------------------------------------------------


@pytest.fixture
def sessions() -> list[requests.Session]:
    """Every session the plugin of ``counting_hub`` created."""
    return []


@pytest.fixture
def counting_hub(make_hub, clock, sessions):
    def session_factory() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    return make_hub(clock, HikvisionPlugin(clock=clock, session_factory=session_factory))


def test_one_session_per_connection_rebuilt_when_its_settings_change(
    counting_hub, sessions, basic, mocked, fixture_bytes
) -> None:
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))
    other = Connection("hik-2", "hikvision", "Other", settings=basic.settings)
    repassworded = with_settings(basic, password="new-password")

    for _ in range(3):
        counting_hub.check_connection(basic)
    counting_hub.check_connection(other)
    counting_hub.check_connection(repassworded)

    assert len(sessions) == 3
    assert len(mocked.calls) == 5


def test_concurrent_first_calls_on_a_connection_share_one_session(
    counting_hub, sessions, basic, mocked, fixture_bytes
) -> None:
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))
    start = threading.Barrier(8)

    def check() -> bool:
        start.wait(timeout=5)
        return counting_hub.check_connection(basic).ok

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: check(), range(8)))

    assert results == [True] * 8
    assert len(sessions) == 1


def test_timeouts_are_the_connect_limit_capped_by_the_connections_timeout(hub, basic, mocked, fixture_bytes) -> None:
    call = mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    hub.check_connection(with_settings(basic, timeout_s=5.0))
    hub.check_connection(with_settings(basic, timeout_s=1.5))

    (connect_a, read_a), (connect_b, read_b) = (c.request.req_kwargs["timeout"] for c in call.calls)
    assert connect_a == 2.0 and 4.9 < read_a <= 5.0
    assert 1.4 < connect_b <= 1.5 and 1.4 < read_b <= 1.5  # what is left of the 1.5 s


def test_invalid_settings_are_a_settings_error_naming_them(hub, connection, gate) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.grant_access(with_settings(connection, card_number_length=4, auth="ntlm"), gate, grant_request())

    assert set(caught.value.errors) == {"card_number_length", "auth"}
