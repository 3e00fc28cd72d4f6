"""The plugin manager and the facade the rest of the hub calls hooks through.

Loading is soft, validation is hard: an entry point that fails to import is logged and
skipped so one broken vendor package does not stop every gate, but a plugin that imports
and then breaks the contract (a bad ``hub_plugin_info``, a duplicate name, a hook with a
wrong signature) stops the hub with a message naming it.

Nothing outside this module touches ``pm.hook``: views, jobs and the engine call
``hub.verify_rider(...)`` and friends.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import marshmallow
import pluggy

from hub.core import hookspecs
from hub.core.errors import CapabilityMissing, PluginError, SettingsError
from hub.core.model import (
    AccessEvent,
    AccessGrant,
    Community,
    CommunityProfile,
    Connection,
    Credential,
    Entry,
    EntryContext,
    Gate,
    GrantRequest,
    Health,
    JobSpec,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    PluginInfo,
    PluginKind,
    PushEvent,
    PushRequest,
    Receipt,
    RiderClaim,
    RiderIdentity,
    Verdict,
    Visit,
    VisitorRecord,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT

# A settings field whose name looks like a secret must say whether it is one.
_SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_?key|private_?key)", re.I)


@dataclass(frozen=True)
class PluginRecord:
    """A loaded plugin: what it says about itself, where it came from, what it hooks."""

    info: PluginInfo
    source: str  # "builtin" or the distribution name that provided the entry point
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class LoadFailure:
    """An entry point that could not be imported (and was skipped)."""

    name: str
    source: str
    error: str


@dataclass
class _Registry:
    records: dict[str, PluginRecord] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)


def _trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log every hook call with its duration (``LAST100_TRACE_PLUGINS=1``)."""
    # A stack per thread: a hook implementation (or wrapper) may call another hook, and
    # the inner call must not overwrite the outer call's start time.
    local = threading.local()

    def before(hook_name: str, hook_impls: list, kwargs: Mapping[str, Any]) -> None:
        stack = getattr(local, "starts", None)
        if stack is None:
            stack = local.starts = []
        stack.append(time.perf_counter())

    def after(outcome: Any, hook_name: str, hook_impls: list, kwargs: Mapping) -> None:
        # pluggy calls ``after`` for every ``before``, even when the hook raised.
        started = local.starts.pop()
        ms = (time.perf_counter() - started) * 1000
        plugins = ",".join(pm.get_name(impl.plugin) or "?" for impl in hook_impls)
        failed = outcome.exception is not None
        log.info("hook %s [%s] %.1f ms%s", hook_name, plugins, ms, " (raised)" if failed else "")

    pm.add_hookcall_monitoring(before, after)


def validate_info(info: Any, plugin_label: str) -> PluginInfo:
    """Check what ``hub_plugin_info`` returned; raise :class:`PluginError` if invalid."""
    if not isinstance(info, PluginInfo):
        raise PluginError(f"{plugin_label}: hub_plugin_info must return a PluginInfo, got {info!r}")
    if not PluginInfo.valid_name(info.name):
        raise PluginError(
            f"{plugin_label}: plugin name {info.name!r} must be 2-40 lowercase letters, digits, "
            "'-' or '_', starting with a letter"
        )
    if not info.kinds:
        raise PluginError(f"{info.name}: a plugin must declare at least one kind")
    if not info.version:
        raise PluginError(f"{info.name}: a plugin must declare its version")
    schema = info.settings_schema
    if schema is not None:
        if not (isinstance(schema, type) and issubclass(schema, marshmallow.Schema)):
            raise PluginError(f"{info.name}: settings_schema must be a marshmallow Schema class")
        for fname, fobj in schema._declared_fields.items():
            if _SECRET_NAME.search(fname) and "secret" not in fobj.metadata:
                raise PluginError(
                    f"{info.name}: setting {fname!r} looks like a secret; mark it with "
                    "metadata={'secret': True} (or 'secret': False if it is not one)"
                )
    return info


def secret_fields(info: PluginInfo) -> frozenset[str]:
    """Names of the settings a plugin marks as secret."""
    if info.settings_schema is None:
        return frozenset()
    return frozenset(
        name for name, fobj in info.settings_schema._declared_fields.items() if fobj.metadata.get("secret")
    )


