"""The ``last100`` command.

Every command reads the configuration the same way (``--instance``, ``--config``,
``LAST100_*`` variables); wrong input ends with a one-line ``Error:`` and a non-zero exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from hub.core import urlpolicy
from hub.core.clock import Clock
from hub.core.config import Config, load_config
from hub.core.errors import HubError
from hub.core.model import (
    Community,
    CommunityPolicy,
    Connection,
    Credential,
    CredentialKind,
    Gate,
)
from hub.core.plugins import secret_fields
from hub.core.policy_input import LIMITS, InvalidPolicy, PolicyProblem, Problem, edit_policy, policy_changes
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.core.users import Role, hash_password
from hub.runtime import Runtime, build_hub, build_runtime
from hub.scaffold.command import plugin as plugin_command

DEMO_INSTANCE = "last100-demo"
DEMO_PLUGINS = "hub.demo:demo_plugins"


class _Group(click.Group):
    """Turns the hub's own errors into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HubError as exc:
            raise click.ClickException(str(exc)) from None


class _State:
    def __init__(self, instance: str | None, config_file: str | None) -> None:
        self.instance = instance
        self.config_file = config_file
        self._runtime: Runtime | None = None

    def config(self, **overrides: Any) -> Config:
        return load_config(self.instance, self.config_file, **overrides)

    def runtime(self, **overrides: Any) -> Runtime:
        """The runtime of the configuration (with ``overrides``, e.g. from options, on
        the first call)."""
        if self._runtime is None:
            self._runtime = build_runtime(self.config(**overrides))
            # This process calls the deployment's connections (tests, jobs, the server).
            urlpolicy.install(urlpolicy.UrlPolicy.from_config(self._runtime.config))
        return self._runtime


pass_state = click.make_pass_decorator(_State)


@click.group(cls=_Group)
@click.option("--instance", envvar="LAST100_INSTANCE_PATH", help="Instance folder (default: ./instance).")
@click.option("--config", "config_file", envvar="LAST100_CONFIG", help="Configuration file (TOML).")
@click.version_option(package_name="last100-hub")
@click.pass_context
def main(ctx: click.Context, instance: str | None, config_file: str | None) -> None:
    """Last100 Hub: delivery riders through residential gates in seconds."""
    ctx.obj = _State(instance, config_file)


def _step(message: str, action: Callable[[], Any]) -> Any:
    click.echo(f"{message} ... ", nl=False)
    result = action()
    click.echo("done")
    return result


# -- setup ---------------------------------------------------------------------------


def write_instance_config(config: Config, database_url: str | None = None, plugins: Iterable[str] = ()) -> bool:
    """Create the instance folder and its ``last100.toml`` with fresh keys; ``False``
    when the file already exists (it is never overwritten)."""
    config.instance_path.mkdir(parents=True, exist_ok=True)
    if config.config_file.exists():
        return False
    import secrets as _secrets

    lines = [
        "# Last100 Hub instance configuration (see config/production.example.toml).",
        "# Keep this file private: it holds the keys that protect connection secrets.",
        f"secret_keys = [{json.dumps(generate_key())}]",
        f"secret_key = {json.dumps(_secrets.token_urlsafe(32))}",
        f"gate_key = {json.dumps(_secrets.token_urlsafe(32))}",
    ]
    if database_url:
        lines.append(f"database_url = {json.dumps(database_url)}")
    if plugins:
        lines.append(f"plugins = {json.dumps(list(plugins))}")
    config.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config.config_file.chmod(0o600)
    return True


def _migrate(config: Config) -> str | None:
    store = Store(config.effective_database_url, config.secret_keys)
    try:
        _step(f"Migrating {store!r}", store.upgrade)
        return store.current_revision()
    finally:
        store.dispose()


