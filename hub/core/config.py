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
    #: Log lines on stderr: ``text`` (readable) or ``json`` (one object per line, for a
    #: log collector); both carry the request id (see hub/core/logs.py).
    log_format: str = "text"
    #: ``/metrics`` (Prometheus) needs ``Authorization: Bearer <metrics_token>``; empty:
    #: open to whoever reaches the hub.
    metrics_token: str = field(default="", repr=False)
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
    #: With several workers, each is replaced by a fresh one after about this many
    #: requests (±10 %, so they do not all restart at once; requests in flight finish):
    #: the C allocator keeps memory Python freed, and a worker's resident memory creeps
    #: up under sustained load (docs/reliability.md#load-held). 0: never.
    worker_max_requests: int = 20000
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
    #: Scheduled syncs on Celery workers (``last100 worker``; docs/jobs.md): the broker,
    #: ``redis://127.0.0.1:6379/1`` or ``amqp://user:password@host:5672//``. Empty: no
    #: Celery, ``last100 scheduler`` runs the jobs in its own process.
    celery_broker_url: str = field(default="", repr=False)
    #: The queue job tasks are sent to and workers read (hubs sharing a broker need
    #: their own).
    celery_queue: str = "last100"
    #: A job task still running after this many seconds is stopped (a soft limit ends
    #: it 10% earlier); a worker takes over the run of a worker that died once it
    #: started longer ago than this plus a minute.
    celery_task_time_limit_s: float = 600.0
    #: Redis only: a task not acknowledged this many seconds after a worker took it is
    #: handed to another worker; must be longer than the task time limit.
    celery_visibility_timeout_s: float = 3600.0
    #: A job task still queued this many seconds after its scheduled time is dropped
    #: (a later run of the job does its work); 0: never.
    celery_task_expires_s: float = 600.0
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
    #: Where state the web processes must agree on lives (the verification cache, the
    #: circuit breakers, used single-use codes): empty, each process keeps its own
    #: (single-use codes stay in the database); ``redis://host:6379/0`` (or
    #: ``rediss://``, ``unix://``), shared by every process. See hub/core/shared.py.
    shared_state_url: str = field(default="", repr=False)  # may hold a password
    #: Separates the keys of deployments that share one Redis.
    shared_state_key_prefix: str = "last100"
    #: Riders' verifications kept at most (the soonest to expire go first): per process,
    #: or for the whole deployment when ``shared_state_url`` is Redis (about 1 KB each).
    verification_cache_size: int = 10000

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


#: The URL schemes ``shared_state_url`` may use (besides empty: nothing shared).
SHARED_STATE_SCHEMES = ("redis", "rediss", "unix")


def check_shared_state_url(url: str) -> str:
    """``url`` when it is empty or names Redis; else ``ValueError`` saying what is allowed."""
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if url and scheme not in SHARED_STATE_SCHEMES:
        # The URL itself is not quoted: it may hold a password.
        what = f"scheme {scheme!r}" if scheme else "no scheme"
        raise ValueError(f"expected empty or a redis://, rediss:// or unix:// URL, not one with {what}")
    return url


_TYPES = {f.name: f.type for f in fields(Config)}
#: Settings that take one of a few words.
_CHOICES = {"log_format": ("text", "json")}


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
        if name in _CHOICES and str(value) not in _CHOICES[name]:
            raise ValueError(f"expected one of {', '.join(map(repr, _CHOICES[name]))}, got {value!r}")
        if name == "shared_state_url":
            return check_shared_state_url(str(value))
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
    config = _apply(config, overrides, "arguments") if overrides else config
    return check_celery(config)


#: The Celery brokers the hub supports: Redis and RabbitMQ (AMQP).
CELERY_BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


def check_celery(config: Config) -> Config:
    """The configuration, when its Celery settings make sense (or Celery is off).

    :raises ConfigError: a broker that is neither Redis nor RabbitMQ, a time limit below
        one second, or a Redis visibility timeout not longer than the time limit.
    """
    url = config.celery_broker_url.strip()
    if not url:
        return config
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in CELERY_BROKER_SCHEMES:
        # The URL itself is not quoted: it may hold a password.
        what = f"a {scheme}:// URL" if scheme else "a URL without a scheme"
        raise ConfigError(
            "setting 'celery_broker_url': the broker must be Redis (redis://host:6379/1, rediss://) or "
            f"RabbitMQ (amqp://user:password@host:5672//, amqps://), not {what}"
        )
    if not config.celery_queue.strip():
        raise ConfigError("setting 'celery_queue': a queue name is needed")
    if config.celery_task_time_limit_s < 1:
        raise ConfigError("setting 'celery_task_time_limit_s': at least 1 second")
    if scheme.startswith("redis") and config.celery_visibility_timeout_s <= config.celery_task_time_limit_s:
        raise ConfigError(
            "setting 'celery_visibility_timeout_s' must be longer than 'celery_task_time_limit_s': "
            "Redis hands a task that is still running to a second worker once its visibility timeout passes"
        )
    return config
