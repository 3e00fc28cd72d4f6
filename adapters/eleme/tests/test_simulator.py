"""Every hook end to end against the running simulator on loopback, pushes included; and
the simulator checks requests the way the platform does."""

from __future__ import annotations

import dataclasses
import json
import time
from importlib import metadata

import pytest
import requests

from hub.core.errors import UpstreamError
from hub.core.model import (
    Community,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Gate,
    Notice,
    OrderStatus,
    RiderClaim,
    RiderStatus,
)
from hub.demo import COMMUNITY_ID, DEMO_RIDERS, SIMULATOR_GROUP, Simulator
from last100_eleme.client import ElemeClient, ElemeError
from last100_eleme.simulator import SIM_APP_KEY, SIM_SECRET, SIM_TOKEN, demo_simulator

GATE = Gate("north", COMMUNITY_ID, "North gate 北门", "sunny-north")
COMMUNITY = Community(COMMUNITY_ID, "阳光花园 Sunny Garden")


def token(n: int) -> Credential:
    return Credential(CredentialKind.TOKEN, DEMO_RIDERS[n].token)


def reconfigured(live, **settings) -> Connection:
    return dataclasses.replace(live.connection, settings={**live.connection.settings, **settings})


# -- test connection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [("secret", "wrong-secret", "secret"), ("token", "expired-token", "token"), ("app_key", "other-app", "app_key")],
)
def test_a_wrong_credential_is_refused_by_the_simulator_and_named(hub, live_eleme, setting, value, named):
    health = hub.check_connection(reconfigured(live_eleme, **{setting: value}))

    assert not health.ok
    assert named in health.message


def test_the_simulator_refuses_a_request_dated_outside_its_tolerance(live_eleme):
    skewed = ElemeClient(live_eleme.base_url, SIM_APP_KEY, SIM_SECRET, SIM_TOKEN, clock=lambda: 1_000_000_000)

    with pytest.raises(ElemeError) as caught:
        skewed.get_user()

    assert caught.value.code == "INVALID_TIMESTAMP"


def test_the_simulator_refuses_a_request_that_is_not_an_envelope(live_eleme):
    reply = requests.post(f"{live_eleme.base_url}/api/v1/", data=b'{"nop": "0.9"}', timeout=5).json()

    assert reply["error"]["code"] == "ILLEGAL_REQUEST"


# -- riders ---------------------------------------------------------------------------------------------


def test_every_demo_rider_is_verified_as_the_demo_says(hub, live_eleme):
    for n, demo in enumerate(DEMO_RIDERS):
        rider = hub.verify_rider(live_eleme.connection, token(n), GATE)

        assert (rider.platform_ref, rider.masked_name, rider.masked_phone) == (
            demo.platform_ref,
            demo.masked_name,
            demo.masked_phone,
        )
        assert rider.status is (RiderStatus.SUSPENDED if demo.suspended else RiderStatus.ACTIVE)


def test_a_rider_is_verified_by_typed_code(hub, live_eleme):
    rider = hub.verify_rider(live_eleme.connection, Credential(CredentialKind.TYPED_CODE, "EL1002"), GATE)

    assert rider.platform_ref == "R1002"


def test_a_partner_action_the_platform_does_not_offer_names_its_setting(hub, live_eleme):
    with pytest.raises(UpstreamError, match="verify_action"):
        hub.verify_rider(reconfigured(live_eleme, verify_action="eleme.partner.nope"), token(0), GATE)


# -- orders -----------------------------------------------------------------------------------------------


def test_the_demo_riders_order_is_being_delivered_into_the_demo_community(hub, live_eleme):
    (order,) = hub.active_orders(live_eleme.connection, RiderClaim(token(0)), COMMUNITY)

    assert (order.ref, order.status, order.rider_ref, order.community_ref, order.building) == (
        "DEMO-ORDER-1",
        OrderStatus.DELIVERING,
        "R1001",
        COMMUNITY_ID,
        "3",
    )
    assert order.eta is not None


def test_a_rider_without_an_order_or_another_community_has_no_active_orders(hub, live_eleme):
    elsewhere = Community("moon-court", "月亮苑 Moon Court")

    assert hub.active_orders(live_eleme.connection, RiderClaim(token(1), "R1002"), COMMUNITY) == []
    assert hub.active_orders(live_eleme.connection, RiderClaim(token(0), "R1001"), elsewhere) == []


def test_one_order_is_fetched_for_reconciliation(hub, live_eleme):
    order = hub.get_order(live_eleme.connection, "DEMO-ORDER-1")

    assert (order.status, order.rider_ref, order.community_ref) == (OrderStatus.DELIVERING, "R1001", COMMUNITY_ID)
    assert hub.get_order(live_eleme.connection, "NO-SUCH-ORDER") is None


