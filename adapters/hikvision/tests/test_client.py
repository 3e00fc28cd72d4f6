"""The ISAPI client against recorded device replies (``responses``): the requests it
sends, how it reads the replies, and its typed errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from responses import matchers

from last100_hikvision.auth import DeviceAuth
from last100_hikvision.client import IsapiClient
from last100_hikvision.errors import (
    AuthenticationError,
    AuthSchemeError,
    BadParametersError,
    CardConflictError,
    DeletionFailedError,
    DeviceBusyError,
    EmployeeNoExistsError,
    HikvisionTimeout,
    InvalidOperationError,
    LowPrivilegeError,
    NotSupportedError,
    ProtocolError,
    TLSError,
    TransportError,
)

DEVICE = "https://acs.test"
NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
EMPLOYEE = "0b6e1f2c3d4e4f508a6b7c8d9e0f1a2b"
CARD = "7128676793"
BASIC = "Basic YWRtaW46aGlrLWV4YW1wbGUtcGFzcw=="  # base64("admin:hik-example-pass"), by base64(1)
DIGEST_CHALLENGE = 'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d", stale="FALSE"'  # noqa: E501
BASIC_REALM = 'Basic realm="DS-K1T671M"'
HTML_401 = "<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head></html>"

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
def sleeps() -> list[float]:
    return []


def make_client(mode: str = "basic", sleeps: list[float] | None = None, **options) -> IsapiClient:
    return IsapiClient(
        DEVICE,
        DeviceAuth("admin", "hik-example-pass", mode),  # type: ignore[arg-type]
        timeout=(1.0, 2.0),
        zone=ZoneInfo("Asia/Shanghai"),
        now=lambda: NOW,
        sleep=(sleeps if sleeps is not None else []).append,
        **options,
    )


@pytest.fixture
def client(sleeps) -> IsapiClient:
    """A client set to Basic, so each call is one request (Digest has its own tests)."""
    return make_client(sleeps=sleeps)


def issue(client: IsapiClient) -> str:
    return client.issue_pass(
        EMPLOYEE,
        CARD,
        name="rider 0b6e1f2c",
        door_no=1,
        valid_from=NOW,
        valid_until=NOW + timedelta(minutes=20),
    )


USER_BODY = {
    "UserInfo": {
        "employeeNo": EMPLOYEE,
        "name": "rider 0b6e1f2c",
        "userType": "visitor",
        "Valid": {
            "enable": True,
            "beginTime": "2026-01-05T12:00:00",
            "endTime": "2026-01-05T12:20:00",
            "timeType": "local",
        },
        "doorRight": "1",
        "RightPlan": [{"doorNo": 1, "planTemplateNo": "1"}],
        "localUIRight": False,
    }
}
CARD_BODY = {"CardInfo": {"employeeNo": EMPLOYEE, "cardNo": CARD, "cardType": "normalCard"}}


# -- issuing a pass ------------------------------------------------------------------------


def test_a_pass_is_a_visitor_for_the_door_and_window_in_device_time_with_one_card(client, mocked, fixture_json):
    user = mocked.post(
        USER_RECORD, json=fixture_json("status_ok.json"), match=[matchers.json_params_matcher(USER_BODY)]
    )
    card = mocked.post(
        CARD_RECORD, json=fixture_json("status_ok.json"), match=[matchers.json_params_matcher(CARD_BODY)]
    )

    assert issue(client) == CARD
    assert user.calls[0].request.headers["Authorization"] == BASIC
    assert user.calls[0].request.headers["Content-Type"] == "application/json"
    assert card.call_count == 1


@pytest.mark.parametrize("exists", ["status_employee_exists.json", "status_device_user_exists.json"])
def test_a_user_that_exists_already_is_modified_to_the_new_window(client, mocked, fixture_json, exists):
    mocked.post(USER_RECORD, status=400, json=fixture_json(exists))
    modify = mocked.put(
        USER_MODIFY, json=fixture_json("status_ok.json"), match=[matchers.json_params_matcher(USER_BODY)]
    )
    mocked.post(CARD_RECORD, json=fixture_json("status_ok.json"))

    assert issue(client) == CARD
    assert modify.call_count == 1


def test_a_card_the_user_already_holds_is_kept(client, mocked, fixture_json):
    mocked.post(USER_RECORD, status=400, json=fixture_json("status_employee_exists.json"))
    mocked.put(USER_MODIFY, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, status=400, json=fixture_json("status_card_exists.json"))
    search = mocked.post(CARD_SEARCH, json=fixture_json("card_search.json"))

    assert issue(client) == CARD
    sent = json.loads(search.calls[0].request.body)["CardInfoSearchCond"]
    assert sent["EmployeeNoList"] == [{"employeeNo": EMPLOYEE}]
    assert (sent["searchResultPosition"], sent["maxResults"]) == (0, 30)


def test_a_card_number_registered_to_another_user_is_a_conflict(client, mocked, fixture_json):
    mocked.post(USER_RECORD, json=fixture_json("status_ok.json"))
    mocked.post(CARD_RECORD, status=400, json=fixture_json("status_card_exists.json"))
    mocked.post(CARD_SEARCH, json=fixture_json("card_search_none.json"))

    with pytest.raises(CardConflictError):
        issue(client)


# -- deleting a user ----------------------------------------------------------------------


def test_deleting_a_user_polls_the_progress_until_success(client, mocked, fixture_json, sleeps):
    delete = mocked.put(
        DELETE,
        json=fixture_json("status_ok.json"),
        match=[
            matchers.json_params_matcher(
                {"UserInfoDetail": {"mode": "byEmployeeNo", "EmployeeNoList": [{"employeeNo": EMPLOYEE}]}}
            )
        ],
    )
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_processing.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_processing.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_success.json"))

    client.delete_user(EMPLOYEE, wait_s=2.0)

    assert delete.call_count == 1
    assert len([c for c in mocked.calls if c.request.url == DELETE_PROCESS]) == 3
    assert sleeps == [0.05, 0.1]


def test_a_failed_deletion_is_reported(client, mocked, fixture_json):
    mocked.put(DELETE, json=fixture_json("status_ok.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_failed.json"))

    with pytest.raises(DeletionFailedError):
        client.delete_user(EMPLOYEE, wait_s=2.0)


def test_a_deletion_still_processing_at_the_end_of_the_wait_is_a_timeout(client, mocked, fixture_json):
    mocked.put(DELETE, json=fixture_json("status_ok.json"))
    mocked.get(DELETE_PROCESS, json=fixture_json("delete_processing.json"))

    with pytest.raises(HikvisionTimeout, match="still processing"):
        client.delete_user(EMPLOYEE, wait_s=0.0)


def test_deleting_a_user_the_device_does_not_know_succeeds(client, mocked):
    mocked.put(
        DELETE,
        status=400,
        json={"statusCode": 6, "statusString": "Invalid Content", "subStatusCode": "employeeNoNotExist"},
    )

    client.delete_user(EMPLOYEE, wait_s=2.0)


# -- opening a door -----------------------------------------------------------------------


def test_a_door_is_opened_with_the_remote_control_command(client, mocked, fixture_bytes):
    call = mocked.put(f"{DEVICE}/ISAPI/AccessControl/RemoteControl/door/2", body=fixture_bytes("status_ok.xml"))

    client.open_door(2)

    sent = call.calls[0].request
    assert sent.body == (
        b'<RemoteControlDoor version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><cmd>open</cmd></RemoteControlDoor>'
    )
    assert sent.headers["Content-Type"].startswith("application/xml")


def test_an_account_that_may_not_open_doors_is_told_apart(client, mocked, fixture_bytes):
    mocked.put(
        f"{DEVICE}/ISAPI/AccessControl/RemoteControl/door/1", status=403, body=fixture_bytes("status_low_privilege.xml")
    )

    with pytest.raises(LowPrivilegeError):
        client.open_door(1)


# -- the event log ------------------------------------------------------------------------


def test_events_are_read_page_by_page_oldest_first(client, mocked, fixture_json):
    first = mocked.post(ACS_EVENT, json=fixture_json("acs_event_page1.json"))
    second = mocked.post(ACS_EVENT, json=fixture_json("acs_event_page2.json"))

    events = client.events(NOW - timedelta(minutes=1))

    asked = [json.loads(c.request.body)["AcsEventCond"] for c in (*first.calls, *second.calls)]
    assert [a["searchResultPosition"] for a in asked] == [0, 2]
    assert asked[0]["searchID"] == asked[1]["searchID"]
    assert asked[0] | {"searchID": "-"} == {
        "searchID": "-",
        "searchResultPosition": 0,
        "maxResults": 30,
        "major": 5,
        "minor": 0,
        "startTime": "2026-01-05T11:59:00+08:00",
        "endTime": "2026-01-06T12:00:00+08:00",
        "timeReverseOrder": False,
    }
    assert [e.serial_no for e in events] == [101, 102, 103, 104]


def test_events_at_or_before_since_are_left_out(client, mocked, fixture_json):
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page1.json"))
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_page2.json"))

    events = client.events(NOW)  # event 101 happened at exactly NOW

    assert [e.serial_no for e in events] == [102, 103, 104]


def test_no_events_is_an_empty_list(client, mocked, fixture_json):
    mocked.post(ACS_EVENT, json=fixture_json("acs_event_no_match.json"))

    assert client.events(NOW) == []


def test_a_device_that_says_more_but_sends_nothing_is_not_asked_forever(client, mocked):
    mocked.post(ACS_EVENT, json={"AcsEvent": {"searchID": "1", "responseStatusStrg": "MORE", "numOfMatches": 0}})

    with pytest.raises(ProtocolError, match="MORE"):
        client.events(NOW)


# -- ISAPI errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "status", "error"),
    [
        ("status_bad_parameters.json", 400, BadParametersError),
        ("status_employee_exists.json", 400, EmployeeNoExistsError),
        ("status_not_support.json", 403, NotSupportedError),
        ("status_invalid_operation.json", 403, InvalidOperationError),
        ("status_device_busy.json", 503, DeviceBusyError),
        ("status_low_privilege.xml", 403, LowPrivilegeError),
    ],
)
def test_response_status_errors_become_typed_errors(client, mocked, fixture_bytes, fixture, status, error):
    mocked.post(ACS_EVENT, status=status, body=fixture_bytes(fixture))

    with pytest.raises(error) as caught:
        client.events(NOW)

    assert caught.value.http_status == status
    assert caught.value.sub_status in fixture_bytes(fixture).decode()


def test_the_offending_field_is_kept_in_the_error(client, mocked, fixture_json):
    mocked.post(USER_RECORD, status=400, json=fixture_json("status_bad_parameters.json"))

    with pytest.raises(BadParametersError, match=r"badParameters \(endTime\)"):
        issue(client)


def test_an_error_status_in_a_200_reply_is_an_error(client, mocked, fixture_json):
    mocked.post(USER_RECORD, status=200, json=fixture_json("status_bad_parameters.json"))

    with pytest.raises(BadParametersError):
        issue(client)


def test_an_unknown_sub_status_is_named_by_its_status_code(client, mocked):
    mocked.post(USER_RECORD, status=400, json={"statusCode": 6, "subStatusCode": "userNumExceed"})

    with pytest.raises(BadParametersError, match="userNumExceed"):
        issue(client)


def test_an_error_page_without_a_response_status_is_a_protocol_error(client, mocked):
    mocked.get(DEVICE_INFO, status=404, body="<html><body>Not Found</body></html>")

    with pytest.raises(ProtocolError, match="HTTP 404"):
        client.device_info()


def test_a_reply_that_is_not_json_is_a_protocol_error(client, mocked):
    mocked.post(ACS_EVENT, body="<html>ok</html>")

    with pytest.raises(ProtocolError, match="not JSON"):
        client.events(NOW)


def test_a_redirect_is_not_followed(client, mocked):
    mocked.get(DEVICE_INFO, status=302, headers={"Location": "https://elsewhere.test/ISAPI/System/deviceInfo"})

    with pytest.raises(ProtocolError, match="HTTP 302"):
        client.device_info()


def test_a_reply_larger_than_the_limit_is_refused(mocked):
    mocked.get(DEVICE_INFO, body=b"<DeviceInfo>" + b" " * 2048 + b"</DeviceInfo>")

    with pytest.raises(ProtocolError, match="larger than"):
        make_client(max_reply_bytes=1024).device_info()


# -- authentication -----------------------------------------------------------------------


def test_digest_answers_the_devices_challenge(mocked, fixture_bytes):
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": DIGEST_CHALLENGE})
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    assert make_client("auto").device_info().model == "DS-K1T671M"

    answer = mocked.calls[1].request.headers["Authorization"]
    fields = dict(part.strip().split("=", 1) for part in answer.removeprefix("Digest ").split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    assert (fields["username"], fields["realm"], fields["uri"], fields["qop"], fields["nc"]) == (
        "admin",
        "IP Camera(C2183)",
        "/ISAPI/System/deviceInfo",
        "auth",
        "00000001",
    )
    ha1 = "526598cc8296be8d473d9669b09af726"  # md5("admin:IP Camera(C2183):hik-example-pass"), by md5sum
    ha2 = hashlib.md5(b"GET:/ISAPI/System/deviceInfo").hexdigest()
    nonce = "4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d"
    expected = hashlib.md5(f"{ha1}:{nonce}:00000001:{fields['cnonce']}:auth:{ha2}".encode()).hexdigest()
    assert fields["response"] == expected


def test_auto_falls_back_to_basic_when_the_device_offers_only_basic(mocked, fixture_bytes):
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": 'Basic realm="DS-K2604"'})
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))
    mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))
    client = make_client("auto")

    client.device_info()
    client.device_info()

    assert [c.request.headers.get("Authorization") for c in mocked.calls] == [None, BASIC, BASIC]
    assert client.auth.scheme == "basic"


def test_digest_mode_against_a_basic_only_device_says_so(mocked):
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": 'Basic realm="DS-K2604"'})

    with pytest.raises(AuthSchemeError, match="basic"):
        make_client("digest").device_info()


def test_a_wrong_password_is_an_authentication_error(mocked):
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": DIGEST_CHALLENGE})

    with pytest.raises(AuthenticationError, match="user name or password") as caught:
        make_client("auto").device_info()

    assert not isinstance(caught.value, AuthSchemeError)
    assert len(mocked.calls) == 2  # the challenge, and the refused answer to it


def test_a_device_that_refuses_both_schemes_is_not_asked_forever(mocked):
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": BASIC_REALM})
    mocked.get(DEVICE_INFO, status=401, body=HTML_401, headers={"WWW-Authenticate": DIGEST_CHALLENGE})

    with pytest.raises(AuthenticationError, match="refused both Digest and Basic"):
        make_client("auto").device_info()

    assert len(mocked.calls) == 2


def test_a_locked_account_says_for_how_long(client, mocked, fixture_bytes):
    mocked.get(
        DEVICE_INFO, status=401, body=fixture_bytes("status_locked.xml"), headers={"WWW-Authenticate": BASIC_REALM}
    )

    with pytest.raises(AuthenticationError, match="locked the account for 1800 s"):
        client.device_info()


# -- the network --------------------------------------------------------------------------


def test_every_call_passes_explicit_connect_and_read_timeouts(client, mocked, fixture_bytes):
    call = mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    client.device_info()

    connect, read = call.calls[0].request.req_kwargs["timeout"]
    assert connect == 1.0 and 1.9 < read <= 2.0


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (requests.ConnectTimeout("slow"), HikvisionTimeout),
        (requests.ReadTimeout("slow"), HikvisionTimeout),
        (requests.exceptions.SSLError("self-signed"), TLSError),
        (requests.ConnectionError("refused"), TransportError),
    ],
)
def test_network_failures_become_typed_errors(client, mocked, raised, error):
    mocked.get(DEVICE_INFO, body=raised)

    with pytest.raises(error):
        client.device_info()


def test_tls_verification_follows_the_setting(mocked, fixture_bytes):
    call = mocked.get(DEVICE_INFO, body=fixture_bytes("device_info.xml"))

    make_client(verify_tls=False).device_info()

    assert call.calls[0].request.req_kwargs["verify"] is False
