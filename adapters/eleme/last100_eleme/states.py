"""Ele.me's order states and delivery states, in the hub's terms.

Ele.me reports an order on two axes (public docs): the order's status (``OOrderStatus``)
and the delivery's state (``OState``, in delivery-state messages and the delivery record).
The hub cares about the delivery: is a rider bringing this order now?

=====================  ============================================  ===============
Ele.me delivery state  meaning (public docs)                         hub status
=====================  ============================================  ===============
tobeAssignedMerchant   waybill created, no carrier yet               accepted
tobeAssignedCourier    carrier accepted, no rider yet                accepted
tobeFetched            rider assigned, food not yet picked up        accepted
arrived                rider arrived **at the shop**                 accepted
delivering             rider picked up the food and is on the way    delivering
completed              delivered                                     delivered
cancelled              delivery cancelled                            cancelled
noMoreDelivery         merchant stopped delivery                     cancelled
reject                 logistics refused the waybill                 cancelled
exception              delivery exception (customer unreachable...)  unknown
selfDelivery           the merchant delivers with its own staff      unknown
anything else                                                        unknown
=====================  ============================================  ===============

=====================  ============================================  ===============
Ele.me order status    meaning (public docs)                         hub status
=====================  ============================================  ===============
pending                not yet in effect (e.g. unpaid)               unknown
unprocessed            placed, the merchant has not accepted it      accepted
valid                  accepted by the merchant                      accepted
refunding              a refund is being processed                   unknown
invalid                cancelled / invalidated                       cancelled
settled                finished                                      delivered
anything else                                                        unknown
=====================  ============================================  ===============

Ele.me's ``arrived`` is the rider at the shop, not at the customer's door, so the hub's
``arrived`` and ``picked_up`` are never reported: Ele.me has no public state for them.
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.core.model import OrderStatus

DELIVERY_STATES: Mapping[str, OrderStatus] = {
    "tobeAssignedMerchant": OrderStatus.ACCEPTED,
    "tobeAssignedCourier": OrderStatus.ACCEPTED,
    "tobeFetched": OrderStatus.ACCEPTED,
    "arrived": OrderStatus.ACCEPTED,
    "delivering": OrderStatus.DELIVERING,
    "completed": OrderStatus.DELIVERED,
    "cancelled": OrderStatus.CANCELLED,
    "noMoreDelivery": OrderStatus.CANCELLED,
    "reject": OrderStatus.CANCELLED,
    "exception": OrderStatus.UNKNOWN,
    "selfDelivery": OrderStatus.UNKNOWN,
}

ORDER_STATUSES: Mapping[str, OrderStatus] = {
    "pending": OrderStatus.UNKNOWN,
    "unprocessed": OrderStatus.ACCEPTED,
    "valid": OrderStatus.ACCEPTED,
    "refunding": OrderStatus.UNKNOWN,
    "invalid": OrderStatus.CANCELLED,
    "settled": OrderStatus.DELIVERED,
}


def delivery_status(state: object) -> OrderStatus:
    """The hub's status for an Ele.me delivery state; ``unknown`` for any code not in the
    table (Ele.me adds states; an unknown one must never break a gate)."""
    return DELIVERY_STATES.get(state, OrderStatus.UNKNOWN) if isinstance(state, str) else OrderStatus.UNKNOWN


def order_only_status(status: object) -> OrderStatus:
    """The hub's status for an Ele.me order status alone; ``unknown`` for unknown codes."""
    return ORDER_STATUSES.get(status, OrderStatus.UNKNOWN) if isinstance(status, str) else OrderStatus.UNKNOWN


def order_status(status: object, delivery_state: object = None) -> OrderStatus:
    """The hub's status for an order Ele.me reports with its order status and, when
    known, its delivery state.

    A finished or invalid order is final whatever its delivery says; otherwise the
    delivery state, when there is one, says more than the order status (a ``valid`` or
    ``refunding`` order may be anywhere between the shop and the door).
    """
    overall = order_only_status(status)
    if overall.final or delivery_state is None:
        return overall
    return delivery_status(delivery_state)