@main.command()
@click.option(
    "--database-url", help="Database URL to record in the new configuration (default: SQLite in the instance)."
)
@pass_state
def init(state: _State, database_url: str | None) -> None:
    """Create the instance folder and configuration, then migrate the database."""
    config = state.config()
    created = _step(f"Writing {config.config_file}", lambda: write_instance_config(config, database_url))
    if not created:
        click.echo(f"{config.config_file} already exists; kept as it is")
    config = state.config().require_secrets()
    revision = _migrate(config)
    click.echo(f"Ready: database at revision {revision}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: _State) -> None:
    """Apply every pending migration."""
    click.echo(f"Database at revision {_migrate(state.config().require_secrets())}")


@main.group()
def keys() -> None:
    """Encryption keys for connection secrets."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new key for secret_keys / LAST100_SECRET_KEYS (put it first to rotate)."""
    click.echo(generate_key())


@keys.command("rotate")
@pass_state
def keys_rotate(state: _State) -> None:
    """Re-encrypt every connection's secrets with the first key, so older keys can be
    removed from secret_keys afterwards."""
    count = _step("Re-encrypting connection secrets", state.runtime().store.rotate_secrets)
    click.echo(f"{count} connection(s) now use the first key; older keys can be removed")


# -- plugins ---------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def plugins(state: _State, as_json: bool) -> None:
    """List the installed plugins with their kinds, capabilities and hooks."""
    hub = build_hub(state.config(), Clock())
    rows = [
        {
            "name": r.info.name,
            "version": r.info.version,
            "kinds": sorted(r.info.kinds),
            "capabilities": sorted(r.info.capabilities),
            "hooks": list(r.hooks),
            "source": r.source,
        }
        for r in hub.plugins()
    ]
    failures = [{"name": f.name, "source": f.source, "error": f.error} for f in hub.load_failures]
    if as_json:
        click.echo(json.dumps({"plugins": rows, "failed": failures}, indent=2, ensure_ascii=False))
        return
    _table(
        ["NAME", "VERSION", "KINDS", "SOURCE", "HOOKS"],
        [[r["name"], r["version"], ",".join(r["kinds"]), r["source"], str(len(r["hooks"]))] for r in rows],
    )
    for f in failures:
        click.echo(f"failed to load {f['name']} ({f['source']}): {f['error']}", err=True)


# `last100 plugin new`: write a new adapter distribution (hub/scaffold/).
main.add_command(plugin_command)


def _table(header: list[str], rows: Iterable[list[str]]) -> None:
    rows = [header, *rows]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# -- communities, gates, connections ---------------------------------------------------------


def _timezone(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{value!r} is not a known timezone (e.g. Asia/Shanghai)") from None
    return value


@main.group()
def communities() -> None:
    """Residential communities and their entry policy."""


@communities.command("list")
@pass_state
def communities_list(state: _State) -> None:
    rows = state.runtime().store.list_communities()
    _table(
        ["ID", "NAME", "TIMEZONE", "HOURS", "MAX PASS"],
        [
            [
                c.id,
                c.name,
                c.timezone,
                f"{c.policy.opening:%H:%M}-{c.policy.closing:%H:%M}"
                if c.policy.opening and c.policy.closing
                else "always",
                f"{c.policy.max_pass_minutes} min",
            ]
            for c in rows
        ],
    )


_POLICY_DEFAULTS = CommunityPolicy()


def _limited(flag: str, field: str, default: int) -> Callable[..., Any]:
    low, high = LIMITS[field]
    return click.option(flag, type=int, metavar="N", help=f"{low} to {high} [default: {default}]")


def _policy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The entry-policy options shared by 'communities add' and 'communities set-policy';
    an option not given keeps the current (or default) value. They are checked by
    :func:`hub.core.policy_input.edit_policy`, as the console's policy form is."""
    d = _POLICY_DEFAULTS
    options = [
        click.option(
            "--allow-platform",
            "allowed",
            multiple=True,
            help="Plugin name or connection id (repeatable; default: all).",
        ),
        click.option("--opening", metavar="HH:MM", help="Riders may enter from (local time, HH:MM)."),
        click.option("--closing", metavar="HH:MM", help="Riders may enter until (local time, HH:MM)."),
        _limited("--max-pass-minutes", "max_pass_minutes", d.max_pass_minutes),
        _limited("--exit-grace-minutes", "exit_grace_minutes", d.exit_grace_minutes),
        _limited("--max-entries-per-hour", "max_entries_per_hour", d.max_entries_per_hour),
        click.option("--require-order/--no-require-order", default=None, help="[default: require]"),
        click.option(
            "--require-presence/--no-require-presence", default=None, help="Riders must scan the gate's code."
        ),
        click.option(
            "--lockers-only/--no-lockers-only", default=None, help="Riders leave food in lockers by the gate."
        ),
        click.option(
            "--visitor-record/--no-visitor-record", default=None, help="Write entries into the visitor system."
        ),
        _limited("--retention-days", "retention_days", d.retention_days),
    ]
    for option in reversed(options):
        command = option(command)
    return command


_POLICY_FIELDS = {
    "max_pass_minutes": "max_pass_minutes",
    "exit_grace_minutes": "exit_grace_minutes",
    "max_entries_per_hour": "max_entries_per_hour",
    "require_order": "require_active_order",
    "require_presence": "require_presence",
    "lockers_only": "lockers_only",
    "visitor_record": "visitor_record",
    "retention_days": "retention_days",
}


def _policy_problem(problem: PolicyProblem) -> str:
    """One problem of :func:`edit_policy` in the command's words."""
    option = "--" + problem.field.replace("_", "-")
    if problem.problem is Problem.NOT_A_TIME:
        return f"{option}: {problem.value!r} is not a time like 06:30"
    if problem.problem is Problem.BOTH_OR_NEITHER:
        return "give both --opening and --closing, or neither"
    if problem.problem is Problem.OUT_OF_RANGE and problem.limits is not None:
        low, high = problem.limits
        return f"{option} must be from {low} to {high}, not {problem.value}"
    return f"{option} must be a whole number, not {problem.value!r}"


def _policy(base: CommunityPolicy, opts: dict[str, Any]) -> CommunityPolicy:
    changes: dict[str, Any] = {
        field: opts[option] for option, field in _POLICY_FIELDS.items() if opts[option] is not None
    }
    if opts["opening"] is not None or opts["closing"] is not None:
        changes.update(opening=opts["opening"], closing=opts["closing"])
    if opts["allowed"]:
        changes["allowed_platforms"] = opts["allowed"]
    try:
        return edit_policy(base, changes)
    except InvalidPolicy as exc:
        raise click.UsageError("; ".join(_policy_problem(p) for p in exc.problems)) from None


@communities.command("add")
@click.argument("community_id")
@click.option("--name", required=True)
@click.option("--address", default="")
@click.option("--timezone", default="Asia/Shanghai", show_default=True, callback=_timezone)
@_policy_options
@pass_state
def communities_add(state: _State, community_id: str, name: str, address: str, timezone: str, **opts: Any) -> None:
    """Add a community with its entry policy."""
    community = Community(community_id, name, address, timezone, _policy(_POLICY_DEFAULTS, opts))
    state.runtime().store.add_community(community)
    click.echo(f"Added community {community_id}")


@communities.command("set-policy")
@click.argument("community_id")
@_policy_options
@pass_state
def communities_set_policy(state: _State, community_id: str, **opts: Any) -> None:
    """Change a community's entry policy; options not given stay as they are."""
    store = state.runtime().store
    community = store.get_community(community_id)
    updated = dataclasses.replace(community, policy=_policy(community.policy, opts))
    store.update_community(updated)
    store.audit(
        "cli", "community.policy_changed", community_id, {"changed": policy_changes(community.policy, updated.policy)}
    )
    click.echo(f"Updated the entry policy of {community_id}")


@main.group()
def gates() -> None:
    """Gates riders pass, each with a code."""


@gates.command("list")
@click.option("--community")
@pass_state
def gates_list(state: _State, community: str | None) -> None:
    rows = state.runtime().store.list_gates(community)
    _table(
        ["ID", "COMMUNITY", "NAME", "CODE", "DOOR", "DEVICE"],
        [[g.id, g.community_id, g.name, g.code, g.door_no, g.access_connection_id or "-"] for g in rows],
    )


@gates.command("add")
@click.argument("gate_id")
@click.option("--community", required=True)
@click.option("--name", required=True)
@click.option("--code", required=True, help="The code printed at the gate.")
@click.option("--door", default="1", show_default=True, help="Door number at the access controller.")
@click.option("--access-connection", help="Connection that issues passes here (default: a guard checks).")
@pass_state
def gates_add(
    state: _State, gate_id: str, community: str, name: str, code: str, door: str, access_connection: str | None
) -> None:
    """Add a gate to a community."""
    state.runtime().store.add_gate(Gate(gate_id, community, name, code, door, access_connection))
    click.echo(f"Added gate {gate_id} ({code})")


def _base_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


@gates.command("qr")
@click.argument("gate_id")
@click.option("--format", "fmt", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default: gate-<id>.<format>)."
)
@click.option("--base-url", callback=_base_url, help="Where riders reach the hub (default: public_url from config).")
@click.option("--font", type=click.Path(exists=True, dir_okay=False), help="Font for the PNG's label (TTF/OTF/TTC).")
@pass_state
def gates_qr(state: _State, gate_id: str, fmt: str, output: str | None, base_url: str | None, font: str | None) -> None:
    """Write a printable QR code of a gate's rider page, with the gate's name under it."""
    from hub.web import gateqr

    rt = state.runtime()
    gate = rt.store.get_gate(gate_id)
    url = gateqr.rider_url(base_url or rt.config.public_url, rt.gate_codes.sign(gate.code))
    path = Path(output or f"gate-{gate.id}.{fmt}")
    if fmt == "svg":
        _step(f"Writing {path}", lambda: path.write_text(gateqr.gate_qr_svg(url, gate.name), encoding="utf-8"))
    else:
        image = gateqr.gate_qr_png(url, gate.name, font)
        _step(f"Writing {path}", lambda: path.write_bytes(image))
    click.echo(f"Rider page: {url}")


@gates.command("screen-url")
@click.argument("gate_id")
@click.option(
    "--base-url", callback=_base_url, help="Where the screen reaches the hub (default: public_url from config)."
)
@pass_state
def gates_screen_url(state: _State, gate_id: str, base_url: str | None) -> None:
    """The private address a gate's screen opens to show the rotating presence code
    (keep it on the screen device only)."""
    rt = state.runtime()
    gate = rt.store.get_gate(gate_id)
    click.echo(f"{(base_url or rt.config.public_url).rstrip('/')}/screen/{rt.gate_codes.screen_token(gate.code)}")


@main.group()
def connections() -> None:
    """Configured instances of plugins: platform accounts, access controllers, lockers."""


@connections.command("list")
@pass_state
def connections_list(state: _State) -> None:
    rows = state.runtime().store.list_connections()
    _table(
        ["ID", "PLUGIN", "NAME", "TIMEOUT", "ENABLED"],
        [[c.id, c.plugin, c.name, f"{c.timeout_s:g} s", "yes" if c.enabled else "no"] for c in rows],
    )


def _settings(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    settings = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        settings[key.strip()] = value
    return settings


def _check_urls(rt: Runtime, plugin: str, connection_id: str, settings: Mapping[str, Any]) -> None:
    """Hold the URL settings to the deployment's URL policy, resolving host names now.

    :raises SettingsError: naming each refused setting (exit status 1).
    """
    schema = rt.hub.plugin(plugin).info.settings_schema if rt.hub.is_loaded(plugin) else None
    urlpolicy.check_settings(schema, settings, connection_id, urlpolicy.UrlPolicy.from_config(rt.config))


@connections.command("add")
@click.argument("connection_id")
@click.option("--plugin", required=True, help="Plugin name (see 'last100 plugins').")
@click.option("--name", required=True)
@click.option("--setting", "settings", multiple=True, callback=_settings, help="KEY=VALUE (repeatable).")
@click.option("--community", "community_ids", multiple=True, help="Community this connection serves (repeatable).")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True, help="Seconds.")
@click.option(
    "--freshness",
    type=click.IntRange(0, 3600),
    default=120,
    show_default=True,
    help="Seconds pushed order state stays usable.",
)
@click.option("--check/--no-check", default=True, show_default=True, help="Test the connection before saving.")
@pass_state
def connections_add(
    state: _State,
    connection_id: str,
    plugin: str,
    name: str,
    settings: dict,
    community_ids: tuple[str, ...],
    timeout: float,
    freshness: int,
    check: bool,
) -> None:
    """Add a connection; its settings are validated and tested before it is saved."""
    rt = state.runtime()
    loaded = rt.hub.validate_settings(plugin, settings)
    _check_urls(rt, plugin, connection_id, loaded)
    connection = Connection(connection_id, plugin, name, loaded, timeout_s=timeout, freshness_s=freshness)
    if check and rt.hub.implements(plugin, "hub_check_connection"):
        health = rt.hub.check_connection(connection)
        if not health.ok:
            raise click.ClickException(f"connection test failed, nothing saved: {health.message}")
    rt.store.add_connection(connection, secret_fields(rt.hub.plugin(plugin).info), community_ids)
    click.echo(f"Added connection {connection_id} ({plugin})")


@connections.command("test")
@click.argument("connection_id")
@pass_state
def connections_test(state: _State, connection_id: str) -> None:
    """Check that a connection's system answers and accepts its credentials."""
    rt = state.runtime()
    connection = rt.store.get_connection(connection_id)
    _check_urls(rt, connection.plugin, connection.id, connection.settings)
    health = rt.hub.check_connection(connection)
    click.echo(f"{'ok' if health.ok else 'FAILED'}: {health.message}")
    if not health.ok:
        sys.exit(1)


# -- users ---------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Console users."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--community", "community_ids", multiple=True, help="Community a manager or guard works for (repeatable)."
)
@click.option(
    "--gate", "gate_ids", multiple=True, help="Narrow a guard to this gate of their communities (repeatable)."
)
@click.password_option(help="Prompted when not given; at least 12 characters.")
@pass_state
def users_create(
    state: _State, username: str, role: str, community_ids: tuple[str, ...], gate_ids: tuple[str, ...], password: str
) -> None:
    """Create a console user."""
    if role != Role.OPERATOR and not community_ids:
        raise click.UsageError(f"a {role} needs at least one --community")
    if gate_ids and role != Role.GUARD:
        raise click.UsageError("only a guard is narrowed to gates (--gate)")
    store = state.runtime().store
    for community_id in community_ids:
        store.get_community(community_id)
    try:
        store.add_user(username, hash_password(password), role, community_ids, gate_ids, actor="cli")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"Created {role} {username}")


