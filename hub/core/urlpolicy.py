"""Where connections may send the hub: the defence against server-side request forgery.

A connection's settings hold the URLs the hub calls (a platform's API, a gate
controller on the estate's network). Whoever may save a connection could otherwise
point the hub at anything it can reach — a cloud's metadata service at
169.254.169.254, the database, an admin page on localhost — and read the answer back
in an error message. Two settings bound that:

- ``allowed_url_schemes`` (default ``https``, ``http``): the only schemes a URL
  setting may use; ``file:``, ``gopher:``, ``ftp:`` and the rest are refused. A URL
  may not carry a user name or password either (credentials belong in a connection's
  secret settings, which are encrypted and never shown).
- ``allowed_upstream_networks`` (CIDR ranges; empty, the development default: anywhere):
  the only addresses the hub connects to.

The URL settings of a connection are found generically: the fields of the plugin's
settings schema that are ``fields.Url``, and every setting whose name ends in ``url``.
A setting that only tells a platform where the hub is (``push_url``, or a field with
``metadata={"upstream": False}``) is held to the schemes, not to the networks: the
hub never connects to it.

The checks, and why three:

1. **Saving or testing a connection** (the console's form, ``last100 connections add``
   and ``test``): scheme, credentials, and every address the host resolves to now — so
   the operator is told at once, naming the setting (:func:`settings_problems`).
2. **A plugin making its client** (:func:`hub.core.clients.load_settings`, on first
   use and after every edit): scheme, credentials and literal addresses, without a DNS
   lookup (it runs on the entry path). A connection saved before the policy was
   tightened stops being used.
3. **Every new HTTP connection the process opens** (urllib3, under ``requests``): when
   networks are configured, :func:`install` wraps urllib3's ``create_connection`` so
   that the host is resolved once, there, and only addresses inside the ranges are
   connected to. This is the check DNS rebinding cannot pass: a name checked at save
   time, or when the client is made, may resolve elsewhere a minute later, when the
   HTTP library resolves it again; a redirect to an inside address is caught too.
   Checking the address actually connected to costs one range lookup per new
   connection (kept-alive connections are reused without one).

What the third check does not cover: transports other than urllib3 (the MQTT gate's
broker is a host and port, not a URL, and paho opens its own sockets), and an HTTP proxy
the process is told to use (its address must then be in the ranges).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import marshmallow
from marshmallow import fields

from hub.core.config import Config, ConfigError
from hub.core.errors import SettingsError

DEFAULT_SCHEMES = ("https", "http")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``resolve(host, port)``: the host's addresses, as text; raises ``OSError``.
Resolver = Callable[[str, int | None], list[str]]


class UpstreamAddressRefused(ConnectionRefusedError):
    """A connection to an address outside ``allowed_upstream_networks``, refused before
    it was opened. An ``OSError``, so HTTP clients report it like any connection that
    could not be made."""


def resolve(host: str, port: int | None) -> list[str]:
    """Every address ``host`` resolves to now."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)))


def _address(text: str) -> Address | None:
    """``text`` as an IP address (IPv4-mapped IPv6 as IPv4; legacy forms such as
    ``2130706433`` as what they mean to the resolver), or ``None``."""
    try:
        found = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        try:
            found = ipaddress.IPv4Address(socket.inet_aton(text))
        except (OSError, UnicodeError, ValueError):
            return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


