"""The pure client against recorded Meituan payloads (HTTP mocked with ``responses``;
every mocked call must be made)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from responses import matchers

from last100_meituan.client import (
    FieldNames,
    MeituanAuthError,
    MeituanClient,
    MeituanError,
    MeituanProtocolError,
    MeituanTimeout,
    MeituanTransportError,
)

ORDER_DETAIL = "https://waimaiopen.meituan.com/api/v1/order/getOrderDetail"
LOGISTICS = "https://waimaiopen.meituan.com/api/v1/order/logistics/status"
PING = "https://waimaiopen.meituan.com/api/v1/poi/getids"
RIDER_VERIFY = "https://waimaiopen.meituan.com/api/v1/partner/rider/verify"
RIDER_ORDERS = "https://waimaiopen.meituan.com/api/v1/partner/rider/orders"
PROFILE = "https://waimaiopen.meituan.com/api/v1/partner/community/profile/save"
NOTICE = "https://waimaiopen.meituan.com/api/v1/partner/rider/notice"


@pytest.fixture
def client(wire):
    return MeituanClient(wire.base_url, wire.app_id, wire.app_secret, clock=lambda: wire.now, timeout=(1.0, 2.0))


def sent(call) -> tuple[dict[str, str], dict[str, str]]:
    """The query and form parameters of a recorded request, decoded."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query, keep_blank_values=True).items()}
    body = call.request.body or ""
    body = body.decode() if isinstance(body, bytes) else body
    form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    return query, form


# -- signing on the wire --------------------------------------------------------------


def test_a_get_carries_app_id_timestamp_and_the_worked_example_sig_in_its_query(client, mocked, payload):
    mocked.get(
        ORDER_DETAIL,
        json=payload("order_detail_with_logistics"),
        match=[
            matchers.query_param_matcher(
                {
                    "app_id": "6510",
                    "timestamp": "1767225600",
                    "order_id": "27061900338318741",
                    "sig": "9006668779c1038e4ab429488fc8eb53",  # worked example 1 in test_signing.py
                }
            )
        ],
    )

    order = client.order("27061900338318741")

    assert order.order_id == "27061900338318741"


def test_a_post_signs_raw_values_but_sends_them_url_encoded_and_drops_empty_ones(client, mocked, payload):
    mocked.post(PROFILE, json=payload("ok"))

    client.call(
        "POST",
        "/api/v1/partner/community/profile/save",
        {"community_id": "sunny-garden", "rules": "骑手请走北门 & 停车区 A", "note": "", "version": 3},
    )

    query, form = sent(mocked.calls[0])
    assert query == {"app_id": "6510", "timestamp": "1767225600", "sig": "69b140dc9f8842077509f95cdd4f1d92"}
    assert form == {"community_id": "sunny-garden", "rules": "骑手请走北门 & 停车区 A", "version": "3"}
    raw_body = mocked.calls[0].request.body
    assert "%E9%AA%91" in raw_body and "+%26+" in raw_body  # encoded on the wire


def test_every_call_is_sent_with_explicit_connect_and_read_timeouts(wire, mocked, payload):
    mocked.get(PING, json=payload("ping_ok"), match=[matchers.request_kwargs_matcher({"timeout": (0.5, 1.5)})])
    client = MeituanClient(wire.base_url, wire.app_id, wire.app_secret, timeout=(0.5, 1.5))

    assert client.ping() == ["6510001", "6510002"]


def test_a_session_passed_in_is_the_one_used(wire, mocked, payload):
    mocked.get(PING, json=payload("ping_ok"))
    session = requests.Session()
    session.headers["X-Trace"] = "t-1"
    client = MeituanClient(wire.base_url, wire.app_id, wire.app_secret, session=session)

    client.ping()

    assert mocked.calls[0].request.headers["X-Trace"] == "t-1"


# -- the envelope and its errors ------------------------------------------------------


