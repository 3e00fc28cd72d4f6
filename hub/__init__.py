"""Last100 Hub: connects delivery platforms to residential gates, doors and lockers.

Plugin authors need only this module::

    from hub import hookimpl, PluginInfo, RiderIdentity

    class MyPlatform:
        @hookimpl
        def hub_plugin_info(self):
            return PluginInfo(name="myplatform", kinds={"platform"}, version="1.0")
"""

from hub.core.hookspecs import hookimpl
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    CommunityPolicy,
    CommunityProfile,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Entry,
    EntryContext,
    Gate,
    GrantRequest,
    Health,
    JobOutcome,
    JobSpec,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    OrderStatus,
    PassKind,
    PluginInfo,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    RiderStatus,
    Verdict,
    Visit,
    VisitorRecord,
)

__all__ = [
    "AccessEvent",
    "AccessGrant",
    "Community",
    "CommunityPolicy",
    "CommunityProfile",
    "Connection",
    "Credential",
    "CredentialKind",
    "Decision",
    "Entry",
    "EntryContext",
    "Gate",
    "GrantRequest",
    "Health",
    "JobOutcome",
    "JobSpec",
    "LockerAllocation",
    "LockerBank",
    "Notice",
    "Order",
    "OrderStatus",
    "PassKind",
    "PluginInfo",
    "PushEvent",
    "PushRequest",
    "Receipt",
    "RiderClaim",
    "RiderIdentity",
    "RiderStatus",
    "Verdict",
    "Visit",
    "VisitorRecord",
    "hookimpl",
]
