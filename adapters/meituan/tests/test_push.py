"""Callbacks from Meituan through ``hub.parse_push``: signed form-encoded posts are
verified (signature, app, timestamp) and turned into events; anything forged, stale or
malformed is refused with the right status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hub.core.errors import PushRejected
from hub.core.model import OrderStatus, RiderStatus

DELIVERED = {
    "order_id": "27061900338318741",
    "status": "8",
    "logistics_status": "40",
    "time": "1767225590",
    "rider_id": "R1001",
    "community_id": "MT-C-88",
    "building": "3",
}


def rejected(hub, connection, request) -> PushRejected:
    with pytest.raises(PushRejected) as caught:
        hub.parse_push(connection, request)
    return caught.value


def test_a_signed_order_callback_becomes_an_order_event(hub, connection, callback):
    [event] = hub.parse_push(connection, callback(DELIVERED))

    assert event.order.ref == "27061900338318741"
    assert event.order.status is OrderStatus.DELIVERED
    assert (event.order.rider_ref, event.order.community_ref, event.order.building) == ("R1001", "MT-C-88", "3")
    assert event.occurred_at == datetime.fromtimestamp(1767225590, UTC)
    assert event.order.updated_at == event.occurred_at


def test_the_hub_answers_an_accepted_callback_with_data_ok(hub):
    assert dict(hub.plugin("meituan").info.push_ack) == {"data": "ok"}


def test_the_same_callback_sent_again_has_the_same_event_id(hub, connection, callback):
    first = hub.parse_push(connection, callback(DELIVERED))
    # Meituan retries with a fresh timestamp; the change it reports is the same.
    again = hub.parse_push(connection, callback(DELIVERED, timestamp=1767225630, received_at=1767225630))

    assert first[0].event_id == again[0].event_id


def test_a_different_status_of_the_same_order_is_a_different_event(hub, connection, callback):
    picked_up = {**DELIVERED, "status": "4", "logistics_status": "20", "time": "1767225000"}

    [a] = hub.parse_push(connection, callback(picked_up))
    [b] = hub.parse_push(connection, callback(DELIVERED))

    assert a.event_id != b.event_id
    assert a.order.status is OrderStatus.PICKED_UP


def test_a_delivery_only_callback_without_order_status_is_read(hub, connection, callback):
    fields = {"order_id": "27061900338318741", "logistics_status": "20", "time": "1767225500"}

    [event] = hub.parse_push(connection, callback(fields))

    assert event.order.status is OrderStatus.PICKED_UP


def test_a_callback_without_its_own_time_happened_at_its_timestamp(hub, connection, callback):
    fields = {k: v for k, v in DELIVERED.items() if k != "time"}

    [event] = hub.parse_push(connection, callback(fields))

    assert event.occurred_at == datetime.fromtimestamp(1767225600, UTC)


def test_an_unknown_status_code_is_an_unknown_order_not_an_error(hub, connection, callback):
    [event] = hub.parse_push(connection, callback({**DELIVERED, "status": "77", "logistics_status": "999"}))

    assert event.order.status is OrderStatus.UNKNOWN


def test_a_rider_suspension_callback_becomes_a_rider_event(hub, connection, callback):
    [event] = hub.parse_push(connection, callback({"rider_id": "R1003", "rider_status": "2", "time": "1767225590"}))

    assert (event.rider_ref, event.rider_status, event.order) == ("R1003", RiderStatus.SUSPENDED, None)
    assert event.event_id == "rider:R1003:2:1767225590"


def test_parameters_in_the_callback_urls_query_string_are_signed_too(hub, connection, callback, wire):
    request = callback(DELIVERED, url=f"{wire.push_url}?tenant=sh", query={"tenant": "sh"})

    assert len(hub.parse_push(connection, request)) == 1


def test_behind_a_proxy_the_callback_is_checked_against_the_registered_push_url(hub, make_connection, callback):
    registered = "https://hub.example.com/api/v1/push/mt-1"
    # The proxy forwards to an internal address; Meituan signed the public one.
    request = callback(DELIVERED, url=registered)
    internal = replace(request, url="http://10.0.0.5:8100/api/v1/push/mt-1")

    assert rejected(hub, make_connection(), internal).status == 401
    assert len(hub.parse_push(make_connection(push_url=registered), internal)) == 1


# -- refused ------------------------------------------------------------------------------------------


def test_a_callback_signed_with_another_secret_is_refused_as_forged(hub, connection, callback):
    assert rejected(hub, connection, callback(DELIVERED, secret="not-our-secret")).status == 401


def test_a_callback_whose_fields_were_changed_after_signing_is_refused(hub, connection, callback):
    request = callback(DELIVERED)
    tampered = replace(request, form={**request.form, "rider_id": "R6666"})

    assert rejected(hub, connection, tampered).status == 401


def test_a_callback_without_sig_is_refused(hub, connection, callback):
    assert rejected(hub, connection, callback(DELIVERED, drop=("sig",))).status == 401


def test_a_correctly_signed_callback_for_another_app_is_refused(hub, connection, callback):
    error = rejected(hub, connection, callback(DELIVERED, app_id="9999"))

    assert error.status == 401
    assert "app_id" in str(error)


def test_a_stale_callback_is_refused(hub, connection, callback, wire):
    assert rejected(hub, connection, callback(DELIVERED, timestamp=wire.now - 301)).status == 401


def test_a_callback_from_the_future_is_refused(hub, connection, callback, wire):
    assert rejected(hub, connection, callback(DELIVERED, timestamp=wire.now + 301)).status == 401


def test_the_tolerance_is_a_setting(hub, make_connection, callback, wire):
    request = callback(DELIVERED, timestamp=wire.now - 600)

    assert rejected(hub, make_connection(), request).status == 401
    assert len(hub.parse_push(make_connection(push_tolerance_s=900), request)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"something": "else"},  # neither an order nor a rider
        {"order_id": "27061900338318741"},  # an order without any status
        {"rider_id": "R1003"},  # a rider without a status
        {**DELIVERED, "time": "yesterday"},
    ],
)
def test_a_signed_but_malformed_callback_is_refused_as_malformed(hub, connection, callback, fields):
    assert rejected(hub, connection, callback(fields)).status == 400


def test_a_signed_callback_with_a_timestamp_that_is_not_a_number_is_malformed(hub, connection, callback):
    assert rejected(hub, connection, callback(DELIVERED, timestamp="soon")).status == 400


def test_a_parameter_both_in_query_and_form_is_malformed(hub, connection, callback, wire):
    request = callback(DELIVERED, url=f"{wire.push_url}?order_id=1", query={"order_id": "1"})

    assert rejected(hub, connection, request).status == 400