@users.command("list")
@pass_state
def users_list(state: _State) -> None:
    """Every console user with their role, scope and state (never passwords)."""
    _table(
        ["USERNAME", "ROLE", "COMMUNITIES", "GATES", "TOTP", "STATUS", "CREATED"],
        [
            [
                u["username"],
                u["role"],
                ",".join(u["community_ids"]) or ("*" if u["role"] == Role.OPERATOR else "-"),
                ",".join(u["gate_ids"]) or "-",
                "yes" if u["totp"] else "no",
                "disabled" if u["disabled"] else "active",
                f"{u['created_at']:%Y-%m-%d %H:%M}",
            ]
            for u in state.runtime().store.list_users()
        ],
    )


@users.command("disable")
@click.argument("username")
@pass_state
def users_disable(state: _State, username: str) -> None:
    """Stop a user from signing in, and end their sessions now."""
    ended = state.runtime().store.set_user_disabled(username, True, actor="cli")
    click.echo(f"Disabled {username} ({ended} session(s) ended)")


@users.command("enable")
@click.argument("username")
@pass_state
def users_enable(state: _State, username: str) -> None:
    """Let a disabled user sign in again."""
    state.runtime().store.set_user_disabled(username, False, actor="cli")
    click.echo(f"Enabled {username}")