@dataclass(frozen=True)
class UrlPolicy:
    """The schemes URL settings may use, and the networks the hub may connect to
    (none: anywhere)."""

    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    networks: tuple[Network, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> UrlPolicy:
        """The policy ``config`` sets. :raises ConfigError: naming the bad setting."""
        schemes = tuple(dict.fromkeys(s.strip().lower() for s in config.allowed_url_schemes if s.strip()))
        if not schemes:
            raise ConfigError("setting 'allowed_url_schemes' is empty: no connection could call anything")
        for scheme in schemes:
            if not _SCHEME.match(scheme):
                raise ConfigError(f"setting 'allowed_url_schemes': {scheme!r} is not a URL scheme (e.g. https)")
        networks = []
        for text in config.allowed_upstream_networks:
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"setting 'allowed_upstream_networks': {text!r} is not an address range (e.g. 10.20.0.0/16)"
                ) from None
        return cls(schemes, tuple(networks))

    def allows_address(self, address: str) -> bool:
        """Whether the hub may connect to ``address`` (an IP address as text)."""
        if not self.networks:
            return True
        found = _address(address)
        return found is not None and any(found in network for network in self.networks)

    def url_problem(
        self, url: str, *, resolve_names: bool, upstream: bool = True, resolver: Resolver = resolve
    ) -> str | None:
        """What is wrong with ``url`` under this policy, or ``None``.

        :param resolve_names: look the host up and check its addresses; otherwise only a
            literal address is checked (and the connection itself is checked later).
        :param upstream: ``False`` for a URL the hub never connects to (schemes only).
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            return f"is not a valid URL ({exc})"
        scheme = parts.scheme.lower()
        if scheme not in self.schemes:
            allowed = " or ".join(self.schemes)
            if not scheme:
                return f"has no scheme: use {allowed} (allowed_url_schemes)"
            return f"uses {scheme}:, which is not allowed: use {allowed} (allowed_url_schemes)"
        if parts.username is not None or parts.password is not None:
            return "must not carry a user name or password: put credentials in the connection's secret settings"
        host = parts.hostname
        if not host:
            return "has no host"
        if not upstream or not self.networks:
            return None
        literal = _address(host)
        if literal is not None:
            addresses = [str(literal)]
        elif not resolve_names:
            return None
        else:
            try:
                addresses = resolver(host, port)
            except (OSError, UnicodeError) as exc:
                return (
                    f"points at {host}, which cannot be resolved ({exc}), so it cannot be checked "
                    "against allowed_upstream_networks"
                )
        if any(self.allows_address(address) for address in addresses):
            return None
        ranges = ", ".join(str(n) for n in self.networks)
        where = host if literal is not None else f"{host}, which is at {', '.join(addresses)}"
        return f"points at {where}, outside allowed_upstream_networks ({ranges})"


# -- a connection's URL settings -------------------------------------------------------------


def _is_url_setting(name: str, declared: marshmallow.fields.Field | None) -> bool:
    return isinstance(declared, fields.Url) or name.lower().endswith("url")


def _is_upstream(name: str, declared: marshmallow.fields.Field | None) -> bool:
    """Whether the hub connects to this URL (``push_url``: where a platform reaches the
    hub, which it only signs over)."""
    if declared is not None and "upstream" in declared.metadata:
        return bool(declared.metadata["upstream"])
    return not name.lower().endswith("push_url")


def url_settings(schema: type[marshmallow.Schema] | None, settings: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    """The URL-valued settings given: ``{name: (url, upstream)}`` (empty ones left out)."""
    declared = schema._declared_fields if schema is not None else {}
    found = {}
    for name, value in settings.items():
        field = declared.get(name)
        if isinstance(value, str) and value.strip() and _is_url_setting(name, field):
            found[name] = (value, _is_upstream(name, field))
    return found


def settings_problems(
    schema: type[marshmallow.Schema] | None,
    settings: Mapping[str, Any],
    policy: UrlPolicy | None = None,
    *,
    resolve_names: bool = True,
    resolver: Resolver = resolve,
) -> dict[str, list[str]]:
    """What is wrong with each URL setting under ``policy`` (default: the process's),
    by setting, as :class:`SettingsError` keeps them."""
    policy = policy or current()
    problems = {}
    for name, (url, upstream) in url_settings(schema, settings).items():
        problem = policy.url_problem(url, resolve_names=resolve_names, upstream=upstream, resolver=resolver)
        if problem is not None:
            problems[name] = [f"{name} {problem}"]
    return problems


def check_settings(
    schema: type[marshmallow.Schema] | None,
    settings: Mapping[str, Any],
    connection_id: str,
    policy: UrlPolicy | None = None,
    *,
    resolve_names: bool = True,
    resolver: Resolver = resolve,
) -> None:
    """:raises SettingsError: naming each URL setting the policy refuses, and why."""
    problems = settings_problems(schema, settings, policy, resolve_names=resolve_names, resolver=resolver)
    if problems:
        described = "; ".join(message for name in sorted(problems) for message in problems[name])
        raise SettingsError(f"invalid settings for connection {connection_id}: {described}", problems)


# -- the process's policy, and the guard on its HTTP connections --------------------------------

_current = UrlPolicy()
_lock = threading.Lock()
_unguarded: Callable[..., socket.socket] | None = None


def current() -> UrlPolicy:
    """The policy of this process (the default until :func:`install`)."""
    return _current


def install(policy: UrlPolicy) -> UrlPolicy:
    """Make ``policy`` this process's, and return the one it replaces.

    Called where a process starts serving a deployment (the web app, the command line).
    Once a policy restricts networks, every new urllib3 connection is checked against
    the policy in force when it is opened.
    """
    global _current
    previous, _current = _current, policy
    if policy.networks:
        _guard_urllib3()
    return previous


def _guard_urllib3() -> None:
    global _unguarded
    from urllib3.util import connection

    with _lock:
        if _unguarded is None:
            _unguarded = connection.create_connection
            connection.create_connection = _guarded_connection


def _guarded_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """urllib3's ``create_connection``, connecting only to allowed addresses: the host is
    resolved here, once, and the socket is opened to a checked address."""
    from urllib3.util.connection import allowed_gai_family

    assert _unguarded is not None
    policy = _current
    if not policy.networks:
        return _unguarded(address, *args, **kwargs)
    host, port = address
    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    allowed = [a for a in addresses if policy.allows_address(a)]
    if not allowed:
        ranges = ", ".join(str(n) for n in policy.networks)
        raise UpstreamAddressRefused(
            f"{host} is at {', '.join(addresses)}, outside allowed_upstream_networks ({ranges}): not connected"
        )
    failure: OSError | None = None
    for checked in allowed:
        try:
            return _unguarded((checked, port), *args, **kwargs)
        except OSError as exc:
            failure = exc
    assert failure is not None
    raise failure
