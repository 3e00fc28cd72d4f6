"""What every built-in plugin says about itself."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from hub.core.model import PluginInfo, PluginKind


def _hub_version() -> str:
    try:
        return metadata.version("last100-hub")
    except metadata.PackageNotFoundError:  # a source tree that was never pip-installed
        return "0+unknown"


#: Built-ins ship with the hub, so they carry the hub's own version.
HUB_VERSION = _hub_version()


def builtin_info(
    name: str,
    description: str,
    capabilities: Iterable[str],
    kinds: Iterable[PluginKind] = (PluginKind.CORE,),
) -> PluginInfo:
    """The ``PluginInfo`` of a built-in plugin. Kind ``core`` makes the hub run it around
    every connection's calls instead of routing it like an adapter."""
    return PluginInfo(
        name=name,
        kinds=frozenset(kinds),
        version=HUB_VERSION,
        capabilities=frozenset(capabilities),
        description=description,
    )
