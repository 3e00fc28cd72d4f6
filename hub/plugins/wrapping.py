"""Helpers for built-in plugins that implement many capability hooks the same way.

pluggy finds an implementation by attribute, and ``@hookimpl(specname=...)`` lets one
function implement a hook whatever its attribute is called. :func:`attach_hookimpls`
uses that to give a plugin instance one implementation per hook, each built by a factory,
so timing, timeouts and the circuit breaker are written once instead of once per hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hub.core.hookspecs import hookimpl

#: Builds the implementation of one hook, given the hook's name. The function it returns
#: names the hook arguments it wants (usually just ``connection``), like any pluggy
#: implementation, and is a generator when it is meant to be a wrapper.
ImplFactory = Callable[[str], Callable[..., Any]]


def attach_hookimpls(plugin: object, role: str, hooks: Iterable[str], factory: ImplFactory, **opts: Any) -> None:
    """Give ``plugin`` an implementation of each hook in ``hooks``, built by
    ``factory(hook_name)`` and marked ``@hookimpl(specname=hook_name, **opts)``.

    The implementations become instance attributes named ``_<role>_<hook name>`` (pluggy
    looks for implementations on the instance as well as on its class), so call this from
    the plugin's ``__init__``, before the plugin is registered. ``role`` keeps two sets
    on one plugin apart, e.g. a guard and a wrapper for the same hooks.

    Example::

        class Stopwatch:
            def __init__(self):
                attach_hookimpls(self, "timed", CAPABILITY_HOOKS, self._timed, wrapper=True)

            def _timed(self, hook_name):
                def timed(connection):
                    started = time.monotonic()
                    result = yield
                    print(hook_name, connection.id, time.monotonic() - started)
                    return result
                return timed
    """
    for hook_name in hooks:
        impl = hookimpl(specname=hook_name, **opts)(factory(hook_name))
        setattr(plugin, f"_{role}_{hook_name}", impl)