class Hub:
    """The facade over the plugin manager: load plugins, describe them, call hooks.

    Capability hooks are routed to the plugin that owns the connection; the built-in
    wrappers (kind ``core``) still run around the call.
    """

    def __init__(self, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._registry = _Registry()
        self._routes: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        if trace:
            _trace_hook_calls(self.pm)

    # -- loading ---------------------------------------------------------------

    def register(self, plugin: object, source: str = "builtin") -> PluginRecord:
        """Register one plugin object; raises :class:`PluginError` if it is invalid."""
        return self._register(plugin, self._describe(plugin), source)

    @staticmethod
    def _describe(plugin: object, label: str | None = None) -> PluginInfo:
        """Call the plugin's ``hub_plugin_info`` and validate the answer."""
        label = label or getattr(plugin, "__name__", type(plugin).__name__)
        impl = getattr(plugin, "hub_plugin_info", None)
        if impl is None:
            raise PluginError(f"{label}: a plugin must implement hub_plugin_info")
        try:
            info = impl()
        except Exception as exc:  # e.g. PluginInfo(kinds={"robot"}) raises ValueError
            raise PluginError(f"{label}: hub_plugin_info failed: {exc}") from exc
        return validate_info(info, label)

    def _register(self, plugin: object, info: PluginInfo, source: str) -> PluginRecord:
        if info.name in self._registry.records:
            other = self._registry.records[info.name].source
            raise PluginError(
                f"two plugins are named {info.name!r} (from {other} and {source}); "
                "uninstall one or block it with LAST100_DISABLE_PLUGINS"
            )
        try:
            self.pm.register(plugin, name=info.name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            raise PluginError(f"{info.name}: {exc}") from exc
        except ValueError as exc:
            raise PluginError(f"{info.name}: {exc}") from exc
        hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or ()))
        record = PluginRecord(info=info, source=source, hooks=hooks)
        self._registry.records[info.name] = record
        self._routes.clear()
        return record

    def load_entry_points(self, disabled: Iterable[str] = ()) -> None:
        """Register every plugin of the ``last100`` entry-point group, except the
        disabled ones. An entry point that fails to import is logged and skipped."""
        blocked = set(disabled)
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked:
                log.info("plugin %s is disabled", ep.name)
                continue
            source = ep.dist.name if ep.dist else ep.value
            try:
                plugin = ep.load()
            except Exception as exc:  # one broken package must not stop every gate
                log.error("plugin %s (%s) failed to import and was skipped: %s", ep.name, source, exc)
                self._registry.failures.append(LoadFailure(ep.name, source, repr(exc)))
                continue
            if isinstance(plugin, type):
                plugin = plugin()
            info = self._describe(plugin, f"plugin {ep.name} ({source})")
            if info.name in blocked:
                log.info("plugin %s (entry point %s) is disabled", info.name, ep.name)
                continue
            self._register(plugin, info, source)

    def load(
        self,
        builtins: Iterable[object],
        disabled: Iterable[str] = (),
        configured: Iterable[tuple[object, str]] = (),
    ) -> Hub:
        """Register the built-in plugins, then the ``configured`` ones (pairs of plugin
        and where it came from), then the installed ones, skipping any whose plugin name
        (or entry-point name) is in ``disabled``."""
        blocked = set(disabled)
        for plugin, source in [*((p, "builtin") for p in builtins), *configured]:
            info = self._describe(plugin)
            if info.name not in blocked:
                self._register(plugin, info, source)
        self.load_entry_points(blocked)
        return self

    # -- describing ------------------------------------------------------------

    def plugins(self) -> list[PluginRecord]:
        return sorted(self._registry.records.values(), key=lambda r: r.info.name)

    @property
    def load_failures(self) -> list[LoadFailure]:
        return list(self._registry.failures)

    def plugin(self, name: str) -> PluginRecord:
        try:
            return self._registry.records[name]
        except KeyError:
            known = ", ".join(sorted(self._registry.records)) or "none"
            raise PluginError(f"no plugin named {name!r} is installed (installed: {known})") from None

    def validate_settings(self, plugin_name: str, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Load ``settings`` through the plugin's schema; :class:`SettingsError` names
        every wrong setting."""
        info = self.plugin(plugin_name).info
        if info.settings_schema is None:
            if settings:
                raise SettingsError(
                    f"plugin {plugin_name!r} takes no settings",
                    {name: ["Unknown setting."] for name in settings},
                )
            return {}
        try:
            return info.settings_schema().load(dict(settings))
        except marshmallow.ValidationError as exc:
            errors = exc.normalized_messages()
            names = ", ".join(sorted(errors))
            raise SettingsError(f"invalid settings for {plugin_name}: {names}", errors) from exc

    # -- routing ---------------------------------------------------------------

    def _caller(self, hook_name: str, owner: str) -> Any:
        key = (hook_name, owner)
        caller = self._routes.get(key)
        if caller is None:
            with self._lock:
                hook = getattr(self.pm.hook, hook_name)
                impls = hook.get_hookimpls()
                owner_plugin = self.pm.get_plugin(owner)
                if owner_plugin is None:
                    raise CapabilityMissing(f"no plugin named {owner!r} is loaded")
                if not any(i.plugin is owner_plugin and not (i.wrapper or i.hookwrapper) for i in impls):
                    raise CapabilityMissing(f"plugin {owner!r} does not implement {hook_name}")
                others = {
                    i.plugin
                    for i in impls
                    if i.plugin is not owner_plugin
                    and PluginKind.CORE not in self._registry.records[i.plugin_name].info.kinds
                }
                caller = self.pm.subset_hook_caller(hook_name, others)
                self._routes[key] = caller
        return caller

    def _route(self, hook_name: str, connection: Connection, **kwargs: Any) -> Any:
        return self._caller(hook_name, connection.plugin)(connection=connection, **kwargs)

    def is_loaded(self, plugin_name: str) -> bool:
        return plugin_name in self._registry.records

    def implements(self, plugin_name: str, hook_name: str) -> bool:
        return hook_name in self.plugin(plugin_name).hooks

    # -- metadata hooks --------------------------------------------------------

    def check_connection(self, connection: Connection) -> Health:
        return self._route("hub_check_connection", connection)

    def jobs(self) -> list[JobSpec]:
        specs = [spec for specs in self.pm.hook.hub_jobs() for spec in specs]
        seen: set[str] = set()
        for spec in specs:
            if spec.id in seen:
                raise PluginError(f"two plugins contribute a job with id {spec.id!r}")
            seen.add(spec.id)
        return specs

    # -- platform side ---------------------------------------------------------

    def verify_rider(self, connection: Connection, credential: Credential, gate: Gate) -> RiderIdentity:
        return self._route("hub_verify_rider", connection, credential=credential, gate=gate)

    def active_orders(self, connection: Connection, rider: RiderClaim, community: Community) -> list[Order]:
        return self._route("hub_active_orders", connection, rider=rider, community=community) or []

    def get_order(self, connection: Connection, order_ref: str) -> Order | None:
        return self._route("hub_get_order", connection, order_ref=order_ref)

    def parse_push(self, connection: Connection, request: PushRequest) -> list[PushEvent]:
        return self._route("hub_parse_push", connection, request=request) or []

    def publish_community(self, connection: Connection, profile: CommunityProfile) -> Receipt:
        return self._route("hub_publish_community", connection, profile=profile)

    def notify_rider(self, connection: Connection, rider_ref: str, notice: Notice) -> Receipt:
        return self._route("hub_notify_rider", connection, rider_ref=rider_ref, notice=notice)

    # -- property side ---------------------------------------------------------

    def grant_access(self, connection: Connection, gate: Gate, grant: GrantRequest) -> AccessGrant:
        return self._route("hub_grant_access", connection, gate=gate, grant=grant)

    def revoke_access(self, connection: Connection, gate: Gate, grant: AccessGrant) -> bool:
        return bool(self._route("hub_revoke_access", connection, gate=gate, grant=grant))

    def open_door(self, connection: Connection, gate: Gate, reason: str) -> bool:
        return bool(self._route("hub_open_door", connection, gate=gate, reason=reason))

    def access_events(self, connection: Connection, gate: Gate, since: Any) -> list[AccessEvent]:
        return self._route("hub_access_events", connection, gate=gate, since=since) or []

    def register_visitor(self, connection: Connection, visit: Visit) -> VisitorRecord:
        return self._route("hub_register_visitor", connection, visit=visit)

    def allocate_locker(self, connection: Connection, bank: LockerBank, order: Order) -> LockerAllocation:
        return self._route("hub_allocate_locker", connection, bank=bank, order=order)

    def release_locker(self, connection: Connection, allocation: LockerAllocation) -> bool:
        return bool(self._route("hub_release_locker", connection, allocation=allocation))

    # -- decision pipeline -----------------------------------------------------

    def evaluate_entry(self, context: EntryContext) -> list[Verdict]:
        return [v for v in self.pm.hook.hub_evaluate_entry(context=context) if v is not None]

    def entry_decided(self, entry: Entry) -> None:
        self._notify("hub_entry_decided", f"entry {entry.id}", entry=entry)

    def push_received(self, connection: Connection, event: PushEvent) -> None:
        self._notify(
            "hub_push_received", f"event {event.event_id} on {connection.id}", connection=connection, event=event
        )

    def _notify(self, hook_name: str, about: str, **kwargs: Any) -> None:
        """Tell every listener of a broadcast hook about something already committed;
        one listener's failure is logged and neither undoes it nor keeps the other
        listeners from hearing about it."""
        hook = getattr(self.pm.hook, hook_name)
        listeners = [
            impl.plugin
            for impl in reversed(hook.get_hookimpls())  # pluggy's call order
            if not (impl.wrapper or impl.hookwrapper)
        ]
        for listener in listeners:
            others = [p for p in listeners if p is not listener]
            try:
                self.pm.subset_hook_caller(hook_name, others)(**kwargs)
            except Exception:  # what happened is committed; a listener's failure must not undo it
                log.exception("%s listener %s failed for %s", hook_name, self.pm.get_name(listener), about)