@users.command("reset-password")
@click.argument("username")
@click.password_option(help="Prompted (twice) when not given; at least 12 characters.")
@pass_state
def users_reset_password(state: _State, username: str, password: str) -> None:
    """Set a new password and end every session of the user."""
    store = state.runtime().store
    store.get_user(username)  # an unknown user is told before the password is hashed
    ended = store.set_password(username, hash_password(password), actor="cli")
    click.echo(f"New password set for {username} ({ended} session(s) ended)")


@users.command("totp")
@click.argument("username")
@click.option("--remove", is_flag=True, help="Remove the user's second factor instead.")
@pass_state
def users_totp(state: _State, username: str, remove: bool) -> None:
    """Give a user a TOTP second factor (replacing any earlier one) and print, once, the
    URI and QR code to add it to an authenticator app; the console then asks for a code
    at every sign-in."""
    from hub.core.users import new_totp_secret, totp_uri

    store = state.runtime().store
    store.get_user(username)
    if remove:
        store.set_totp_secret(username, None, actor="cli")
        click.echo(f"Removed the second factor of {username}")
        return
    secret = new_totp_secret()
    store.set_totp_secret(username, secret, actor="cli")
    uri = totp_uri(secret, username)
    click.echo(f"Second factor set for {username}. Add it to an authenticator app now: it is not shown again.")
    click.echo(uri)
    if sys.stdout.isatty():
        import segno

        segno.make(uri, error="m").terminal(compact=True)


# -- API keys ------------------------------------------------------------------------------


@main.group()
def apikeys() -> None:
    """API keys of platform back ends, gate scanners and guard handhelds."""


@apikeys.command("create")
@click.argument("name")
@click.option(
    "--connection",
    "connection_ids",
    multiple=True,
    help="Platform connection the key may enter riders through (repeatable; '*' for all).",
)
@click.option(
    "--community",
    "community_ids",
    multiple=True,
    help="Community whose entries and profile the key may read (repeatable; '*' for all).",
)
@pass_state
def apikeys_create(state: _State, name: str, connection_ids: tuple[str, ...], community_ids: tuple[str, ...]) -> None:
    """Make an API key and print it, once: only a hash of it is kept."""
    from hub.core import apikeys as keys_

    if not connection_ids and not community_ids:
        raise click.UsageError("give at least one --connection or --community: a key without scope can do nothing")
    key, secret = keys_.create(state.runtime().store, name, connection_ids, community_ids, actor="cli")
    click.echo(f"Created API key {key.name} (id {key.id}). Copy it now: it is not shown again.")
    click.echo(secret)


def _scope(values: frozenset[str]) -> str:
    return ",".join(sorted(values)) or "-"


@apikeys.command("list")
@pass_state
def apikeys_list(state: _State) -> None:
    """Every key with its scope and when it was last used (never the keys themselves)."""
    rows = state.runtime().store.list_api_keys()
    _table(
        ["ID", "NAME", "PREFIX", "CONNECTIONS", "COMMUNITIES", "CREATED", "LAST USED", "STATUS"],
        [
            [
                str(k.id),
                k.name,
                k.prefix,
                _scope(k.connection_ids),
                _scope(k.community_ids),
                f"{k.created_at:%Y-%m-%d %H:%M}",
                f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never",
                f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active",
            ]
            for k in rows
        ],
    )


@apikeys.command("revoke")
@click.argument("name_or_id")
@pass_state
def apikeys_revoke(state: _State, name_or_id: str) -> None:
    """Revoke a key (by name or id): it stops working at once."""
    key = state.runtime().store.revoke_api_key(name_or_id, actor="cli")
    click.echo(f"Revoked API key {key.name} (id {key.id})")


