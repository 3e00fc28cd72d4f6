"""Push messages through the hub: authenticated (signature, app id, time tolerance),
parsed into events, acknowledged the way Ele.me expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.core.errors import PushRejected
from hub.core.model import OrderStatus, RiderStatus

SENT_MS = 1767585600000


def fields(**overrides):
    """A delivery-state message with the partner's rider and community, unsigned."""
    message = {
        "orderId": "8076190120874666666",
        "shopId": 152182777,
        "state": "delivering",
        "subState": "noSubstate",
        "updateAt": SENT_MS - 30000,
        "riderId": "R1001",
        "communityId": "sunny-garden",
    }
    base = {
        "requestId": "200000000000000055",
        "type": 55,
        "appId": 65929831,
        "message": json.dumps(message, separators=(",", ":")),
        "shopId": 152182777,
        "timestamp": SENT_MS,
        "userId": "5486031036067039666",
    }
    return base | overrides


def body(fixture_name):
    """A recorded push, byte for byte."""
    return (Path(__file__).with_name("fixtures") / fixture_name).read_bytes()


def test_the_hub_answers_an_accepted_push_with_elemes_acknowledgement(hub):
    assert hub.plugin("eleme").info.push_ack == {"message": "ok"}


def test_a_delivery_push_naming_rider_and_community_becomes_an_order_event(hub, connection, push_request):
    (event,) = hub.parse_push(connection, push_request(body("push_delivering_partner.json")))

    assert event.event_id == "200000000000000055"
    assert event.occurred_at == datetime(2026, 1, 5, 3, 59, 30, tzinfo=UTC)
    order = event.order
    assert (order.ref, order.status, order.rider_ref, order.community_ref) == (
        "8076190120874666666",
        OrderStatus.DELIVERING,
        "R1001",
        "sunny-garden",
    )
    assert order.updated_at == event.occurred_at


def test_a_public_delivery_push_without_rider_and_community_is_acknowledged_but_is_no_evidence(
    hub, connection, push_request
):
    received_at = datetime.fromtimestamp(1509495770.350, UTC) + timedelta(seconds=1)

    events = hub.parse_push(connection, push_request(body("push_delivering_public.json"), received_at))

    assert events == []


def test_a_completed_delivery_is_passed_on_even_without_rider_and_community(hub, connection, push_request):
    (event,) = hub.parse_push(connection, push_request(body("push_completed_public.json")))

    assert event.order.status is OrderStatus.DELIVERED
    assert event.order.ref == "8076190120874666666"


def test_a_settled_order_push_is_a_delivered_order_dated_by_its_update_time(hub, connection, push_request):
    (event,) = hub.parse_push(connection, push_request(body("push_order_settled.json")))

    assert event.order.status is OrderStatus.DELIVERED
    assert event.occurred_at == datetime(2026, 1, 5, 3, 59, 55, tzinfo=UTC)


