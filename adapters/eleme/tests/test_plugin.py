"""The plugin through the hub's facade, against recorded Ele.me replies: settings, health,
riders, orders, publishing and notices in the hub's model and errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import requests

from hub.core.errors import CredentialRejected, SettingsError, UpstreamError, UpstreamTimeout
from hub.core.model import (
    Building,
    Community,
    CommunityPolicy,
    CommunityProfile,
    Credential,
    CredentialKind,
    Gate,
    Notice,
    OrderStatus,
    RiderClaim,
    RiderStatus,
    Zone,
)
from hub.core.plugins import Hub, secret_fields
from hub.plugins import builtin_plugins
from last100_eleme.plugin import ElemePlugin

TOKEN = Credential(CredentialKind.TOKEN, "rider-app-token-1")
CODE = Credential(CredentialKind.TYPED_CODE, "EL1001")


# -- describing the plugin and its settings ---------------------------------------------------------


def test_the_plugin_is_a_platform_named_eleme_with_its_secrets_marked(hub):
    info = hub.plugin("eleme").info

    assert info.name == "eleme"
    assert {str(k) for k in info.kinds} == {"platform"}
    assert secret_fields(info) == {"secret", "token"}


def test_settings_fill_in_the_public_host_the_partner_defaults_and_the_tolerances(hub):
    settings = hub.validate_settings("eleme", {"app_key": "k", "secret": "s", "token": "t", "app_id": "1"})

    assert settings["base_url"] == "https://open-api.shop.ele.me"
    assert settings["verify_action"] == "eleme.partner.rider.verifyCredential"
    assert settings["push_tolerance_s"] == 300
    assert settings["cache_seconds"] == 300
    assert settings["partner_fields"] == {}


def test_missing_credentials_are_named_setting_by_setting(hub):
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("eleme", {"app_key": "k"})

    assert set(caught.value.errors) == {"secret", "token", "app_id"}


@pytest.mark.parametrize(
    ("setting", "value"),
    [("app_id", "not-a-number"), ("partner_fields", {"no_such_field": "x"}), ("push_tolerance_s", 0)],
)
def test_an_invalid_setting_is_named(hub, setting, value):
    raw = {"app_key": "k", "secret": "s", "token": "t", "app_id": "1", setting: value}

    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("eleme", raw)

    assert setting in caught.value.errors


# -- test connection ------------------------------------------------------------------------------


def test_a_healthy_connection_says_the_credentials_were_accepted(hub, connection, eleme_api):
    eleme_api.expect("eleme.user.getUser", "reply_get_user.json")

    health = hub.check_connection(connection)

    assert health.ok
    assert "sunny-partner" in health.message
    assert health.latency_ms is not None


@pytest.mark.parametrize(
    ("fixture_name", "setting"),
    [
        ("reply_error_invalid_signature.json", "secret"),
        ("reply_error_unauthorized.json", "token"),
        ("reply_error_invalid_timestamp.json", "clock"),
    ],
)
def test_a_refused_connection_names_what_to_fix(hub, connection, eleme_api, fixture_name, setting):
    eleme_api.expect("eleme.user.getUser", fixture_name)

    health = hub.check_connection(connection)

    assert not health.ok
    assert setting in health.message


def test_an_unreachable_platform_points_at_base_url(hub, connection, eleme_api):
    eleme_api.expect_failure(requests.ConnectionError("name or service not known"))

    health = hub.check_connection(connection)

    assert not health.ok
    assert "base_url" in health.message


# -- verifying riders -------------------------------------------------------------------------------


def test_a_valid_rider_token_is_a_verified_rider_with_masked_details(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_valid.json")

    rider = hub.verify_rider(connection, TOKEN, gate)

    assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == ("R1001", "王*", "138****5678")
    assert rider.status is RiderStatus.ACTIVE
    assert rider.cache_seconds == 300
    assert eleme_api.sent[0]["params"] == {"riderToken": "rider-app-token-1"}


def test_the_cache_lifetime_is_a_setting(hub, connect, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_valid.json")

    rider = hub.verify_rider(connect(cache_seconds=45), TOKEN, gate)

    assert rider.cache_seconds == 45


def test_a_typed_code_is_sent_as_the_partners_code_field(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_valid.json")

    hub.verify_rider(connection, CODE, gate)

    assert eleme_api.sent[0]["params"] == {"verifyCode": "EL1001"}


def test_partner_action_and_field_names_come_from_the_settings(hub, connect, gate, eleme_api):
    custom = connect(verify_action="eleme.partner.v2.checkRider", partner_fields={"typed_code": "riderCode"})
    eleme_api.expect("eleme.partner.v2.checkRider", "reply_verify_valid.json")

    hub.verify_rider(custom, CODE, gate)

    assert eleme_api.sent[0]["action"] == "eleme.partner.v2.checkRider"
    assert eleme_api.sent[0]["params"] == {"riderCode": "EL1001"}


def test_details_the_platform_sent_unmasked_are_masked_before_the_hub_keeps_them(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_unmasked.json")

    rider = hub.verify_rider(connection, TOKEN, gate)

    assert (rider.masked_name, rider.masked_phone) == ("李**", "139****4321")


def test_a_suspended_rider_is_verified_as_suspended(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_suspended.json")

    assert hub.verify_rider(connection, TOKEN, gate).status is RiderStatus.SUSPENDED


@pytest.mark.parametrize(("credential", "zh_word"), [(TOKEN, "骑手身份"), (CODE, "验证码")])
def test_a_credential_the_platform_does_not_vouch_for_is_rejected_in_both_languages(
    hub, connection, gate, eleme_api, credential, zh_word
):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_verify_invalid.json")

    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(connection, credential, gate)

    assert zh_word in caught.value.reason_zh
    assert caught.value.reason_en
    assert "credential expired" in str(caught.value)


def test_an_offline_entry_code_is_rejected_without_asking_the_platform(hub, connection, gate, eleme_api):
    with pytest.raises(CredentialRejected) as caught:
        hub.verify_rider(connection, Credential(CredentialKind.ENTRY_CODE, "eyJhbGciOi..."), gate)

    assert "骑手App" in caught.value.reason_zh
    assert len(eleme_api.mock.calls) == 0


def test_a_platform_failure_is_an_upstream_error_not_a_rejection(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_error_server_error.json")

    with pytest.raises(UpstreamError) as caught:
        hub.verify_rider(connection, TOKEN, gate)

    assert not isinstance(caught.value, UpstreamTimeout)
    assert "SERVER_ERROR" in str(caught.value)


def test_an_action_the_platform_does_not_offer_names_its_setting(hub, connection, gate, eleme_api):
    eleme_api.expect("eleme.partner.rider.verifyCredential", "reply_error_method_not_allowed.json")

    with pytest.raises(UpstreamError, match="verify_action"):
        hub.verify_rider(connection, TOKEN, gate)


def test_a_timeout_is_an_upstream_timeout(hub, connection, gate, eleme_api):
    eleme_api.expect_failure(requests.ReadTimeout("read timed out"))

    with pytest.raises(UpstreamTimeout):
        hub.verify_rider(connection, TOKEN, gate)


def test_a_malformed_answer_is_an_upstream_error(hub, connection, gate, eleme_api):
    eleme_api.expect_raw(b"<html>gateway error</html>")

    with pytest.raises(UpstreamError):
        hub.verify_rider(connection, TOKEN, gate)


# -- orders ---------------------------------------------------------------------------------------------


def test_active_orders_are_only_the_riders_orders_into_this_community(hub, connection, community, eleme_api):
    eleme_api.expect("eleme.partner.rider.getActiveOrders", "reply_orders_active.json")

    orders = hub.active_orders(connection, RiderClaim(TOKEN, "R1001"), community)

    assert [(o.ref, o.status, o.building) for o in orders] == [
        ("8076190120874666666", OrderStatus.DELIVERING, "3"),
        ("8076190120874666667", OrderStatus.ACCEPTED, "5"),
    ]
    first = orders[0]
    assert (first.rider_ref, first.community_ref) == ("R1001", "sunny-garden")
    assert first.address == "上海市徐汇区示例路 100 号 阳光花园 3 号楼"
    assert first.eta == datetime(2026, 1, 5, 4, 8, tzinfo=UTC)
    assert first.updated_at == datetime(2026, 1, 5, 3, 59, 30, tzinfo=UTC)
    # Asked for the community's id at Ele.me, not the hub's own id for it.
    assert eleme_api.sent[0]["params"] == {"communityId": "sunny-garden", "riderId": "R1001"}


def test_orders_of_a_rider_not_yet_verified_are_asked_for_by_credential(hub, connection, community, eleme_api):
    eleme_api.expect("eleme.partner.rider.getActiveOrders", "reply_orders_active.json")

    orders = hub.active_orders(connection, RiderClaim(TOKEN), community)

    assert len(orders) == 2
    assert eleme_api.sent[0]["params"] == {"communityId": "sunny-garden", "riderToken": "rider-app-token-1"}


def test_an_unknown_riders_orders_are_none(hub, connection, community, eleme_api):
    eleme_api.expect("eleme.partner.rider.getActiveOrders", "reply_orders_unknown_rider.json")

    assert hub.active_orders(connection, RiderClaim(TOKEN), community) == []


def test_orders_that_name_no_rider_are_no_evidence(hub, connection, community, eleme_api):
    eleme_api.expect("eleme.partner.rider.getActiveOrders", "reply_orders_without_rider.json")

    assert hub.active_orders(connection, RiderClaim(TOKEN), community) == []


def test_an_offline_entry_code_without_a_known_rider_asks_for_no_orders(hub, connection, community, eleme_api):
    claim = RiderClaim(Credential(CredentialKind.ENTRY_CODE, "eyJhbGciOi..."))

    assert hub.active_orders(connection, claim, community) == []
    assert len(eleme_api.mock.calls) == 0


def test_one_order_is_read_from_public_oorder_with_the_partner_extension(hub, connection, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_delivering.json")

    order = hub.get_order(connection, "8076190120874666666")

    assert (order.ref, order.status, order.rider_ref, order.community_ref) == (
        "8076190120874666666",
        OrderStatus.DELIVERING,
        "R1001",
        "sunny-garden",
    )
    assert eleme_api.sent[0]["params"] == {"orderId": "8076190120874666666"}


def test_a_settled_public_order_is_delivered(hub, connection, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_settled_public.json")

    order = hub.get_order(connection, "8076190120874666666")

    assert order.status is OrderStatus.DELIVERED
    assert order.address == "上海市徐汇区示例路 100 号 阳光花园 3 号楼"


def test_an_order_the_platform_does_not_know_is_none(hub, connection, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_none.json")

    assert hub.get_order(connection, "nope") is None


def test_an_order_in_delivery_without_rider_and_community_is_refused_as_evidence(hub, connection, eleme_api):
    eleme_api.expect("eleme.order.getOrder", "reply_get_order_delivering_public.json")

    with pytest.raises(UpstreamError, match="partner_fields"):
        hub.get_order(connection, "8076190120874666666")


# -- publishing and notices ------------------------------------------------------------------------------


def profile() -> CommunityProfile:
    community = Community(
        "c-sunny",
        "阳光花园 Sunny Garden",
        address="上海市徐汇区示例路 100 号",
        policy=CommunityPolicy(lockers_only=True),
        buildings=(Building("3", "3 号楼", door_no="3", latitude=31.2, longitude=121.43),),
        platform_refs={"eleme-sh": "sunny-garden"},
    )
    return CommunityProfile(
        community=community,
        gates=(Gate("north", "c-sunny", "North gate 北门", "secret-gate-code"),),
        zones=(Zone("p1", "parking", "电动车停放区", ((31.2, 121.43), (31.21, 121.44))),),
        rules_zh="骑手请走北门",
        rules_en="Riders use the north gate",
        version=3,
    )


def test_publishing_sends_the_profile_document_and_returns_the_platforms_ref(hub, connection, eleme_api):
    eleme_api.expect("eleme.partner.community.publishProfile", "reply_profile_published.json")

    receipt = hub.publish_community(connection, profile())

    assert (receipt.accepted, receipt.ref) == (True, "sunny-garden-v3")
    params = eleme_api.sent[0]["params"]
    assert params["communityId"] == "sunny-garden"
    document = params["profile"]
    assert document["version"] == 3
    assert document["rules"] == {"zh": "骑手请走北门", "en": "Riders use the north gate"}
    assert document["lockersOnly"] is True
    assert document["buildings"] == [{"id": "3", "name": "3 号楼", "doorNo": "3", "lat": 31.2, "lng": 121.43}]
    assert document["zones"][0]["points"] == [[31.2, 121.43], [31.21, 121.44]]
    assert document["gates"] == [{"id": "north", "name": "North gate 北门"}]  # the gate's code stays home


def test_a_profile_the_platform_refuses_is_a_refused_receipt(hub, connection, eleme_api):
    eleme_api.expect("eleme.partner.community.publishProfile", "reply_error_validation_failed.json")

    receipt = hub.publish_community(connection, profile())

    assert not receipt.accepted
    assert "version" in receipt.message


def test_a_failed_publication_is_an_upstream_error_for_the_outbox_to_retry(hub, connection, eleme_api):
    eleme_api.expect("eleme.partner.community.publishProfile", "reply_error_server_error.json")

    with pytest.raises(UpstreamError):
        hub.publish_community(connection, profile())


def test_a_notice_reaches_the_rider_in_both_languages(hub, connection, eleme_api):
    eleme_api.expect("eleme.partner.rider.sendNotice", "reply_notice_sent.json")
    notice = Notice("gate_open", "北门已为您打开", "The north gate is open for you", {"gate": "north"})

    receipt = hub.notify_rider(connection, "R1001", notice)

    assert (receipt.accepted, receipt.ref) == (True, "N000042")
    assert eleme_api.sent[0]["params"] == {
        "riderId": "R1001",
        "kind": "gate_open",
        "textZh": "北门已为您打开",
        "textEn": "The north gate is open for you",
        "data": {"gate": "north"},
    }


# -- sessions --------------------------------------------------------------------------------------------


class CountingSessions:
    def __init__(self) -> None:
        self.made = 0
        self._lock = threading.Lock()

    def __call__(self) -> requests.Session:
        with self._lock:
            self.made += 1
        return requests.Session()


def test_a_connection_gets_one_session_made_on_first_use_even_from_many_threads(connect, gate, eleme_api):
    sessions = CountingSessions()
    hub = Hub()
    for plugin in builtin_plugins():
        hub.register(plugin)
    hub.register(ElemePlugin(session_factory=sessions))
    connection = connect()
    assert sessions.made == 0

    callers = 8
    for _ in range(callers):
        eleme_api.expect("eleme.user.getUser", "reply_get_user.json")
    start = threading.Barrier(callers)

    def check() -> None:
        start.wait()
        hub.check_connection(connection)

    threads = [threading.Thread(target=check) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sessions.made == 1


def test_changed_settings_get_a_new_client(connect, eleme_api):
    sessions = CountingSessions()
    hub = Hub()
    hub.register(ElemePlugin(session_factory=sessions))
    eleme_api.expect("eleme.user.getUser", "reply_get_user.json")
    eleme_api.expect("eleme.user.getUser", "reply_get_user.json")

    hub.check_connection(connect())
    hub.check_connection(connect(secret="rotated-secret"))

    assert sessions.made == 2