# -- pushes ------------------------------------------------------------------------------------------------


def test_a_delivered_order_is_pushed_signed_and_acknowledged(hub, live_eleme):
    answer = live_eleme.admin("orders/DEMO-ORDER-1/state", {"deliveryState": "completed"})

    (push,) = answer["pushes"]
    assert push["type"] == 56
    assert (push["status"], json.loads(push["reply"])) == (200, {"message": "ok"})
    (event,) = live_eleme.received
    assert (event.order.ref, event.order.status) == ("DEMO-ORDER-1", OrderStatus.DELIVERED)
    assert event.event_id == push["requestId"]
    assert hub.active_orders(live_eleme.connection, RiderClaim(token(0), "R1001"), COMMUNITY) == []


def test_an_order_status_change_is_pushed_too(hub, live_eleme):
    answer = live_eleme.admin("orders/DEMO-ORDER-1/state", {"status": "invalid"})

    assert answer["pushes"][0]["type"] == 14
    (event,) = live_eleme.received
    assert event.order.status is OrderStatus.CANCELLED


def test_a_suspension_is_pushed_and_the_hub_stops_vouching_for_the_rider(hub, live_eleme):
    assert hub.verify_rider(live_eleme.connection, token(1), GATE).status is RiderStatus.ACTIVE  # now cached

    live_eleme.admin("riders/R1002/suspension", {"suspended": True})

    (event,) = live_eleme.received
    assert (event.rider_ref, event.rider_status) == ("R1002", RiderStatus.SUSPENDED)
    assert hub.verify_rider(live_eleme.connection, token(1), GATE).status is RiderStatus.SUSPENDED


def test_a_push_signed_with_another_secret_is_refused_by_the_hub(live_eleme):
    forged = {
        "requestId": "1",
        "type": 56,
        "appId": 62933118,
        "message": json.dumps({"orderId": "DEMO-ORDER-1", "state": "completed"}),
        "shopId": 968861,
        "timestamp": int(time.time() * 1000),
        "userId": 1,
        "signature": "0" * 32,
    }

    reply = requests.post(live_eleme.push_url, json=forged, timeout=5)

    assert reply.status_code == 401
    assert live_eleme.received == []
    assert len(live_eleme.refused) == 1


# -- publishing and notices ------------------------------------------------------------------------------------


def test_a_published_profile_is_kept_by_the_simulator(hub, live_eleme):
    profile = CommunityProfile(
        COMMUNITY, gates=(GATE,), rules_zh="骑手请走北门", rules_en="Use the north gate", version=7
    )

    receipt = hub.publish_community(live_eleme.connection, profile)

    assert (receipt.accepted, receipt.ref) == (True, f"{COMMUNITY_ID}-v7")
    kept = live_eleme.admin("state")["profiles"][COMMUNITY_ID]
    assert kept["rules"] == {"zh": "骑手请走北门", "en": "Use the north gate"}


def test_a_notice_reaches_a_known_rider_and_is_refused_for_an_unknown_one(hub, live_eleme):
    notice = Notice("use_locker", "请使用 14 号柜", "Use locker 14")

    delivered = hub.notify_rider(live_eleme.connection, "R1001", notice)
    refused = hub.notify_rider(live_eleme.connection, "R9999", notice)

    assert delivered.accepted and delivered.ref
    assert not refused.accepted
    (kept,) = live_eleme.admin("state")["notices"]
    assert (kept["riderId"], kept["textZh"]) == ("R1001", "请使用 14 号柜")


# -- the demo's view of the simulator ------------------------------------------------------------------


def test_the_demo_finds_the_simulator_through_its_entry_point(hub):
    (entry_point,) = [ep for ep in metadata.entry_points(group=SIMULATOR_GROUP) if ep.name == "eleme"]
    simulator = entry_point.load()()

    assert isinstance(simulator, Simulator)
    assert (simulator.plugin, simulator.name) == ("eleme", "Ele.me (simulated)")
    settings = hub.validate_settings("eleme", simulator.settings("http://127.0.0.1:9"))
    assert settings["base_url"] == "http://127.0.0.1:9"


def test_the_demo_simulators_app_and_settings_agree(hub, serve):
    simulator = demo_simulator()

    with serve(simulator.app("")) as base_url:
        connection = Connection("demo-eleme", "eleme", "Ele.me", settings=simulator.settings(base_url))
        assert hub.check_connection(connection).ok
        assert hub.verify_rider(connection, token(0), GATE).platform_ref == "R1001"


def test_the_hub_loads_the_plugin_from_its_entry_point():
    (entry_point,) = [ep for ep in metadata.entry_points(group="last100") if ep.name == "eleme"]

    assert entry_point.value == "last100_eleme.plugin:ElemePlugin"
