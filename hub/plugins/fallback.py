"""The manual-check fallback: what to do when the platform could not say who the rider is
or what they deliver.

A platform that is down, slow or behind an open circuit must never turn into a denial a
rider cannot understand, nor into an unchecked grant: this plugin votes *manual check*, so
a guard decides. A credential the platform did answer about and rejected is a denial, in
the platform's own words.

It reads ``EntryContext.problems``, which the engine fills with one
:class:`~hub.core.model.Problem` per failed upstream call (codes ``timeout``, ``error``,
``circuit_open``, ``rejected``); a rejection carries the words to show the rider.
"""

from __future__ import annotations

from hub.core.errors import CredentialRejected
from hub.core.hookspecs import hookimpl
from hub.core.model import EntryContext, PluginInfo, PluginKind, Verdict
from hub.plugins.info import builtin_info

_UNREACHABLE: dict[str, tuple[str, str]] = {
    "timeout": (
        "平台响应超时，请门岗人工核验",
        "The platform did not answer in time; a guard will check you.",
    ),
    "circuit_open": (
        "平台暂时无法连接，请门岗人工核验",
        "The platform cannot be reached right now; a guard will check you.",
    ),
    "error": (
        "平台暂时无法验证，请门岗人工核验",
        "The platform could not be reached; a guard will check you.",
    ),
}

# The hub's own words for a rejection that came without any.
_DEFAULT_REJECTION = CredentialRejected("")


class ManualCheckFallback:
    """Votes deny for a rejected credential, manual check when the platform could not be
    asked or the rider is unknown, and abstains otherwise."""

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return builtin_info(
            "manual-check-fallback",
            "Sends an entry to the guard's manual check when a platform cannot be asked; "
            "denies a credential the platform rejected.",
            {"manual_check"},
            kinds={PluginKind.POLICY, PluginKind.CORE},
        )

    @hookimpl
    def hub_evaluate_entry(self, context: EntryContext) -> Verdict | None:
        rejected = next((p for p in context.problems if p.code == "rejected"), None)
        if rejected is not None:
            reason = rejected.reason
            zh, en = (reason.zh, reason.en) if reason else ("", rejected.message)
            return Verdict.deny(
                "rider_not_verified", zh or _DEFAULT_REJECTION.reason_zh, en or _DEFAULT_REJECTION.reason_en
            )
        if context.problems:
            code = context.problems[0].code
            if code not in _UNREACHABLE:
                code = "error"
            return Verdict.manual(f"platform_{code}", *_UNREACHABLE[code])
        if context.rider is None:
            return Verdict.manual(
                "rider_unconfirmed",
                "无法确认骑手身份，请门岗人工核验",
                "Your identity could not be confirmed; a guard will check you.",
            )
        return None