def test_a_refused_signature_is_an_auth_error_with_meituans_code_and_message(client, mocked, payload):
    mocked.get(PING, json=payload("error_signature"))

    with pytest.raises(MeituanAuthError) as caught:
        client.ping()

    assert (caught.value.code, caught.value.msg) == (703, "签名验证错误")


def test_an_unknown_app_id_is_an_auth_error(client, mocked, payload):
    mocked.get(PING, json=payload("error_app_id"))

    with pytest.raises(MeituanAuthError) as caught:
        client.ping()

    assert caught.value.code == 702


def test_other_error_envelopes_are_meituan_errors_but_not_auth_errors(client, mocked, payload):
    mocked.get(PING, json=payload("error_operation_failed"))

    with pytest.raises(MeituanError) as caught:
        client.ping()

    assert not isinstance(caught.value, MeituanAuthError)
    assert caught.value.code == 808


def test_an_http_5xx_is_a_transport_error(client, mocked):
    mocked.get(PING, status=502, body="<html>Bad Gateway</html>")

    with pytest.raises(MeituanTransportError, match="HTTP 502"):
        client.ping()


@pytest.mark.parametrize("body", ["<html>maintenance</html>", '{"result": "ok"}', "[1, 2]", "\xff\xfe"])
def test_a_body_that_is_not_meituans_envelope_is_a_protocol_error(client, mocked, body):
    mocked.get(PING, body=body)

    with pytest.raises(MeituanProtocolError):
        client.ping()


def test_an_http_4xx_without_an_envelope_is_a_protocol_error(client, mocked):
    mocked.get(PING, status=404, json={"message": "not found"})

    with pytest.raises(MeituanProtocolError, match="HTTP 404"):
        client.ping()


def test_a_refused_connection_is_a_transport_error_that_does_not_quote_the_signed_url(client, mocked):
    mocked.get(PING, body=requests.exceptions.ConnectionError("http://x/?sig=abc&app_id=6510"))

    with pytest.raises(MeituanTransportError) as caught:
        client.ping()

    assert "sig=" not in str(caught.value)


def test_a_connect_timeout_is_a_timeout(client, mocked):
    mocked.get(PING, body=requests.exceptions.ConnectTimeout())

    with pytest.raises(MeituanTimeout):
        client.ping()


# -- endpoints ---------------------------------------------------------------------------


def test_order_detail_without_a_delivery_code_asks_the_logistics_status_too(client, mocked, payload):
    mocked.get(ORDER_DETAIL, json=payload("order_detail"))
    mocked.get(
        LOGISTICS,
        json=payload("logistics_status"),
        match=[matchers.query_param_matcher({"order_id": "27061900338318741"}, strict_match=False)],
    )

    order = client.order("27061900338318741")

    assert (order.status, order.logistics_status) == (4, 20)
    assert (order.delivery_time, order.updated_at) == (1767226800, 1767225300)


def test_order_detail_with_a_delivery_code_needs_one_call(client, mocked, payload):
    mocked.get(ORDER_DETAIL, json=payload("order_detail_with_logistics"))

    order = client.order("27061900338318741")

    assert (order.status, order.logistics_status, order.delivery_time) == (8, 40, None)  # 0: as soon as possible


def test_verify_rider_posts_the_credential_in_the_body_not_the_url_and_masks_the_answer(client, mocked, payload):
    mocked.post(RIDER_VERIFY, json=payload("rider_verify"))

    rider = client.verify_rider("tok-secret-1", "token")

    query, form = sent(mocked.calls[0])
    assert form == {"credential": "tok-secret-1", "credential_type": "token"}
    assert "tok-secret-1" not in mocked.calls[0].request.url
    assert set(query) == {"app_id", "timestamp", "sig"}
    assert (rider.ref, rider.masked_name, rider.masked_phone, rider.status) == (
        "R1001",
        "王**",
        "138****5678 转 1234",
        1,
    )


