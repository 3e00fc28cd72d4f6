"""The partner part of the protocol: actions and fields that are NOT in Ele.me's public docs.

Verifying a rider, listing a rider's orders into a community, publishing a community's
profile and sending a rider a notice belong to partner agreements between Ele.me and a
property-side integrator; their action names and field names are not public. Every one of
them is therefore a connection setting whose default is what
:mod:`last100_eleme.simulator` serves. Envelope, signing, error codes, order states and
push messages around them are the public ones.

Where a public name exists for the same thing it is the default: order fields follow the
public ``OOrder`` (``orderId``, ``status``, ``deliveryPoiAddress``) and delivery states
the public delivery-state messages (``state``, ``updateAt``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

#: Default action names of the partner endpoints (settings of the same names).
DEFAULT_ACTIONS: Mapping[str, str] = {
    "verify_action": "eleme.partner.rider.verifyCredential",
    "orders_action": "eleme.partner.rider.getActiveOrders",
    "profile_action": "eleme.partner.community.publishProfile",
    "notice_action": "eleme.partner.rider.sendNotice",
}

#: Push ``type`` of the partner's rider-status message (a rider suspended or reinstated).
#: Public message types stop at a few hundred; partner types live above them.
DEFAULT_RIDER_PUSH_TYPE = 9001


@dataclass(frozen=True)
class PartnerFields:
    """Wire names of the partner fields, by what they mean. Override any of them with the
    ``partner_fields`` setting, e.g. ``{"typed_code": "riderCode"}``."""

    # rider verification: request
    token: str = "riderToken"  # a token handed over by the Ele.me rider app
    typed_code: str = "verifyCode"  # a code the rider typed on the hub's rider page
    # rider verification: result
    valid: str = "valid"
    reason: str = "reason"
    rider_id: str = "riderId"
    masked_name: str = "maskedName"
    masked_phone: str = "maskedPhone"
    suspended: str = "suspended"
    # orders (request and result), and the partner extension of public OOrder and pushes
    community_id: str = "communityId"
    orders: str = "orders"
    order_id: str = "orderId"
    order_status: str = "status"
    delivery_state: str = "deliveryState"
    building: str = "building"
    address: str = "deliveryPoiAddress"
    eta: str = "estimatedDeliveryAt"  # unix milliseconds
    updated_at: str = "updateAt"  # unix milliseconds, as in public delivery messages
    # community profile
    profile: str = "profile"
    profile_ref: str = "profileId"
    # rider notice
    notice_kind: str = "kind"
    notice_zh: str = "textZh"
    notice_en: str = "textEn"
    notice_data: str = "data"
    message_id: str = "messageId"

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every overridable meaning, as accepted in the ``partner_fields`` setting."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str]) -> PartnerFields:
        """The defaults with some wire names replaced.

        :raises ValueError: an override names no known field.
        """
        unknown = set(overrides) - set(cls.names())
        if unknown:
            raise ValueError(f"unknown partner fields: {', '.join(sorted(unknown))}")
        return cls(**overrides)


DEFAULT_FIELDS = PartnerFields()
