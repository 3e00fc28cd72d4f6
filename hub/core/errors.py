"""Errors plugins raise and the hub understands.

Adapters map their vendor's failures onto these, so the engine can tell "the rider is not
who they claim" (deny) from "the platform did not answer" (manual check).
"""

from __future__ import annotations


class HubError(Exception):
    """Base class of every error the hub raises on purpose."""

    code = "hub_error"


class PluginError(HubError):
    """A plugin cannot be loaded or is misconfigured (a bad ``hub_plugin_info``, a
    duplicate name, a hook with a wrong signature)."""

    code = "plugin_error"


class SettingsError(HubError):
    """A connection's settings are invalid. ``errors`` maps each setting to messages."""

    code = "invalid_settings"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.errors = errors or {}


class NotFound(HubError):
    code = "not_found"


class Conflict(HubError):
    """The request contradicts what is stored (e.g. an idempotency key reused with a
    different body)."""

    code = "conflict"


class UpstreamError(HubError):
    """A platform or device failed to answer properly. The entry becomes a manual
    check; it is never a denial and never an unchecked grant."""

    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"


class CircuitOpen(UpstreamError):
    """The connection failed repeatedly; the hub stops calling it for a while."""

    code = "circuit_open"


class CredentialRejected(HubError):
    """The platform says the credential is invalid, expired or not a rider of theirs.

    ``reason_zh`` and ``reason_en`` are shown to the rider.
    """

    code = "credential_rejected"

    def __init__(self, message: str, reason_zh: str = "", reason_en: str = ""):
        super().__init__(message)
        self.reason_zh = reason_zh or "骑手身份未通过平台验证"
        self.reason_en = reason_en or message or "The platform did not recognise this rider"


class PushRejected(HubError):
    """An inbound push failed authentication or could not be parsed.

    ``status`` is the HTTP status to answer with (401 forged or stale, 400 malformed).
    """

    code = "push_rejected"

    def __init__(self, message: str, status: int = 401):
        super().__init__(message)
        self.status = status


class CapabilityMissing(HubError):
    """The connection's plugin does not implement the hook that was asked for."""

    code = "capability_missing"


_MAX_DETAIL = 300


def describe_error(exc: BaseException) -> str:
    """Words about a failure that are safe to keep in traces, audit records and the
    outbox.

    The hub's own errors carry messages written to be shown (adapters map vendor failures
    onto them and keep secrets out); any other exception's message may quote a URL with
    a token in it or a request body, so only its type is kept.
    """
    if isinstance(exc, HubError):
        return str(exc)[:_MAX_DETAIL]
    return type(exc).__name__
