"""The plugin through the hub's facade, with the built-in plugins around it, against
recorded platform replies: mapped results and mapped errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time

import pytest
import requests
import responses
from responses import matchers

from hub.core.errors import CredentialRejected, PushRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.model import (
    Building,
    CommunityPolicy,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Notice,
    OrderStatus,
    PushRequest,
    RiderClaim,
    RiderStatus,
    Zone,
)
from last100_riderpass.plugin import RiderPassPlugin

API = "https://platform.test/riderpass/v1"
PUSH_SECRET = b"riderpass-example-webhook-key-32"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def token(value: str = "demo-rider-1") -> Credential:
    return Credential(CredentialKind.TOKEN, value)


# -- hub_check_connection ----------------------------------------------------------------


def test_check_connection_reports_a_healthy_platform(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/ping", json=fixture_json("ping.json"))

    health = hub.check_connection(connection)

    assert health.ok
    assert "riderpass/1" in health.message and "entry codes on" in health.message
    assert health.latency_ms is not None


def test_check_connection_names_the_settings_a_refused_signature_points_to(
    hub, connection, mocked, fixture_json
) -> None:
    mocked.get(f"{API}/ping", status=401, json=fixture_json("problem_signature_invalid.json"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "key_id" in health.message and "signing_secret" in health.message


def test_check_connection_reports_a_url_that_does_not_speak_riderpass(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", status=404, body="Not Found")

    health = hub.check_connection(connection)

    assert not health.ok and "does not serve RiderPass" in health.message


def test_check_connection_reports_another_protocol_version(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", json={"protocol": "riderpass/2"})

    health = hub.check_connection(connection)

    assert not health.ok and "riderpass/2" in health.message


def test_check_connection_reports_an_unreachable_platform(hub, connection, mocked) -> None:
    mocked.get(f"{API}/ping", body=requests.ConnectionError("refused"))

    health = hub.check_connection(connection)

    assert not health.ok and "cannot be reached" in health.message


# -- hub_verify_rider with a platform token ----------------------------------------------


def test_verify_rider_maps_the_platform_rider(hub, connection, gate, mocked, fixture_json) -> None:
    mocked.post(
        f"{API}/riders/verify",
        json=fixture_json("verify_rider.json"),
        match=[
            matchers.json_params_matcher({"credential": {"kind": "token", "value": "demo-rider-1"}}, strict_match=False)
        ],
    )

    rider = hub.verify_rider(connection, token(), gate)

    assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == ("R1001", "王*", "138****5678")
    assert rider.status is RiderStatus.ACTIVE
    assert rider.cache_seconds == 300  # the platform allowed 600; max_cache_seconds caps it
    assert rider.single_use_id == ""


def test_verify_rider_sends_the_typed_code_kind(hub, connection, gate, mocked, fixture_json) -> None:
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

    assert hub.verify_rider(connection, Credential(CredentialKind.TYPED_CODE, "482913"), gate).platform_ref == "R1001"


def test_a_suspended_rider_is_reported_not_rejected(hub, connection, gate, mocked, fixture_json) -> None:
    mocked.post(f"{API}/riders/verify", json=fixture_json("verify_rider_suspended.json"))

    rider = hub.verify_rider(connection, token("demo-rider-3"), gate)

    assert rider.status is RiderStatus.SUSPENDED


def test_an_unmasked_name_or_phone_is_masked_before_the_hub_keeps_it(hub, connection, gate, mocked) -> None:
    mocked.post(
        f"{API}/riders/verify",
        json={"rider": {"ref": "R7", "masked_name": "王小明", "masked_phone": "13812345678", "status": "active"}},
    )

    rider = hub.verify_rider(connection, token(), gate)

    assert (rider.masked_name, rider.masked_phone) == ("王**", "138****5678")


def test_an_unknown_rider_status_is_unknown(hub, connection, gate, mocked) -> None:
    mocked.post(f"{API}/riders/verify", json={"rider": {"ref": "R7", "status": "on_probation"}})

    assert hub.verify_rider(connection, token(), gate).status is RiderStatus.UNKNOWN


@pytest.mark.parametrize(
    ("fixture", "words"),
    [
        ("problem_credential_expired.json", ("已过期", "expired")),
        ("problem_credential_invalid.json", ("未能验证", "could not verify")),
    ],
)
def test_a_rejected_credential_is_rejected_with_words_for_the_rider(
    hub, connection, gate, mocked, fixture_json, fixture, words
) -> None:
    mocked.post(f"{API}/riders/verify", status=422, json=fixture_json(fixture))

    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(connection, token(), gate)

    assert words[0] in caught.value.reason_zh
    assert words[1] in caught.value.reason_en


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"status": 503, "json": {"code": "unavailable"}}, UpstreamError),
        ({"status": 401, "json": {"code": "signature_invalid"}}, UpstreamError),
        ({"body": "<html>oops</html>"}, UpstreamError),
        ({"body": requests.ConnectionError("refused")}, UpstreamError),
        ({"body": requests.ReadTimeout("slow")}, UpstreamTimeout),
    ],
    ids=["5xx", "signature refused", "malformed", "unreachable", "timeout"],
)
def test_platform_failures_become_upstream_errors(hub, connection, gate, mocked, reply, error) -> None:
    mocked.post(f"{API}/riders/verify", **reply)

    with pytest.raises(error) as caught:
        hub.verify_rider(connection, token(), gate)

    assert type(caught.value) is error
    assert "demo-rider-1" not in str(caught.value)


def test_invalid_settings_are_a_settings_error_naming_them(hub, connection, gate) -> None:
    broken = Connection(
        connection.id, "riderpass", connection.name, settings={**connection.settings, "signing_secret": "c2hvcnQ="}
    )

    with pytest.raises(SettingsError) as caught:
        hub.verify_rider(broken, token(), gate)

    assert set(caught.value.errors) == {"signing_secret"}
    assert "c2hvcnQ=" not in str(caught.value.errors)


# -- hub_verify_rider with an entry code: local, no network ------------------------------


def test_an_entry_code_is_verified_locally_into_a_single_use_identity(hub, connection, gate, fixture_json) -> None:
    # No mocked call: responses is not active, and the platform host does not exist.
    code = fixture_json("entry_code_example.json")["code"]

    rider = hub.verify_rider(connection, Credential(CredentialKind.ENTRY_CODE, code), gate)

    assert rider.platform_ref == "R1001"
    assert rider.order_refs == ("DEMO-ORDER-1",)
    assert (rider.masked_name, rider.masked_phone) == ("王*", "138****5678")
    assert rider.cache_seconds == 0
    assert rider.single_use_id == "ec-7f3a9c2e"
    assert rider.single_use_until == datetime(2026, 1, 5, 4, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("advance_s", "gate_community", "words"),
    [
        (200, "sunny-garden", ("已过期", "expired")),
        (0, "maple-court", ("不是本小区", "another community")),
    ],
    ids=["expired", "other community"],
)
def test_an_entry_code_that_cannot_be_accepted_is_rejected_with_words_for_the_rider(
    hub, connection, gate, clock, fixture_json, advance_s, gate_community, words
) -> None:
    clock.advance(advance_s)
    elsewhere = type(gate)(gate.id, gate_community, gate.name, gate.code)

    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(
            connection,
            Credential(CredentialKind.ENTRY_CODE, fixture_json("entry_code_example.json")["code"]),
            elsewhere,
        )

    assert words[0] in caught.value.reason_zh and words[1] in caught.value.reason_en


def test_an_entry_code_is_rejected_when_the_connection_has_no_entry_code_keys(hub, connection, gate, fixture_json):
    without_keys = Connection(
        connection.id, "riderpass", connection.name, settings={**connection.settings, "entry_code_keys": []}
    )

    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(
            without_keys, Credential(CredentialKind.ENTRY_CODE, fixture_json("entry_code_example.json")["code"]), gate
        )

    assert "rider app" in caught.value.reason_en


# -- hub_active_orders -------------------------------------------------------------------


def test_active_orders_keeps_only_this_communitys_orders_and_maps_statuses(
    hub, connection, community, mocked, fixture_json
) -> None:
    mocked.post(
        f"{API}/orders/active",
        json=fixture_json("active_orders.json"),
        match=[matchers.json_params_matcher({"rider": {"ref": "R1001"}, "community_id": "sunny-garden"})],
    )

    orders = hub.active_orders(connection, RiderClaim(token(), "R1001"), community)

    assert [(o.ref, o.status) for o in orders] == [
        ("DEMO-ORDER-1", OrderStatus.DELIVERING),
        ("ORDER-7", OrderStatus.UNKNOWN),  # a status this protocol version does not define
    ]
    first = orders[0]
    assert (first.rider_ref, first.community_ref, first.building) == ("R1001", "sunny-garden", "3")
    assert first.eta == datetime(2026, 1, 5, 4, 8, tzinfo=UTC)


def test_active_orders_asks_by_credential_while_the_rider_is_not_known(hub, connection, community, mocked) -> None:
    mocked.post(
        f"{API}/orders/active",
        json={"orders": []},
        match=[
            matchers.json_params_matcher(
                {"rider": {"credential": {"kind": "token", "value": "demo-rider-1"}}, "community_id": "sunny-garden"}
            )
        ],
    )

    assert hub.active_orders(connection, RiderClaim(token()), community) == []


def test_active_orders_drops_an_order_of_another_rider(hub, connection, community, mocked) -> None:
    order = {"ref": "X", "status": "delivering", "rider_ref": "R2002", "community_id": "sunny-garden"}
    mocked.post(f"{API}/orders/active", json={"orders": [order]})

    assert hub.active_orders(connection, RiderClaim(token(), "R1001"), community) == []


def test_active_orders_never_sends_an_entry_code_to_the_platform(
    hub, connection, community, mocked, fixture_json
) -> None:
    code = Credential(CredentialKind.ENTRY_CODE, fixture_json("entry_code_example.json")["code"])
    mocked.post(
        f"{API}/orders/active",
        json={"orders": []},
        match=[matchers.json_params_matcher({"rider": {"ref": "R1001"}, "community_id": "sunny-garden"})],
    )

    assert hub.active_orders(connection, RiderClaim(code), community) == []


def test_active_orders_rejection_of_the_credential_is_a_rejection(
    hub, connection, community, mocked, fixture_json
) -> None:
    mocked.post(f"{API}/orders/active", status=422, json=fixture_json("problem_credential_invalid.json"))

    with pytest.raises(CredentialRejected):
        hub.active_orders(connection, RiderClaim(token("nobody")), community)


# -- hub_get_order -----------------------------------------------------------------------


def test_get_order_maps_the_order(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/orders/DEMO-ORDER-1", json=fixture_json("order_delivered.json"))

    order = hub.get_order(connection, "DEMO-ORDER-1")

    assert order is not None and order.status is OrderStatus.DELIVERED and order.status.final
    assert order.updated_at == datetime(2026, 1, 5, 4, 6, 12, tzinfo=UTC)


def test_get_order_is_none_for_an_unknown_order(hub, connection, mocked, fixture_json) -> None:
    mocked.get(f"{API}/orders/GONE", status=404, json=fixture_json("problem_order_not_found.json"))

    assert hub.get_order(connection, "GONE") is None


# -- hub_parse_push ----------------------------------------------------------------------

MSG_ID = "msg_01JGX7Y2T8RIDERPASS"


def push(body: bytes, *, stamp: str = "1767585600", secret: bytes = PUSH_SECRET, **headers: str) -> PushRequest:
    mac = hmac.new(secret, f"{MSG_ID}.{stamp}.".encode() + body, hashlib.sha256).digest()
    sent = {
        "Webhook-Id": MSG_ID,
        "Webhook-Timestamp": stamp,
        "Webhook-Signature": "v1," + base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
        **headers,
    }
    return PushRequest(
        "POST", "https://hub.test/push/riderpass-1", sent, body, received_at=datetime(2026, 1, 5, 4, 0, 3, tzinfo=UTC)
    )


def test_an_order_push_becomes_an_order_event(hub, connection, fixture_text) -> None:
    body = fixture_text("push_order_status_changed.json").encode()

    [event] = hub.parse_push(
        connection, push(body, **{"Webhook-Signature": "v1,mncEtLkfMaQYBiRJIg1rZgA6ns8Gw6O3D+KDQ6gfTU0="})
    )

    assert event.event_id == MSG_ID
    assert event.occurred_at == datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert event.order is not None
    assert (event.order.ref, event.order.status, event.order.community_ref) == (
        "DEMO-ORDER-1",
        OrderStatus.DELIVERED,
        "sunny-garden",
    )
    assert event.rider_status is None


def test_a_suspension_push_becomes_a_rider_status_event(hub, connection, fixture_text) -> None:
    [event] = hub.parse_push(connection, push(fixture_text("push_rider_suspended.json").encode()))

    assert (event.rider_ref, event.rider_status, event.order) == ("R1003", RiderStatus.SUSPENDED, None)


def test_a_push_of_an_unknown_event_type_is_accepted_with_no_events(hub, connection) -> None:
    body = b'{"type":"rider.rated","timestamp":"2026-01-05T04:00:00Z","data":{}}'

    assert hub.parse_push(connection, push(body)) == []


def test_a_push_verifies_with_a_rotated_secret_the_connection_also_holds(hub, connection, fixture_text) -> None:
    rotated = b"riderpass-rotated-webhook-key-32"
    both = Connection(
        connection.id,
        "riderpass",
        connection.name,
        settings={
            **connection.settings,
            "push_secrets": [connection.settings["push_secrets"][0], "whsec_" + base64.b64encode(rotated).decode()],
        },
    )

    events = hub.parse_push(both, push(fixture_text("push_rider_suspended.json").encode(), secret=rotated))

    assert len(events) == 1


def test_an_unsigned_push_is_rejected_with_401(hub, connection, fixture_text) -> None:
    # Forged and stale pushes are checked by the conformance suite (test_conformance.py).
    request = push(fixture_text("push_rider_suspended.json").encode(), **{"Webhook-Signature": ""})

    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, request)

    assert caught.value.status == 401


def test_a_malformed_push_is_rejected_with_400(hub, connection) -> None:
    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, push(b'{"type":"order.status_changed"}'))

    assert caught.value.status == 400


# -- hub_publish_community ---------------------------------------------------------------


def test_publish_community_puts_the_profile_on_the_wire(hub, connection, community, gate, mocked, fixture_json):
    profiled = type(community)(
        community.id,
        community.name,
        address=community.address,
        policy=CommunityPolicy(opening=time(7, 0), closing=time(22, 30), lockers_only=True, max_pass_minutes=20),
        buildings=(Building("3", "3 号楼", door_no="3", latitude=31.2, longitude=121.4),),
        geofence=((31.1, 121.3), (31.2, 121.3), (31.2, 121.5)),
    )
    profile = CommunityProfile(
        profiled,
        gates=(gate,),
        zones=(Zone("p1", "parking", "骑手停车区 Rider parking", ((31.15, 121.35),), "By the north gate"),),
        rules_zh="请走北门",
        rules_en="Use the north gate",
        version=4,
    )
    expected = {
        "version": 4,
        "community": {
            "id": "sunny-garden",
            "name": "阳光花园 Sunny Garden",
            "address": "示例路 100 号",
            "timezone": "Asia/Shanghai",
            "geofence": [[31.1, 121.3], [31.2, 121.3], [31.2, 121.5]],
            "buildings": [{"id": "3", "name": "3 号楼", "door_no": "3", "latitude": 31.2, "longitude": 121.4}],
        },
        "rules": {
            "zh": "请走北门",
            "en": "Use the north gate",
            "hours": {"opening": "07:00", "closing": "22:30"},
            "lockers_only": True,
            "require_presence": False,
            "max_pass_minutes": 20,
        },
        "gates": [{"id": "north", "name": "North gate", "code": "sunny-north", "door_no": "1"}],
        "zones": [
            {
                "id": "p1",
                "kind": "parking",
                "name": "骑手停车区 Rider parking",
                "points": [[31.15, 121.35]],
                "notes": "By the north gate",
            }
        ],
    }
    mocked.put(
        f"{API}/communities/sunny-garden/profile",
        json=fixture_json("profile_receipt.json"),
        match=[matchers.json_params_matcher(expected)],
    )

    receipt = hub.publish_community(connection, profile)

    assert (receipt.accepted, receipt.ref) == (True, "profile-sunny-garden-v4")


def test_publishing_an_older_version_than_the_platform_holds_is_not_accepted(
    hub, connection, community, mocked, fixture_json
) -> None:
    mocked.put(
        f"{API}/communities/sunny-garden/profile", status=409, json=fixture_json("problem_profile_version_stale.json")
    )

    receipt = hub.publish_community(connection, CommunityProfile(community, version=3))

    assert not receipt.accepted and "newer profile" in receipt.message


# -- hub_notify_rider --------------------------------------------------------------------


def test_notify_rider_sends_both_languages(hub, connection, mocked, fixture_json) -> None:
    mocked.post(
        f"{API}/riders/R1001/notices",
        status=202,
        json=fixture_json("notice_receipt.json"),
        match=[
            matchers.json_params_matcher(
                {"kind": "use_locker", "text": {"zh": "请用 14 号柜", "en": "Use locker 14"}, "data": {"locker": "14"}}
            )
        ],
    )

    receipt = hub.notify_rider(
        connection, "R1001", Notice("use_locker", "请用 14 号柜", "Use locker 14", {"locker": "14"})
    )

    assert (receipt.accepted, receipt.ref) == (True, "ntc-20260105-0001")


def test_notifying_a_rider_the_platform_does_not_know_is_not_accepted(hub, connection, mocked, fixture_json) -> None:
    mocked.post(f"{API}/riders/R404/notices", status=404, json=fixture_json("problem_rider_not_found.json"))

    receipt = hub.notify_rider(connection, "R404", Notice("gate_open", "门已开", "Gate open"))

    assert not receipt.accepted


def test_a_failing_notice_is_an_upstream_error_for_the_outbox_to_retry(hub, connection, mocked) -> None:
    mocked.post(f"{API}/riders/R1001/notices", status=500, json={"code": "internal"})

    with pytest.raises(UpstreamError):
        hub.notify_rider(connection, "R1001", Notice("gate_open", "门已开", "Gate open"))


# -- one session per connection ----------------------------------------------------------


@pytest.fixture
def sessions() -> list[requests.Session]:
    """Every session the plugin of ``counting_hub`` created."""
    return []


@pytest.fixture
def counting_hub(make_hub, clock, sessions):
    def session_factory() -> requests.Session:
        sessions.append(requests.Session())
        return sessions[-1]

    return make_hub(clock, RiderPassPlugin(clock=clock, session_factory=session_factory))


def test_one_session_per_connection_rebuilt_when_its_settings_change(
    counting_hub, sessions, connection, gate, mocked
) -> None:
    hub = counting_hub
    mocked.post(f"{API}/riders/verify", json={"rider": {"ref": "R1", "status": "active"}})
    other = Connection("riderpass-2", "riderpass", "Other", settings=connection.settings)
    rekeyed = Connection(connection.id, "riderpass", connection.name, settings={**connection.settings, "key_id": "k2"})

    for _ in range(3):
        hub.verify_rider(connection, token(), gate)
    hub.verify_rider(other, token(), gate)
    hub.verify_rider(rekeyed, token(), gate)

    assert len(sessions) == 3
    assert len(mocked.calls) == 5


def test_timeouts_are_the_connect_setting_capped_by_the_connections_timeout(hub, connection, gate, mocked) -> None:
    call = mocked.post(f"{API}/riders/verify", json={"rider": {"ref": "R1", "status": "active"}})
    slow_connect = Connection(
        "riderpass-2", "riderpass", "Other", settings={**connection.settings, "connect_timeout_s": 5}, timeout_s=1.5
    )

    hub.verify_rider(connection, token(), gate)
    hub.verify_rider(slow_connect, token(), gate)

    assert [c.request.req_kwargs["timeout"] for c in call.calls] == [(1.0, 2.0), (1.5, 1.5)]


def test_concurrent_first_calls_on_a_connection_share_one_session(
    counting_hub, sessions, connection, gate, mocked
) -> None:
    hub = counting_hub
    mocked.post(f"{API}/riders/verify", json={"rider": {"ref": "R1", "status": "active"}})
    start = threading.Barrier(8)

    def verify() -> str:
        start.wait(timeout=5)
        return hub.verify_rider(connection, token(), gate).platform_ref

    with ThreadPoolExecutor(max_workers=8) as pool:
        refs = list(pool.map(lambda _: verify(), range(8)))

    assert refs == ["R1"] * 8
    assert len(sessions) == 1