# -- entries -----------------------------------------------------------------------------


@main.command()
@click.option("--gate", "gate_code", required=True, help="The gate's code.")
@click.option("--connection", "connection_id", required=True, help="The rider's platform connection.")
@click.option("--token", help="A platform token from the rider app.")
@click.option("--code", help="A code the rider typed.")
@click.option("--entry-code", help="A signed entry code read at the gate.")
@click.option("--order", "order_ref", help="The order the rider delivers.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def enter(
    state: _State,
    gate_code: str,
    connection_id: str,
    token: str | None,
    code: str | None,
    entry_code: str | None,
    order_ref: str | None,
    as_json: bool,
) -> None:
    """Decide one rider's entry, as a gate would (for testing a setup end to end)."""
    given = [
        (k, v)
        for k, v in (
            (CredentialKind.TOKEN, token),
            (CredentialKind.TYPED_CODE, code),
            (CredentialKind.ENTRY_CODE, entry_code),
        )
        if v
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --token, --code or --entry-code")
    from hub.core.engine import EntryRequest

    rt = state.runtime()
    kind, value = given[0]
    entry = rt.engine.decide(EntryRequest(gate_code, connection_id, Credential(kind, value), order_ref, actor="cli"))
    if as_json:
        click.echo(json.dumps(_entry_json(entry), indent=2, ensure_ascii=False))
        return
    click.echo(f"{entry.decision.value.upper()} in {entry.decision_ms:.0f} ms (entry {entry.id})")
    for reason in entry.reasons:
        click.echo(f"  {reason.code}: {reason.en} / {reason.zh}")
    if entry.access_pass:
        p = entry.access_pass
        click.echo(f"  pass: {p.kind.value} {p.value} valid until {p.valid_until:%H:%M:%S} UTC")
    if entry.locker:
        box = entry.locker
        click.echo(f"  locker: compartment {box.locker_no} at {box.bank_id}, drop-off code {box.pin}")
    for call in entry.hook_calls:
        click.echo(f"  {call.hook} via {call.plugin}: {call.outcome} {call.duration_ms:.1f} ms")


def _entry_json(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "decision": entry.decision.value,
        "reasons": [{"code": r.code, "zh": r.zh, "en": r.en} for r in entry.reasons],
        "decision_ms": entry.decision_ms,
        "pass": None
        if entry.access_pass is None
        else {
            "kind": entry.access_pass.kind.value,
            "value": entry.access_pass.value,
            "valid_until": entry.access_pass.valid_until.isoformat(),
        },
        "locker": None
        if entry.locker is None
        else {"bank": entry.locker.bank_id, "compartment": entry.locker.locker_no, "code": entry.locker.pin},
        "hook_calls": [{"hook": c.hook, "outcome": c.outcome, "ms": c.duration_ms} for c in entry.hook_calls],
    }


# -- jobs ------------------------------------------------------------------------------------


def _job_context(rt: Runtime, progress: Any = None) -> Any:
    from hub.core.jobs import JobContext

    return JobContext(rt.hub, rt.store, rt.clock, progress) if progress else JobContext(rt.hub, rt.store, rt.clock)


def _utc(moment: Any) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "-"


def _lock_message(holder: Any) -> str:
    """``another scheduler (host:pid, since …) holds the lock for this database``"""
    who = f" ({holder.describe()})" if holder is not None else ""
    return f"another scheduler{who} holds the lock for this database"


@main.group()
def jobs() -> None:
    """Scheduled jobs (run by 'last100 scheduler', or by 'last100 worker' processes
    with Celery)."""


def _last_run(run: Any) -> str:
    if run is None:
        return "never run"
    outcome = f"{_utc(run['started_at'])}, "
    parts = run.get("parts") or []
    spread = f" in {len(parts)} partition(s)" if len(parts) > 1 or run.get("partition") else ""
    if run["ended_at"] is None:
        done = sum(1 for p in parts if p["ended_at"] is not None)
        return outcome + (f"running ({done} of {len(parts)} partition(s) done)" if len(parts) > 1 else "running")
    outcome += f"{run['items']} item(s){spread}"
    if run["errors"]:
        outcome += f", {run['errors']} error(s)"
    return outcome + (f", FAILED: {run['error']}" if run["error"] else "")


def _when(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


def _run_json(run: Any) -> dict[str, Any] | None:
    if run is None:
        return None
    document = {
        "started_at": run["started_at"].isoformat(),
        "ended_at": _when(run["ended_at"]),
        "items": run["items"],
        "errors": run["errors"],
        "error": run["error"],
    }
    if run.get("tick") is not None:  # a run on Celery workers
        document["tick"] = run["tick"].isoformat()
        document["parts"] = [
            {
                "partition": part["partition"],
                "task_key": part["task_key"],
                "attempts": part["attempts"],
                "started_at": part["started_at"].isoformat(),
                "ended_at": _when(part["ended_at"]),
                "items": part["items"],
                "errors": part["errors"],
                "error": part["error"],
            }
            for part in run.get("parts", [])
        ]
    return document


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def jobs_list(state: _State, as_json: bool) -> None:
    """Every job with its schedule, next run and last run, and the scheduler that holds
    the database's lock. Next runs come from each job's schedule and its last run, so
    they show even when no scheduler runs in this process."""
    from hub.core.scheduler import job_overview

    rt = state.runtime()
    overview = job_overview(rt.hub.jobs(), rt.store, rt.clock.now())
    holder = rt.store.scheduler_lock().holder()
    if as_json:
        document = {
            "scheduler": None
            if holder is None
            else {"holder": holder.holder, "since": holder.since.isoformat() if holder.since else None},
            "jobs": [
                {
                    "id": job.spec.id,
                    "schedule": job.schedule,
                    "description": job.spec.description,
                    "next_run": job.next_run.isoformat() if job.next_run else None,
                    "last_run": _run_json(job.last_run),
                }
                for job in overview
            ],
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _table(
        ["ID", "SCHEDULE", "NEXT RUN (UTC)", "LAST RUN (UTC)", "WHAT"],
        [
            [job.spec.id, job.schedule, _utc(job.next_run), _last_run(job.last_run), job.spec.description]
            for job in overview
        ],
    )
    if holder is None:
        click.echo("\nNo scheduler holds the lock for this database: jobs run only by hand until 'last100 scheduler'")
    else:
        click.echo(f"\nScheduler: {holder.describe()} holds the lock for this database")


class _Progress:
    """A job's progress on stderr as it goes: a bar when both outputs are terminals,
    else a line ("12/40 orders.reconcile …") at most every ``EVERY_S`` seconds, and
    always the first and the last."""

    EVERY_S = 0.5

    def __init__(self, job_id: str) -> None:
        import time

        self.job_id = job_id
        self.use_bar = sys.stdout.isatty() and sys.stderr.isatty()
        self._bar: Any = None
        self._time = time.monotonic
        self._shown: float | None = None

    def __call__(self, done: int, total: int | None, note: str) -> None:
        if self.use_bar and total:
            if self._bar is None or self._bar.length != total:
                self.close()
                self._bar = click.progressbar(length=total, label=self.job_id, file=sys.stderr, show_pos=True)
                self._bar.__enter__()
            self._bar.update(done - self._bar.pos)
            return
        now = self._time()
        last = total is not None and done >= total
        if self._shown is not None and not last and now - self._shown < self.EVERY_S:
            return
        self._shown = now
        count = f"{done}/{total}" if total is not None else str(done)
        click.echo(f"{count} {self.job_id} {note}".rstrip(), err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@jobs.command("runs")
@click.argument("job_id")
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True, help="Runs shown.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def jobs_runs(state: _State, job_id: str, limit: int, as_json: bool) -> None:
    """A job's latest runs, newest first. A run on Celery workers is shown with each
    partition's task under it: its partition, how many workers claimed it, its items
    and its error."""
    rt = state.runtime()
    runs = rt.store.job_runs(job_id, limit)
    if as_json:
        click.echo(json.dumps({"job": job_id, "runs": [_run_json(run) for run in runs]}, indent=2, ensure_ascii=False))
        return
    if not runs:
        click.echo(f"No runs of {job_id} recorded")
        return
    rows = []
    for run in runs:
        ended = _utc(run["ended_at"]) if run["ended_at"] else "running"
        scheduled = f"scheduled {_utc(run['tick'])}" if run.get("tick") else "in one process"
        rows.append(
            [_utc(run["started_at"]), ended, str(run["items"]), str(run["errors"]), scheduled, run["error"] or ""]
        )
        for part in run.get("parts", []):
            attempts = f", {part['attempts']} attempts" if part["attempts"] > 1 else ""
            rows.append(
                [
                    f"  {_utc(part['started_at'])}",
                    _utc(part["ended_at"]) if part["ended_at"] else "running",
                    str(part["items"]),
                    str(part["errors"]),
                    f"  {part['partition'] or 'whole job'}{attempts}",
                    part["error"] or "",
                ]
            )
    _table(["STARTED (UTC)", "ENDED (UTC)", "ITEMS", "FAILED", "RUN / PARTITION", "ERROR"], rows)


@jobs.command("run")
@click.argument("job_id")
@pass_state
def jobs_run(state: _State, job_id: str) -> None:
    """Run one job now, whole, in this process, showing its progress on stderr; the
    exit status is 1 when it fails. The run is recorded like a scheduled one. It runs
    here even when the scheduler sends the jobs to Celery workers."""
    from hub.core.scheduler import run_job

    rt = state.runtime()
    specs = {spec.id: spec for spec in rt.hub.jobs()}
    if job_id not in specs:
        raise click.ClickException(f"no job {job_id!r}; known jobs: {', '.join(sorted(specs)) or 'none'}")
    progress = _Progress(job_id)
    click.echo(f"Running {job_id} ...", err=True)
    try:
        result = run_job(specs[job_id], _job_context(rt, progress))
    finally:
        progress.close()
    if not result.ok:
        raise click.ClickException(f"{job_id} failed after {result.duration_s:.1f} s: {result.error}")
    failed = f", {result.failed} failed (tried again on a later run)" if result.failed else ""
    click.echo(f"{job_id}: {result.items} item(s){failed} in {result.duration_s:.1f} s")


# -- audit -----------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@pass_state
def audit_verify(state: _State) -> None:
    """Walk the whole audit hash chain, with progress on stderr; the exit status is 1
    when a record was changed or removed, naming the first broken one. Needs only the
    database (no keys), so an auditor can run it on a copy."""
    from sqlalchemy import func, make_url, select
    from sqlalchemy.orm import Session

    from hub.core import audit as audit_log
    from hub.core import migrations
    from hub.core.db import AuditRow, make_engine

    url = state.config().effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        raise click.ClickException(f"no database at {parsed.database}")
    engine = make_engine(url)
    try:
        if migrations.current_revision(engine) is None:
            raise click.ClickException("the database is not migrated: run 'last100 db upgrade'")
        with Session(engine) as session:
            if engine.dialect.name == "postgresql":
                # One snapshot for the count and the walk while the hub keeps appending.
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            total = session.scalar(select(func.count()).select_from(AuditRow)) or 0
            progress = _Progress("audit records")
            shown = engine.url.render_as_string(hide_password=True)
            click.echo(f"Verifying {total} audit record(s) in {shown} ...", err=True)
            try:
                check = audit_log.walk_chain(session, lambda checked: progress(checked, total, ""))
            finally:
                progress.close()
            if check.broken_at is not None:
                row = session.get(AuditRow, check.broken_at)
                what = f"{row.action} {row.subject!r} by {row.actor} at {_utc(row.at)} UTC" if row is not None else ""
                raise click.ClickException(
                    f"audit chain broken at record {check.broken_at} ({what}): it was changed, or the record "
                    f"before it removed; {check.checked} record(s) before it are intact"
                )
    finally:
        engine.dispose()
    latest = f"; latest record {check.last_id}, hash {check.last_hash}" if check.last_id is not None else ""
    click.echo(f"{check.checked} records, chain intact{latest}")


@contextlib.contextmanager
def _stop_on_signals(stop: Any) -> Any:
    """SIGTERM and SIGINT (Ctrl+C) set ``stop`` instead of interrupting (in the main
    thread; elsewhere signals cannot be handled and nothing changes)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _log_to_stderr(level: str = "INFO") -> None:
    """Log from ``level`` up on stderr, in the configuration's ``log_format`` (text or
    JSON lines, each with its request id; see hub/core/logs.py)."""
    import logging

    from hub.core.logs import configure_logging

    context = click.get_current_context(silent=True)
    state = context.find_object(_State) if context is not None else None
    configure_logging(state.config().log_format if state is not None else "text", getattr(logging, level))


@main.command()
@click.option(
    "--no-wait",
    is_flag=True,
    help="When another scheduler holds the database's lock, exit with status 1 instead of standing by.",
)
@click.option(
    "--retry",
    "retry_s",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between attempts to take the lock while standing by.",
)
@pass_state
def scheduler(state: _State, no_wait: bool, retry_s: float) -> None:
    """Run the scheduled jobs in this process until SIGTERM or Ctrl+C.

    Only one scheduler runs per database: it holds a lock in the database (an advisory
    lock on PostgreSQL, a lease row on SQLite), and a second one stands by until the
    first stops. Each run is logged on stderr and recorded.

    With celery_broker_url configured the scheduler runs no job itself: at each
    scheduled time it sends the job's tasks, one per connection, to the broker for
    'last100 worker' processes to run."""
    import threading

    from hub.core.scheduler import LockedScheduler, wait_for_lock
    from hub.core.tasks import Enqueuer, broker_display, celery_enabled

    _log_to_stderr()
    rt = state.runtime()
    if rt.store.current_revision() is None:
        raise click.ClickException("the database is not migrated: run 'last100 db upgrade'")
    enqueuer = Enqueuer(rt.config) if celery_enabled(rt.config) else None
    specs = rt.hub.jobs()
    lock = rt.store.scheduler_lock()
    if no_wait and not lock.try_acquire():
        raise click.ClickException(_lock_message(lock.holder()))

    def standing_by(holder: Any) -> None:
        click.echo(f"{_lock_message(holder)}; standing by (trying again every {retry_s:g} s)")

    stop = threading.Event()
    with _stop_on_signals(stop):
        if not wait_for_lock(lock, stop, retry_s=retry_s, standing_by=standing_by):
            click.echo("Stopped while standing by")
            return
        service = LockedScheduler(specs, _job_context(rt), lock, on_lost=stop.set, enqueuer=enqueuer)
        service.start()
        try:
            click.echo(
                f"Holding the scheduler lock of {rt.store.url} as {lock.holder_name}; "
                f"scheduling {len(specs)} job(s): {', '.join(sorted(s.id for s in specs))} (Ctrl+C to stop)"
            )
            if enqueuer is not None:
                click.echo(
                    f"Celery: enqueueing each run's tasks on {broker_display(rt.config.celery_broker_url)}, queue "
                    f"{rt.config.celery_queue}; 'last100 worker' processes run them (none run in this process)"
                )
            while not stop.wait(1.0):
                pass
        finally:
            service.stop()  # lets running jobs end, then releases the lock
            if enqueuer is not None:
                enqueuer.close()
    if service.lost.is_set():
        raise click.ClickException(
            "lost the scheduler lock (the database was unreachable, or another scheduler took over): "
            "stopped running jobs"
        )
    click.echo("Scheduler stopped; lock released")


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 512),
    help="Worker processes, each running one task at a time (default: the number of CPUs).",
)
@click.option("--queues", help="Comma-separated queues to read (default: celery_queue from config).")
@pass_state
def worker(state: _State, concurrency: int | None, queues: str | None) -> None:
    """Run a Celery worker that runs the job tasks 'last100 scheduler' sends, until
    SIGTERM or Ctrl+C (a warm shutdown: running tasks finish first).

    Needs celery_broker_url (Redis or RabbitMQ) and the configuration of the scheduler
    and web processes. Workers keep nothing between tasks: run as many as needed, on
    any machines. Each task runs at most once at a time (see docs/jobs.md)."""
    import os
    import socket

    from hub.core.tasks import broker_display, celery_enabled, configure_worker, make_celery

    config = state.config()
    if not celery_enabled(config):
        raise click.ClickException(
            "celery_broker_url is not configured: workers need a broker (redis://… or amqp://…); "
            "without one, 'last100 scheduler' runs the jobs in its own process"
        )
    app = make_celery(config)  # the celery package missing: a clear error (pip install 'last100-hub[celery]')
    _log_to_stderr()
    rt = state.runtime()
    if rt.store.current_revision() is None:
        raise click.ClickException("the database is not migrated: run 'last100 db upgrade'")
    specs = rt.hub.jobs()
    read = [q.strip() for q in (queues or config.celery_queue).split(",") if q.strip()]
    if not read:
        raise click.BadParameter("name at least one queue", param_hint="--queues")
    processes = concurrency or os.cpu_count() or 1
    # Each worker process builds its own runtime on its first task: none uses this one's
    # database connections.
    configure_worker(rt.config, build_runtime)
    rt.store.dispose()
    click.echo(
        f"Worker for {rt.store.url}: reading {', '.join(read)} on {broker_display(config.celery_broker_url)} "
        f"with {processes} process(es); jobs: {', '.join(sorted(s.id for s in specs))} (Ctrl+C to stop)"
    )
    runner = app.Worker(
        hostname=f"last100-{os.getpid()}@{socket.gethostname()}",
        concurrency=processes,
        queues=read,
        pool="prefork",  # enforces the hard time limit the claim rules rely on
        loglevel="INFO",
        quiet=True,
    )
    runner.start()
    if runner.exitcode:
        raise SystemExit(runner.exitcode)
    click.echo("Worker stopped")


# -- serving -------------------------------------------------------------------------------


@main.command()
@click.option("--host", help="Interface to listen on (default from config: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default from config: 8100).")
@click.option("--threads", type=click.IntRange(1, 256), help="Threads per process (default from config: 8).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Processes (default from config: 1); more than 1 runs gunicorn workers (Unix).",
)
@pass_state
def serve(state: _State, **options: int | str | None) -> None:
    """Serve the API and console with a production WSGI server (waitress, or gunicorn
    for several workers)."""
    from hub.web import create_app
    from hub.web.server import ServerError
    from hub.web.server import serve as run

    overrides = {name: value for name, value in options.items() if value is not None}
    _log_to_stderr()
    rt = state.runtime(**overrides)
    config = rt.config
    if rt.store.current_revision() is None:
        raise click.ClickException("the database is not migrated: run 'last100 db upgrade'")
    if config.workers == 1:
        make_app = functools.partial(create_app, runtime=rt)
    else:
        # Every worker builds its own runtime after the fork: no pool crosses processes.
        rt.store.dispose()
        make_app = functools.partial(_worker_app, config)
    try:
        run(config, make_app, announce=click.echo)
    except ServerError as exc:
        raise click.ClickException(str(exc)) from None


def _worker_app(config: Config) -> Any:
    from hub.web import create_app

    return create_app(runtime=build_runtime(config))


@main.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65000),
    default=8100,
    show_default=True,
    help="The hub's port; the simulators take the ports after it.",
)
@click.pass_context
def demo(ctx: click.Context, port: int) -> None:
    """Run the hub with SQLite, the adapters' simulators and a seeded community on
    localhost."""
    from hub import demo as demo_data
    from hub.core.scheduler import LockedScheduler
    from hub.web import create_app
    from hub.web.server import serve as serve_app

    state: _State = ctx.obj
    if state.instance is None:
        state.instance = DEMO_INSTANCE
    config = state.config()
    if write_instance_config(config, plugins=[DEMO_PLUGINS]):
        click.echo(f"Created demo instance in {Path(config.instance_path).resolve()}")
    config = state.config().require_secrets()
    _log_to_stderr("WARNING")  # the demo's own output is its guide; warnings and errors still show
    if DEMO_PLUGINS not in config.plugins:
        raise click.ClickException(f"{config.config_file} is not a demo instance (it does not load {DEMO_PLUGINS})")
    _migrate(config)
    rt = state.runtime()
    specs = [s for s in demo_data.installed_simulators() if rt.hub.is_loaded(s.plugin)]
    if not specs:
        raise click.ClickException(
            "no adapter with a simulator is installed: pip install -e adapters/riderpass (see README.md)"
        )
    hub_url = f"http://127.0.0.1:{port}"
    simulators = _step(
        f"Starting {len(specs)} simulator(s)", lambda: demo_data.start_simulators(specs, hub_url, port + 1)
    )
    # The demo runs the scheduled jobs in its own process, holding the scheduler lock
    # like 'last100 scheduler' (which may hold it instead, for the demo's database).
    lock = rt.store.scheduler_lock()
    jobs = LockedScheduler(
        rt.hub.jobs(),
        _job_context(rt),
        lock,
        on_lost=lambda: click.echo("Lost the scheduler lock: the demo runs no more scheduled jobs", err=True),
    )
    try:
        if _step("Seeding the demo community", lambda: demo_data.seed(rt.store, rt.hub, simulators)) is False:
            click.echo("The demo community was already there; connections now point at this run's simulators")
        password = demo_data.seed_admin(rt.store)
        if password:
            click.echo(f"Console login (shown once): {demo_data.DEMO_ADMIN} / {password}")
        if lock.try_acquire():
            jobs.start()
            click.echo("Running the scheduled jobs in this process")
        else:
            click.echo(f"{_lock_message(lock.holder())}: the demo runs without scheduled jobs")
        _demo_guide(rt, hub_url, simulators)
        served = dataclasses.replace(config, host="127.0.0.1", port=port, workers=1)
        serve_app(served, functools.partial(create_app, runtime=rt), announce=click.echo)
    finally:
        jobs.stop()  # lets a running job end before the lock is released
        for simulator in simulators:
            simulator.stop()


def _demo_guide(rt: Runtime, hub_url: str, simulators: list[Any]) -> None:
    from hub import demo as demo_data

    click.echo("")
    _table(
        ["CONNECTION", "SIMULATES", "AT"],
        [[sim.connection_id, sim.spec.name, sim.base_url] for sim in simulators],
    )
    platform = next(s.connection_id for s in simulators if rt.hub.implements(s.spec.plugin, "hub_verify_rider"))
    gate = rt.gate_codes.sign("sunny-north")
    key = demo_data.issue_demo_key(rt.store, rt.clock.now())
    body = json.dumps(
        {"gate_code": gate, "connection": platform, "credential": {"kind": "token", "value": "demo-rider-1"}}
    )
    click.echo(
        "\nRiders demo-rider-1 (an order on its way), demo-rider-2 (no order), demo-rider-3 (suspended).\n"
        "A rider through the north gate, as a platform's back end asks (API key shown once):\n"
        f"  curl -s -X POST {hub_url}/api/v1/entries -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d '{body}'\n"
        f"The rider page of the north gate, as a rider's phone opens it:\n  {hub_url}/g/{gate}\n"
    )


if __name__ == "__main__":
    main()
