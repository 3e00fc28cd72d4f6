"""Assembles one running hub from its configuration: storage, shared state, plugins,
entry engine.

The web app, the CLI and the scheduler all start from :func:`build_runtime`, so they load
the same plugins the same way. The shared state (:mod:`hub.core.shared`: in the process,
or in Redis when ``shared_state_url`` is set) is made once per runtime and handed to the
verification cache, the circuit breakers and the engine's single-use claims.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.core.clock import Clock
from hub.core.config import Config, ConfigError
from hub.core.engine import EntryEngine
from hub.core.errors import PluginError
from hub.core.plugins import Hub
from hub.core.reconcile import ReconcileSettings
from hub.core.shared import SharedState, open_shared_state
from hub.core.store import Store
from hub.core.tokens import GateCodes, PresenceCodes
from hub.plugins import builtin_plugins


@dataclass
class Runtime:
    config: Config
    clock: Clock
    store: Store
    hub: Hub
    engine: EntryEngine
    #: Where the cache, the circuits and used codes live (see hub.core.shared).
    shared: SharedState = field(default_factory=SharedState)
    gate_codes: GateCodes = field(init=False)

    def __post_init__(self) -> None:
        self.gate_codes = GateCodes(self.config.effective_gate_key)

    def close(self) -> None:
        self.engine.close()
        self.store.dispose()
        self.shared.close()


def configured_plugins(paths: Iterable[str]) -> list[tuple[object, str]]:
    """Plugins named by import path in the configuration (``"module:factory"``), each
    with its source. They were asked for explicitly, so a wrong path stops the hub
    instead of being skipped."""
    plugins: list[tuple[object, str]] = []
    for path in paths:
        module_name, _, attr = path.partition(":")
        try:
            module = importlib.import_module(module_name)
            target = getattr(module, attr) if attr else module
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"configured plugin {path!r} cannot be imported: {exc}") from exc
        made = target() if callable(target) else target
        plugins.extend((plugin, f"config:{path}") for plugin in (made if isinstance(made, list | tuple) else [made]))
    return plugins


def build_shared_state(config: Config, clock: Clock) -> SharedState:
    """The shared state ``shared_state_url`` names, its Redis connection pool sized for
    every thread of the process that may use it at once (web and upstream threads).

    :raises ConfigError: a URL that is not Redis, or the redis package missing.
    """
    threads = config.threads + (config.upstream_workers or max(32, 4 * config.threads))
    return open_shared_state(
        config.shared_state_url, config.shared_state_key_prefix, max_connections=threads + 4, clock=clock
    )


def build_hub(config: Config, clock: Clock, shared: SharedState | None = None) -> Hub:
    """The plugin manager with the built-ins, the configured plugins and every
    installed plugin of the ``last100`` entry-point group that is not disabled.

    ``shared``: where the built-ins keep their state; by default the one the
    configuration names."""
    hub = Hub(trace=config.trace_plugins)
    try:
        reconcile = ReconcileSettings(config.reconcile_limit, config.reconcile_workers, config.reconcile_batch_size)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if config.verification_cache_size < 1:
        raise ConfigError(f"verification_cache_size must be 1 or more, not {config.verification_cache_size}")
    builtins = builtin_plugins(
        clock,
        failure_threshold=config.breaker_failures,
        reset_after_s=config.breaker_reset_s,
        reconcile=reconcile,
        cache_size=config.verification_cache_size,
        shared=shared if shared is not None else build_shared_state(config, clock),
    )
    hub.load(builtins, disabled=config.disable_plugins, configured=configured_plugins(config.plugins))
    return hub


def build_runtime(config: Config, clock: Clock | None = None) -> Runtime:
    config.require_secrets()
    clock = clock or Clock()
    shared = build_shared_state(config, clock)  # first: a wrong URL stops the hub before it connects
    store = Store(
        config.effective_database_url, config.secret_keys, clock=clock, catalog_cache_s=config.catalog_cache_s
    )
    hub = build_hub(config, clock, shared)
    presence = PresenceCodes(config.effective_gate_key)
    engine = EntryEngine(
        hub,
        store,
        clock,
        presence=presence,
        max_workers=config.upstream_workers or max(32, 4 * config.threads),
        max_per_connection=config.upstream_per_connection or None,
        shared=shared,
    )
    return Runtime(config, clock, store, hub, engine, shared)