@pytest.mark.parametrize("state", ["pending", "refunding", "somethingNew"])
def test_an_order_status_that_says_nothing_about_the_delivery_adds_no_event(
    hub, connection, push_request, sign_push, state
):
    message = json.dumps({"orderId": "8076190120874666666", "state": state, "updateTime": SENT_MS // 1000})

    assert hub.parse_push(connection, push_request(sign_push(fields(type=12, message=message)))) == []


def test_an_unknown_delivery_state_is_an_unknown_order_not_an_error(hub, connection, push_request, sign_push):
    message = json.dumps({"orderId": "1", "state": "hoveringNearby", "riderId": "R1001", "communityId": "sunny-garden"})

    (event,) = hub.parse_push(connection, push_request(sign_push(fields(type=76, message=message))))

    assert event.order.status is OrderStatus.UNKNOWN


def test_a_new_order_message_is_acknowledged_without_events(hub, connection, push_request):
    assert hub.parse_push(connection, push_request(body("push_new_order.json"))) == []


def test_the_partner_rider_status_push_suspends_the_rider(hub, connection, push_request):
    (event,) = hub.parse_push(connection, push_request(body("push_rider_suspended.json")))

    assert (event.rider_ref, event.rider_status, event.order) == ("R1003", RiderStatus.SUSPENDED, None)


def test_the_same_message_delivered_twice_has_the_same_event_id(hub, connection, push_request):
    first = hub.parse_push(connection, push_request(body("push_delivering_partner.json")))
    again = hub.parse_push(connection, push_request(body("push_delivering_partner.json")))

    assert [e.event_id for e in first] == [e.event_id for e in again] == ["200000000000000055"]


def test_a_message_without_a_request_id_gets_a_stable_id_from_its_content(hub, connection, push_request, sign_push):
    unsigned = fields()
    del unsigned["requestId"]
    compact = sign_push(unsigned)
    spaced = json.dumps(json.loads(compact), indent=4).encode()

    (first,) = hub.parse_push(connection, push_request(compact))
    (again,) = hub.parse_push(connection, push_request(spaced))
    (other,) = hub.parse_push(connection, push_request(sign_push(unsigned | {"timestamp": SENT_MS + 1})))

    assert first.event_id == again.event_id
    assert first.event_id.startswith("sha256:")
    assert other.event_id != first.event_id


# -- refused ------------------------------------------------------------------------------------


def refusal(hub, connection, request):
    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, request)
    return caught.value


def test_a_push_signed_with_another_secret_is_refused_as_forged(hub, connection, push_request, sign_push):
    rejected = refusal(hub, connection, push_request(sign_push(fields(), secret="not-our-secret")))

    assert rejected.status == 401
    assert "signature" in str(rejected)


def test_a_push_changed_after_signing_is_refused(hub, connection, push_request):
    tampered = json.loads(body("push_delivering_partner.json"))
    tampered["message"] = tampered["message"].replace("R1001", "R6666")

    assert refusal(hub, connection, push_request(json.dumps(tampered).encode())).status == 401


def test_a_push_without_a_signature_is_refused(hub, connection, push_request):
    assert refusal(hub, connection, push_request(json.dumps(fields()).encode())).status == 401


def test_a_push_for_another_app_is_refused(hub, connection, push_request, sign_push):
    rejected = refusal(hub, connection, push_request(sign_push(fields(appId=11111111))))

    assert rejected.status == 401
    assert "app" in str(rejected)


@pytest.mark.parametrize("skew_s", [301, -301])
def test_a_push_outside_the_default_five_minutes_either_way_is_refused(hub, connection, push_request, sent_at, skew_s):
    late_or_early = sent_at + timedelta(seconds=skew_s)

    rejected = refusal(hub, connection, push_request(body("push_delivering_partner.json"), late_or_early))

    assert rejected.status == 401
    assert "tolerance" in str(rejected)


@pytest.mark.parametrize("skew_s", [299, -299])
def test_a_push_within_the_tolerance_is_accepted(hub, connection, push_request, sent_at, skew_s):
    within = sent_at + timedelta(seconds=skew_s)

    assert len(hub.parse_push(connection, push_request(body("push_delivering_partner.json"), within))) == 1


def test_the_tolerance_is_a_setting(hub, connect, push_request, sent_at):
    strict = connect(push_tolerance_s=60)

    rejected = refusal(hub, strict, push_request(body("push_delivering_partner.json"), sent_at + timedelta(seconds=61)))

    assert rejected.status == 401


@pytest.mark.parametrize(
    "raw",
    [b"not json at all", b"[1, 2, 3]", b""],
)
def test_a_push_that_is_not_a_json_object_is_malformed(hub, connection, push_request, raw):
    assert refusal(hub, connection, push_request(raw)).status == 400


def test_a_signed_push_whose_message_is_not_json_is_malformed(hub, connection, push_request, sign_push):
    assert refusal(hub, connection, push_request(sign_push(fields(message="{broken")))).status == 400


def test_a_push_field_of_a_type_the_signature_cannot_cover_is_malformed(hub, connection, push_request):
    odd = fields(shopId=1.5) | {"signature": "0" * 32}

    assert refusal(hub, connection, push_request(json.dumps(odd).encode())).status == 400


def test_a_delivery_push_without_an_order_id_is_malformed(hub, connection, push_request, sign_push):
    message = json.dumps({"state": "completed"})

    assert refusal(hub, connection, push_request(sign_push(fields(type=56, message=message)))).status == 400
