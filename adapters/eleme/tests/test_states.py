"""Ele.me's order and delivery states in the hub's terms (the table in the README)."""

from __future__ import annotations

import pytest

from hub.core.model import OrderStatus
from last100_eleme.states import delivery_status, order_only_status, order_status


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("tobeAssignedMerchant", OrderStatus.ACCEPTED),
        ("tobeAssignedCourier", OrderStatus.ACCEPTED),
        ("tobeFetched", OrderStatus.ACCEPTED),
        ("arrived", OrderStatus.ACCEPTED),  # at the shop, not at the door
        ("delivering", OrderStatus.DELIVERING),
        ("completed", OrderStatus.DELIVERED),
        ("cancelled", OrderStatus.CANCELLED),
        ("noMoreDelivery", OrderStatus.CANCELLED),
        ("reject", OrderStatus.CANCELLED),
        ("exception", OrderStatus.UNKNOWN),
        ("selfDelivery", OrderStatus.UNKNOWN),
    ],
)
def test_each_public_delivery_state_maps_to_the_tables_hub_status(state, expected):
    assert delivery_status(state) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", OrderStatus.UNKNOWN),
        ("unprocessed", OrderStatus.ACCEPTED),
        ("valid", OrderStatus.ACCEPTED),
        ("refunding", OrderStatus.UNKNOWN),
        ("invalid", OrderStatus.CANCELLED),
        ("settled", OrderStatus.DELIVERED),
    ],
)
def test_each_public_order_status_maps_to_the_tables_hub_status(status, expected):
    assert order_only_status(status) is expected


@pytest.mark.parametrize("code", ["nearby", "DELIVERING", "", None, 55, ["delivering"]])
def test_an_unknown_code_is_unknown_and_never_an_error(code):
    assert delivery_status(code) is OrderStatus.UNKNOWN
    assert order_only_status(code) is OrderStatus.UNKNOWN
    assert order_status(code, code) is OrderStatus.UNKNOWN


def test_the_delivery_state_says_more_than_an_unfinished_order_status():
    assert order_status("valid", "delivering") is OrderStatus.DELIVERING
    assert order_status("refunding", "delivering") is OrderStatus.DELIVERING
    assert order_status("valid", "tobeFetched") is OrderStatus.ACCEPTED


def test_a_finished_or_invalid_order_is_final_whatever_its_delivery_says():
    assert order_status("settled", "delivering") is OrderStatus.DELIVERED
    assert order_status("invalid", "delivering") is OrderStatus.CANCELLED


def test_without_a_delivery_state_the_order_status_decides():
    assert order_status("valid") is OrderStatus.ACCEPTED
    assert order_status("refunding") is OrderStatus.UNKNOWN
