"""Meituan's order and delivery status codes in the hub's terms.

Meituan reports two codes: the order's ``status`` and the delivery order's
``logistics_status``. The delivery code is the finer one while a rider is on the way;
the order code settles the end. How they combine:

1. An order that is completed (8) or cancelled (9) is delivered or cancelled, whatever
   the delivery code says.
2. Otherwise, a code this table does not know (either one) gives ``unknown``: the hub
   does not count such an order as evidence for an entry, and nothing is raised.
3. Otherwise the delivery code decides when there is one, else the order code.

==================  =====================================  ===================
code                meaning at Meituan                     hub ``OrderStatus``
==================  =====================================  ===================
status 1            user submitted the order               accepted
status 2            pushed to the merchant                 accepted
status 3            merchant received it                   accepted
status 4            merchant confirmed                     accepted
status 6            being delivered (已配送)               delivering
status 8            completed                              delivered
status 9            cancelled                              cancelled
logistics 0         delivery order sent to delivery        accepted
logistics 5         waiting for a rider (held)             accepted
logistics 10        rider confirmed (took the order)       accepted
logistics 15        rider at the store                     accepted
logistics 20        rider picked the food up               picked_up
logistics 40        delivered                              delivered
logistics 100       delivery order cancelled               cancelled
==================  =====================================  ===================

No public code says "the rider is at the customer's door", so ``arrived`` is never
produced. A delivery cancelled at Meituan (100) is ``cancelled`` even while the order is
open: that rider's trip is over, and a new trip comes with its own delivery code.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.core.model import OrderStatus

ORDER_STATUS: Mapping[int, OrderStatus] = {
    1: OrderStatus.ACCEPTED,
    2: OrderStatus.ACCEPTED,
    3: OrderStatus.ACCEPTED,
    4: OrderStatus.ACCEPTED,
    6: OrderStatus.DELIVERING,
    8: OrderStatus.DELIVERED,
    9: OrderStatus.CANCELLED,
}

LOGISTICS_STATUS: Mapping[int, OrderStatus] = {
    0: OrderStatus.ACCEPTED,
    5: OrderStatus.ACCEPTED,
    10: OrderStatus.ACCEPTED,
    15: OrderStatus.ACCEPTED,
    20: OrderStatus.PICKED_UP,
    40: OrderStatus.DELIVERED,
    100: OrderStatus.CANCELLED,
}


def order_status(status: int | None, logistics_status: int | None) -> OrderStatus:
    """The hub's status for Meituan's ``status`` and ``logistics_status`` (either may be
    ``None`` when absent); see the module's table. Never raises."""
    by_order = ORDER_STATUS.get(status) if status is not None else None
    if by_order is not None and by_order.final:
        return by_order
    by_logistics = LOGISTICS_STATUS.get(logistics_status) if logistics_status is not None else None
    if (status is not None and by_order is None) or (logistics_status is not None and by_logistics is None):
        return OrderStatus.UNKNOWN
    return by_logistics or by_order or OrderStatus.UNKNOWN
