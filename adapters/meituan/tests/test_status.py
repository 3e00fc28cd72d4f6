"""Meituan's order and delivery codes in the hub's terms (the table in status.py)."""

from __future__ import annotations

import pytest

from hub.core.model import OrderStatus
from last100_meituan.status import order_status

S = OrderStatus


@pytest.mark.parametrize(
    "status, expected",
    [
        (1, S.ACCEPTED),
        (2, S.ACCEPTED),
        (3, S.ACCEPTED),
        (4, S.ACCEPTED),
        (6, S.DELIVERING),
        (8, S.DELIVERED),
        (9, S.CANCELLED),
    ],
)
def test_order_status_alone(status, expected):
    assert order_status(status, None) is expected


@pytest.mark.parametrize(
    "logistics, expected",
    [
        (0, S.ACCEPTED),
        (5, S.ACCEPTED),
        (10, S.ACCEPTED),
        (15, S.ACCEPTED),
        (20, S.PICKED_UP),
        (40, S.DELIVERED),
        (100, S.CANCELLED),
    ],
)
def test_delivery_status_decides_while_the_order_is_open(logistics, expected):
    assert order_status(4, logistics) is expected


@pytest.mark.parametrize("logistics", [None, 0, 20, 999])
def test_a_completed_or_cancelled_order_is_final_whatever_the_delivery_says(logistics):
    assert order_status(8, logistics) is S.DELIVERED
    assert order_status(9, logistics) is S.CANCELLED


def test_a_rider_at_the_store_has_not_arrived_at_the_community():
    assert order_status(4, 15) is S.ACCEPTED


@pytest.mark.parametrize(
    "status, logistics",
    [(7, None), (None, 30), (4, 30), (7, 20), (None, None), (-1, 20), (4, -5)],
)
def test_unknown_codes_give_unknown_and_never_raise(status, logistics):
    assert order_status(status, logistics) is S.UNKNOWN


def test_arrived_is_never_produced_by_any_known_code():
    produced = {order_status(s, lg) for s in (None, 1, 2, 3, 4, 6, 8, 9) for lg in (None, 0, 5, 10, 15, 20, 40, 100)}
    assert S.ARRIVED not in produced
