"""Deployment configuration: defaults, then a TOML file, then ``LAST100_*`` variables.

The instance folder holds what one deployment owns: its configuration file
(``last100.toml``), the SQLite database of the embedded default, and nothing else.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hub.core.errors import HubError

ENV_PREFIX = "LAST100_"
CONFIG_FILE = "last100.toml"


class ConfigError(HubError):
    code = "invalid_config"


@dataclass(frozen=True)
class Config:
    """Settings for one deployment. See ``config/production.example.toml``."""

    instance_path: Path = Path("instance")
    database_url: str = ""
    #: Fernet keys encrypting connection secrets; the first encrypts, all decrypt.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Flask's session signing key.
    secret_key: str = field(default="", repr=False)
    #: Signs printed gate codes and derives gate screens' presence codes; changing it
    #: invalidates every printed gate QR. Empty: ``secret_key`` is used.
    gate_key: str = field(default="", repr=False)
    disable_plugins: tuple[str, ...] = ()
    #: Extra plugins by import path, ``"package.module:factory"`` (for in-house plugins
    #: that are not packaged with an entry point); a factory returns one plugin or a list.
    plugins: tuple[str, ...] = ()
    trace_plugins: bool = False
    host: str = "127.0.0.1"
    port: int = 8100
    #: Where riders' phones reach the hub: the start of the rider-page URLs printed in
    #: gate QR codes (``<public_url>/g/<signed gate code>``).
    public_url: str = "http://127.0.0.1:8100"
    #: Web server processes: 1 serves with waitress (anywhere); more run gunicorn
    #: workers (Unix, ``pip install 'last100-hub[server]'``), e.g. one per core.
    workers: int = 1
    #: Threads per web server process.
    threads: int = 8
    #: Reverse proxies in front of the hub whose X-Forwarded-* headers are trusted.
    trusted_proxies: int = 0
    #: Threads for concurrent upstream calls on the entry path, per process. 0: four
    #: per web thread, at least 32 (each entry asks identity and orders at once).
    upstream_workers: int = 0
    #: Of those, how many one connection may use at a time (its bulkhead): a slow
    #: upstream then cannot hold the threads the others need. 0: half of them, which
    #: is two per web thread: one busy platform never meets its own limit.
    upstream_per_connection: int = 0
    breaker_failures: int = 5
    breaker_reset_s: int = 30
    #: The size of one run of the ``orders.reconcile`` job: orders asked about at most,
    #: calls to platforms at once, answers stored per transaction.
    reconcile_limit: int = 2000
    reconcile_workers: int = 4
    reconcile_batch_size: int = 50
    #: Where rate-limit counters live: ``memory://`` (each web process counts alone) or
    #: ``redis://host:6379/0`` (shared by every web process). See docs/api.md#rate-limits.
    rate_limit_storage_url: str = "memory://"
    #: Separates the counters of deployments that share one Redis.
    rate_limit_key_prefix: str = "last100"
    #: Limits as ``<count>/<period>`` (``60/minute``, ``1000/hour``); empty: no limit.
    #: Entries counted per gate, per rider and per API key; sign-in attempts per address.
    rate_limit_per_gate: str = "60/minute"
    rate_limit_per_rider: str = "10/minute"
    rate_limit_per_api_key: str = "6000/minute"
    rate_limit_sign_in: str = "30/minute"
    #: Schemes a connection's URL settings may use (see hub/core/urlpolicy.py).
    allowed_url_schemes: tuple[str, ...] = ("https", "http")
    #: CIDR ranges the hub may call upstream systems in; empty: anywhere (development).
    allowed_upstream_networks: tuple[str, ...] = ()
    #: Seconds a process trusts its cached catalog (communities, gates, connections,
    #: API keys) before checking whether another process changed it; 0 checks on
    #: every read. A change made through the process itself is seen at once.
    catalog_cache_s: float = 1.0

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.instance_path / 'last100.sqlite').resolve()}"

    @property
    def effective_gate_key(self) -> str:
        return self.gate_key or self.secret_key

    @property
    def config_file(self) -> Path:
        return self.instance_path / CONFIG_FILE

    def require_secrets(self) -> Config:
        """Fail with a clear message when the keys needed at run time are missing."""
        if not self.secret_keys:
            raise ConfigError(
                "no secret_keys configured: run 'last100 init' or set LAST100_SECRET_KEYS "
                "(generate one with 'last100 keys generate')"
            )
        if not self.secret_key:
            raise ConfigError("no secret_key configured: run 'last100 init' or set LAST100_SECRET_KEY")
        return self


_TYPES = {f.name: f.type for f in fields(Config)}


def _coerce(name: str, value: Any) -> Any:
    kind = _TYPES[name]
    try:
        if kind == "Path":
            return Path(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in {"1", "0", "true", "false", "yes", "no", "on", "off", ""}:
                raise ValueError(f"expected true or false, got {value!r}")
            return text in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(value)
        if kind == "float":  # durations
            seconds = float(value)
            if not seconds >= 0:
                raise ValueError(f"expected 0 or more seconds, got {value!r}")
            return seconds
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: {exc}") from None


def _apply(config: Config, values: Mapping[str, Any], origin: str) -> Config:
    unknown = sorted(set(values) - set(_TYPES))
    if unknown:
        raise ConfigError(f"{origin}: unknown setting(s) {', '.join(unknown)}")
    return replace(config, **{k: _coerce(k, v) for k, v in values.items()})


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_config(
    instance_path: str | Path | None = None,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Build the configuration.

    Order: defaults, then ``config_file`` (or ``LAST100_CONFIG``, or the instance
    folder's ``last100.toml`` when present), then ``LAST100_*`` environment variables,
    then ``overrides``.
    """
    env = os.environ if env is None else env
    instance = instance_path or env.get(ENV_PREFIX + "INSTANCE_PATH") or "instance"
    config = Config(instance_path=Path(instance))

    explicit = config_file or env.get(ENV_PREFIX + "CONFIG")
    path = Path(explicit) if explicit else config.config_file
    if explicit and not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    if path.is_file():
        values = read_file(path)
        values.pop("instance_path", None)  # the file lives in the instance; it cannot move it
        config = _apply(config, values, str(path))

    from_env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX)
        and key not in {ENV_PREFIX + "CONFIG", ENV_PREFIX + "INSTANCE_PATH"}
        and key[len(ENV_PREFIX) :].lower() in _TYPES
    }
    config = _apply(config, from_env, "environment")
    return _apply(config, overrides, "arguments") if overrides else config