def test_partner_field_names_come_from_configuration(wire, mocked):
    names = FieldNames(
        credential="rider_token",
        credential_type="kind",
        rider_ref="uid",
        rider_name="nm",
        rider_phone="tel",
        rider_status="st",
    )
    mocked.post(RIDER_VERIFY, json={"data": {"uid": "U-7", "nm": "李*", "tel": "13900004321", "st": 2}})
    client = MeituanClient(wire.base_url, wire.app_id, wire.app_secret, field_names=names)

    rider = client.verify_rider("t", "code")

    assert sent(mocked.calls[0])[1] == {"rider_token": "t", "kind": "code"}
    assert (rider.ref, rider.masked_phone, rider.status) == ("U-7", "139****4321", 2)


def test_a_verification_answer_without_a_rider_id_is_a_protocol_error(client, mocked):
    mocked.post(RIDER_VERIFY, json={"data": {"rider_name": "王*"}})

    with pytest.raises(MeituanProtocolError, match="rider_id"):
        client.verify_rider("t", "token")


def test_rider_orders_names_the_rider_by_ref_when_known(client, mocked, payload):
    mocked.post(RIDER_ORDERS, json=payload("rider_orders"))

    orders = client.rider_orders("MT-C-88", rider_ref="R1001")

    assert sent(mocked.calls[0])[1] == {"community_id": "MT-C-88", "rider_id": "R1001"}
    assert [o.order_id for o in orders] == [
        "27061900338318741",
        "27061900338318742",
        "27061900338318743",
        "27061900338318744",
    ]
    assert (orders[0].community_ref, orders[0].building, orders[0].rider_ref) == ("MT-C-88", "3", "R1001")


def test_rider_orders_names_the_rider_by_credential_otherwise(client, mocked, payload):
    mocked.post(RIDER_ORDERS, json=payload("rider_orders"))

    client.rider_orders("MT-C-88", credential="123456", credential_type="code")

    assert sent(mocked.calls[0])[1] == {"community_id": "MT-C-88", "credential": "123456", "credential_type": "code"}


def test_orders_that_are_not_a_list_of_objects_are_a_protocol_error(client, mocked):
    mocked.post(RIDER_ORDERS, json={"data": {"orders": []}})

    with pytest.raises(MeituanProtocolError):
        client.rider_orders("MT-C-88", rider_ref="R1001")


def test_an_order_without_order_id_is_a_protocol_error(client, mocked):
    mocked.post(RIDER_ORDERS, json={"data": [{"status": 4}]})

    with pytest.raises(MeituanProtocolError, match="order_id"):
        client.rider_orders("MT-C-88", rider_ref="R1001")


def test_a_community_profile_is_sent_as_a_json_string_and_its_reference_returned(client, mocked, payload):
    mocked.post(PROFILE, json=payload("profile_saved"))

    ref = client.save_community_profile("MT-C-88", 3, {"rules_zh": "请走北门", "gates": [{"id": "north"}]})

    form = sent(mocked.calls[0])[1]
    assert form == {
        "community_id": "MT-C-88",
        "version": "3",
        "profile": '{"rules_zh":"请走北门","gates":[{"id":"north"}]}',
    }
    assert ref == "MTP-MT-C-88-3"


def test_a_rider_notice_is_sent_and_its_reference_returned(client, mocked, payload):
    mocked.post(NOTICE, json=payload("notice_sent"))

    ref = client.send_rider_notice("R1001", "gate_open", "北门已开", "The north gate is open", {"gate": "north"})

    assert sent(mocked.calls[0])[1] == {
        "rider_id": "R1001",
        "kind": "gate_open",
        "text_zh": "北门已开",
        "text_en": "The north gate is open",
        "data": '{"gate":"north"}',
    }
    assert ref == "MTN-20260101-0001"


def test_an_accepted_call_without_a_reference_returns_an_empty_one(client, mocked, payload):
    mocked.post(NOTICE, json=payload("ok"))

    assert client.send_rider_notice("R1001", "gate_open", "北门已开", "Open", {}) == ""


def test_the_client_never_shows_its_secret(wire):
    client = MeituanClient(wire.base_url, wire.app_id, wire.app_secret)
    assert wire.app_secret not in repr(client)
