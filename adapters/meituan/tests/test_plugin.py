"""The plugin through the hub's facade (built-in plugins loaded), against recorded
payloads: mapped results, mapped errors, settings, sessions."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from responses import matchers

from hub.core.errors import CredentialRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.model import (
    Building,
    Community,
    CommunityPolicy,
    CommunityProfile,
    Credential,
    Gate,
    Notice,
    OrderStatus,
    RiderClaim,
    RiderStatus,
    Zone,
)
from hub.core.plugins import Hub, secret_fields
from last100_meituan.plugin import MeituanPlugin

API = "https://waimaiopen.meituan.com/api/v1"


def form_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body or "", keep_blank_values=True).items()}


def query_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query, keep_blank_values=True).items()}


# -- describing the plugin ------------------------------------------------------------------


def test_plugin_describes_itself_as_the_meituan_platform_with_meituans_push_ack(hub):
    info = hub.plugin("meituan").info

    assert info.name == "meituan"
    assert {k.value for k in info.kinds} == {"platform"}
    assert dict(info.push_ack) == {"data": "ok"}
    assert secret_fields(info) == {"app_secret"}


def test_settings_fill_in_defaults_for_everything_but_the_app_credentials(hub):
    settings = hub.validate_settings("meituan", {"app_id": "6510", "app_secret": "s"})

    assert settings["base_url"] == "https://waimaiopen.meituan.com"
    assert settings["path_order_detail"] == "/api/v1/order/getOrderDetail"
    assert settings["path_rider_verify"] == "/api/v1/partner/rider/verify"
    assert (settings["push_tolerance_s"], settings["cache_seconds"]) == (300, 300)
    assert settings["field_rider_ref"] == "rider_id"


def test_invalid_settings_are_named(hub):
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("meituan", {"app_id": "6510", "base_url": "ftp://x", "path_ping": "no-slash"})

    assert set(caught.value.errors) == {"app_secret", "base_url", "path_ping"}


# -- hub_check_connection ---------------------------------------------------------------------


def test_check_connection_makes_a_signed_ping_and_reports_ok(hub, connection, mocked, payload, wire):
    mocked.get(f"{API}/poi/getids", json=payload("ping_ok"))

    health = hub.check_connection(connection)

    assert health.ok and health.latency_ms is not None
    query = query_of(mocked.calls[0])
    assert query["sig"] == wire.sig(f"{API}/poi/getids", query)


def test_check_connection_says_the_app_secret_was_refused(hub, connection, mocked, payload):
    mocked.get(f"{API}/poi/getids", json=payload("error_signature"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert health.message.startswith("app_secret was refused")


def test_check_connection_says_the_app_id_was_refused(hub, connection, mocked, payload):
    mocked.get(f"{API}/poi/getids", json=payload("error_app_id"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "app_id '6510' was refused" in health.message


def test_check_connection_reports_an_unreachable_meituan_with_the_base_url(hub, connection, mocked):
    mocked.get(f"{API}/poi/getids", body=requests.exceptions.ConnectionError("refused"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "could not reach Meituan at https://waimaiopen.meituan.com" in health.message


# -- hub_verify_rider -------------------------------------------------------------------------


def test_verify_rider_returns_the_masked_rider_with_the_configured_cache_lifetime(
    hub, make_connection, gate, mocked, payload
):
    mocked.post(f"{API}/partner/rider/verify", json=payload("rider_verify"))

    rider = hub.verify_rider(make_connection(cache_seconds=120), Credential("token", "tok-1"), gate)

    assert rider.platform_ref == "R1001"
    assert (rider.masked_name, rider.masked_phone) == ("王**", "138****5678 转 1234")
    assert rider.status is RiderStatus.ACTIVE
    assert rider.cache_seconds == 120
    assert form_of(mocked.calls[0]) == {"credential": "tok-1", "credential_type": "token"}


def test_a_typed_code_is_verified_as_a_code(hub, connection, gate, mocked, payload):
    mocked.post(f"{API}/partner/rider/verify", json=payload("rider_verify"))

    hub.verify_rider(connection, Credential("typed_code", "123456"), gate)

    assert form_of(mocked.calls[0])["credential_type"] == "code"


def test_a_suspended_rider_is_returned_as_suspended(hub, connection, gate, mocked, payload):
    mocked.post(f"{API}/partner/rider/verify", json=payload("rider_verify_suspended"))

    rider = hub.verify_rider(connection, Credential("token", "tok-3"), gate)

    assert rider.status is RiderStatus.SUSPENDED
    assert rider.masked_phone == "137****0000"


def test_an_unknown_rider_status_is_unknown(hub, connection, gate, mocked):
    mocked.post(f"{API}/partner/rider/verify", json={"data": {"rider_id": "R9", "rider_status": 7}})

    assert hub.verify_rider(connection, Credential("token", "t"), gate).status is RiderStatus.UNKNOWN


def test_a_rejected_credential_is_credential_rejected_with_words_for_the_rider(hub, connection, gate, mocked, payload):
    mocked.post(f"{API}/partner/rider/verify", json=payload("error_credential_rejected"))

    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(connection, Credential("token", "expired"), gate)

    assert "美团" in caught.value.reason_zh
    assert "Meituan" in caught.value.reason_en
    assert "expired" not in str(caught.value)  # the credential's value is never repeated


def test_the_codes_meaning_rejected_are_configurable(hub, make_connection, gate, mocked):
    mocked.post(f"{API}/partner/rider/verify", json={"data": "ng", "error": {"code": 9001, "msg": "无此骑手"}})

    with pytest.raises(CredentialRejected):
        hub.verify_rider(make_connection(codes_credential_rejected=[9001]), Credential("token", "t"), gate)


def test_an_offline_entry_code_is_rejected_without_asking_meituan(hub, connection, gate):
    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(connection, Credential("entry_code", "eyJ..."), gate)

    assert caught.value.reason_en == "Meituan riders show the code from the Meituan rider app"


def test_a_meituan_failure_during_verification_is_an_upstream_error(hub, connection, gate, mocked):
    mocked.post(f"{API}/partner/rider/verify", status=503)

    with pytest.raises(UpstreamError, match="Meituan Shanghai") as caught:
        hub.verify_rider(connection, Credential("token", "t"), gate)

    assert not isinstance(caught.value, UpstreamTimeout)


def test_refused_app_credentials_during_verification_are_an_upstream_error_not_a_rejected_rider(
    hub, connection, gate, mocked, payload
):
    mocked.post(f"{API}/partner/rider/verify", json=payload("error_signature"))

    with pytest.raises(UpstreamError, match="refused the app credentials"):
        hub.verify_rider(connection, Credential("token", "t"), gate)


def test_a_timeout_during_verification_is_an_upstream_timeout(hub, connection, gate, mocked):
    mocked.post(f"{API}/partner/rider/verify", body=requests.exceptions.ReadTimeout())

    with pytest.raises(UpstreamTimeout):
        hub.verify_rider(connection, Credential("token", "t"), gate)


def test_a_verified_rider_is_served_from_the_hubs_cache_the_second_time(hub, connection, gate, mocked, payload):
    mocked.post(f"{API}/partner/rider/verify", json=payload("rider_verify"))

    first = hub.verify_rider(connection, Credential("token", "tok-1"), gate)
    second = hub.verify_rider(connection, Credential("token", "tok-1"), gate)

    assert first == second
    assert len(mocked.calls) == 1


# -- hub_active_orders ---------------------------------------------------------------------------


def test_active_orders_are_only_open_orders_into_this_community(hub, connection, community, mocked, payload):
    mocked.post(f"{API}/partner/rider/orders", json=payload("rider_orders"))

    orders = hub.active_orders(connection, RiderClaim(Credential("token", "t"), "R1001"), community)

    # 742 goes to another community, 743 is delivered: neither counts here.
    assert [(o.ref, o.status) for o in orders] == [
        ("27061900338318741", OrderStatus.PICKED_UP),
        ("27061900338318744", OrderStatus.ACCEPTED),
    ]
    first = orders[0]
    assert (first.community_ref, first.building, first.rider_ref) == ("MT-C-88", "3", "R1001")
    assert first.eta == datetime(2026, 1, 1, 0, 20, tzinfo=UTC)
    assert form_of(mocked.calls[0]) == {"community_id": "MT-C-88", "rider_id": "R1001"}


def test_active_orders_ask_with_the_credential_when_the_rider_is_not_known_yet(
    hub, connection, community, mocked, payload
):
    mocked.post(f"{API}/partner/rider/orders", json=payload("rider_orders"))

    hub.active_orders(connection, RiderClaim(Credential("typed_code", "123456")), community)

    assert form_of(mocked.calls[0]) == {"community_id": "MT-C-88", "credential": "123456", "credential_type": "code"}


def test_another_riders_order_never_counts(hub, connection, community, mocked):
    mocked.post(
        f"{API}/partner/rider/orders",
        json={
            "data": [
                {"order_id": "1", "status": 4, "logistics_status": 20, "rider_id": "R2002", "community_id": "MT-C-88"}
            ]
        },
    )

    assert hub.active_orders(connection, RiderClaim(Credential("token", "t"), "R1001"), community) == []


def test_without_a_platform_ref_the_community_is_asked_for_by_the_hubs_id(hub, connection, mocked):
    mocked.post(f"{API}/partner/rider/orders", json={"data": []})

    hub.active_orders(connection, RiderClaim(Credential("token", "t"), "R1001"), Community("sunny-garden", "Sunny"))

    assert form_of(mocked.calls[0])["community_id"] == "sunny-garden"


def test_a_credential_rejected_while_asking_for_orders_is_credential_rejected(
    hub, connection, community, mocked, payload
):
    mocked.post(f"{API}/partner/rider/orders", json=payload("error_credential_rejected"))

    with pytest.raises(CredentialRejected):
        hub.active_orders(connection, RiderClaim(Credential("token", "bad")), community)


def test_active_orders_for_an_entry_code_without_a_rider_ask_nothing(hub, connection, community):
    assert hub.active_orders(connection, RiderClaim(Credential("entry_code", "x")), community) == []


# -- hub_get_order -----------------------------------------------------------------------------------


def test_get_order_maps_the_order_detail_and_its_delivery_status(hub, connection, mocked, payload):
    mocked.get(f"{API}/order/getOrderDetail", json=payload("order_detail"))
    mocked.get(f"{API}/order/logistics/status", json=payload("logistics_status"))

    order = hub.get_order(connection, "27061900338318741")

    assert order.ref == "27061900338318741"
    assert order.status is OrderStatus.PICKED_UP
    assert order.updated_at == datetime.fromtimestamp(1767225300, UTC)
    assert order.address == ""  # the customer's address is not taken in


def test_get_order_of_an_unknown_order_is_none(hub, connection, mocked, payload):
    mocked.get(f"{API}/order/getOrderDetail", json=payload("error_order_not_found"))

    assert hub.get_order(connection, "1") is None


def test_get_order_failing_otherwise_is_an_upstream_error(hub, connection, mocked, payload):
    mocked.get(f"{API}/order/getOrderDetail", json=payload("error_operation_failed"))

    with pytest.raises(UpstreamError, match="808"):
        hub.get_order(connection, "1")


def test_order_paths_are_configurable(hub, make_connection, mocked, payload):
    mocked.get("https://waimaiopen.meituan.com/v2/order/detail", json=payload("order_detail"))

    order = hub.get_order(make_connection(path_order_detail="/v2/order/detail", path_logistics_status=""), "1")

    assert order.status is OrderStatus.ACCEPTED  # status 4 alone: no second call was made


# -- hub_publish_community and hub_notify_rider -----------------------------------------------------


def test_publish_community_sends_rules_hours_gates_buildings_and_zones(hub, connection, mocked, payload):
    mocked.post(f"{API}/partner/community/profile/save", json=payload("profile_saved"))
    community = Community(
        "sunny-garden",
        "阳光花园 Sunny Garden",
        address="上海市徐汇区示例路 100 号",
        policy=CommunityPolicy(opening=time(7, 0), closing=time(22, 30)),
        buildings=(Building("3", "3 号楼", door_no="3", latitude=31.2, longitude=121.4),),
        platform_refs={"mt-1": "MT-C-88"},
    )
    profile = CommunityProfile(
        community,
        gates=(Gate("north", "sunny-garden", "北门", "sunny-north-secret-code", door_no="1"),),
        zones=(Zone("p1", "parking", "骑手停车区", ((31.2, 121.4),)),),
        rules_zh="骑手请走北门",
        rules_en="Riders use the north gate",
        version=3,
    )

    receipt = hub.publish_community(connection, profile)

    assert receipt.accepted and receipt.ref == "MTP-MT-C-88-3"
    form = form_of(mocked.calls[0])
    assert (form["community_id"], form["version"]) == ("MT-C-88", "3")
    sent = json.loads(form["profile"])
    assert sent["rules_zh"] == "骑手请走北门"
    assert sent["hours"] == {"opening": "07:00", "closing": "22:30"}
    assert sent["gates"] == [{"id": "north", "name": "北门", "door_no": "1"}]
    assert sent["buildings"][0]["name"] == "3 号楼"
    assert sent["zones"][0]["kind"] == "parking"
    assert "sunny-north-secret-code" not in form["profile"]


def test_notify_rider_sends_the_notice_in_both_languages(hub, connection, mocked, payload):
    mocked.post(
        f"{API}/partner/rider/notice",
        json=payload("notice_sent"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "rider_id": "R1001",
                    "kind": "use_locker",
                    "text_zh": "请使用 14 号柜",
                    "text_en": "Use locker 14",
                    "data": '{"locker":"14"}',
                }
            )
        ],
    )

    receipt = hub.notify_rider(
        connection, "R1001", Notice("use_locker", "请使用 14 号柜", "Use locker 14", {"locker": "14"})
    )

    assert receipt.accepted and receipt.ref == "MTN-20260101-0001"


# -- sessions --------------------------------------------------------------------------------------------


class CountingSessions:
    def __init__(self) -> None:
        self.made: list[requests.Session] = []
        self._lock = threading.Lock()

    def __call__(self) -> requests.Session:
        with self._lock:
            session = requests.Session()
            self.made.append(session)
            return session


def test_one_session_per_connection_reused_across_calls(make_connection, gate, mocked, payload):
    mocked.post(f"{API}/partner/rider/verify", json=payload("rider_verify"))
    mocked.get(f"{API}/poi/getids", json=payload("ping_ok"))
    sessions = CountingSessions()
    plugin = MeituanPlugin(session_factory=sessions)
    hub = Hub()
    hub.register(plugin)
    one, two = make_connection(), make_connection(connection_id="mt-2")

    hub.check_connection(one)
    hub.verify_rider(one, Credential("token", "a"), gate)
    hub.verify_rider(one, Credential("token", "b"), gate)
    hub.check_connection(two)

    assert len(sessions.made) == 2


def test_changed_settings_get_a_fresh_session(make_connection, mocked, payload):
    mocked.get(f"{API}/poi/getids", json=payload("ping_ok"))
    sessions = CountingSessions()
    hub = Hub()
    hub.register(MeituanPlugin(session_factory=sessions))

    hub.check_connection(make_connection())
    hub.check_connection(make_connection(app_secret="rotated"))

    assert len(sessions.made) == 2


def test_concurrent_first_calls_share_one_session(make_connection, mocked, payload):
    mocked.get(f"{API}/poi/getids", json=payload("ping_ok"))
    sessions = CountingSessions()
    hub = Hub()
    hub.register(MeituanPlugin(session_factory=sessions))
    connection = make_connection()
    start = threading.Barrier(8)

    def check() -> None:
        start.wait()
        hub.check_connection(connection)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(sessions.made) == 1
    assert len(mocked.calls) == 8
