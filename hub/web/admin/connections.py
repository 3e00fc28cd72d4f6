"""The console's connections page: every connection with the communities it serves, and
a form to add or change one, generated from its plugin's settings schema. Operators only.

The rules are those of ``last100 connections add``: the settings are validated through
the plugin's schema and the deployment's URL policy (:mod:`hub.core.urlpolicy`), and the
connection is tested (``hub_check_connection``) before it is saved; an operator may save
without the test, which the audit log records. Secrets are write-only: the form never
shows them, and on edit an empty secret keeps the stored one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import marshmallow
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import fields, validate
from werkzeug.exceptions import NotFound

from hub.core import errors, urlpolicy
from hub.core.model import Connection, PluginKind
from hub.core.plugins import PluginError, secret_fields
from hub.web.admin import bp
from hub.web.admin.auth import audit, login_required
from hub.web.context import runtime_of

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass
class SettingField:
    """One input of the generated settings form."""

    name: str
    kind: str  # "text" | "number" | "checkbox" | "select" | "json" | "password"
    required: bool
    help: str = ""
    choices: list[str] = field(default_factory=list)
    step: str = "1"


def settings_form(schema: type[marshmallow.Schema] | None) -> list[SettingField]:
    """The inputs for a plugin's settings schema, one per declared field."""
    if schema is None:
        return []
    out = []
    for name, fobj in schema._declared_fields.items():
        if fobj.dump_only:
            continue
        help_text = str(fobj.metadata.get("description") or "")
        spec = SettingField(name, "text", bool(fobj.required), help_text)
        one_of = next((v for v in fobj.validators if isinstance(v, validate.OneOf)), None)
        if fobj.metadata.get("secret"):
            spec.kind = "password"
        elif isinstance(fobj, fields.Boolean):
            spec.kind = "checkbox"
        elif one_of is not None:
            spec.kind = "select"
            spec.choices = [str(c) for c in one_of.choices]
        elif isinstance(fobj, fields.Number):
            spec.kind = "number"
            spec.step = "1" if isinstance(fobj, fields.Integer) else "any"
        elif isinstance(fobj, fields.List | fields.Dict | fields.Nested | fields.Tuple | fields.Mapping):
            spec.kind = "json"
        out.append(spec)
    return out


def _shown_values(specs: list[SettingField], settings: dict[str, Any]) -> dict[str, Any]:
    """What the form's inputs show for stored settings (never a secret)."""
    shown: dict[str, Any] = {}
    for spec in specs:
        if spec.kind == "password" or spec.name not in settings:
            continue
        value = settings[spec.name]
        if spec.kind == "json":
            shown[spec.name] = json.dumps(value, ensure_ascii=False, indent=2, default=str)
        elif spec.kind == "checkbox":
            shown[spec.name] = bool(value)
        else:
            shown[spec.name] = "" if value is None else str(value)
    return shown


def _read_settings(
    specs: list[SettingField], stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]], list[str]]:
    """The submitted settings: (values for the schema, what to show again, errors, names
    of the secrets given). An empty secret keeps the stored one."""
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    secrets_given: list[str] = []
    form = request.form
    for spec in specs:
        key = f"setting-{spec.name}"
        if spec.kind == "checkbox":
            values[spec.name] = shown[spec.name] = key in form
            continue
        raw = form.get(key, "")
        if spec.kind == "password":
            if raw:
                values[spec.name] = raw
                secrets_given.append(spec.name)
            elif spec.name in stored:
                values[spec.name] = stored[spec.name]
            continue
        shown[spec.name] = raw
        if raw.strip() == "":
            continue
        if spec.kind == "json":
            try:
                values[spec.name] = json.loads(raw)
            except ValueError:
                problems[spec.name] = [_("This is not valid JSON.")]
        else:
            values[spec.name] = raw.strip() if spec.kind == "number" else raw
    return values, shown, problems, secrets_given


def _messages(found: Any) -> list[str]:
    """A field's marshmallow messages as flat text (nested fields give dicts)."""
    if isinstance(found, dict):
        return [f"{k}: {m}" for k, v in found.items() for m in _messages(v)]
    if isinstance(found, list | tuple):
        return [m for item in found for m in _messages(item)]
    return [str(found)]


def _plugin_record(name: str) -> Any:
    try:
        return runtime_of().hub.plugin(name)
    except PluginError:
        raise NotFound() from None


def _configurable_plugins() -> list[Any]:
    return [p for p in runtime_of().hub.plugins() if PluginKind.CORE not in p.info.kinds]


@bp.get("/connections")
@login_required("operator")
def connections() -> str:
    rt = runtime_of()
    names = {c.id: c.name for c in rt.store.list_communities()}
    return render_template(
        "admin/connections.html",
        connections=rt.store.list_connections(),
        links=rt.store.connection_community_ids(),
        community_names=names,
        plugins=_configurable_plugins(),
    )


@bp.route("/connections/new", methods=["GET", "POST"])
@login_required("operator")
def connection_new() -> Any:
    plugin_name = request.values.get("plugin", "")
    if not plugin_name:
        return render_template("admin/connection_pick.html", plugins=_configurable_plugins())
    return _connection_form(_plugin_record(plugin_name), None)


@bp.route("/connections/<connection_id>/edit", methods=["GET", "POST"])
@login_required("operator")
def connection_edit(connection_id: str) -> Any:
    try:
        existing = runtime_of().store.get_connection(connection_id)
    except errors.NotFound:
        raise NotFound() from None
    return _connection_form(_plugin_record(existing.plugin), existing)


def _number(raw: str, kind: type, problems: dict[str, list[str]], key: str, default: Any) -> Any:
    try:
        value = kind(raw)
    except ValueError:
        problems[key] = [_("Enter a number.")]
        return default
    if value <= 0:
        problems[key] = [_("Enter a number greater than zero.")]
    return value


def _connection_form(record: Any, existing: Connection | None) -> Any:
    rt = runtime_of()
    info = record.info
    specs = settings_form(info.settings_schema)
    secrets = secret_fields(info)
    communities = rt.store.list_communities()
    linked = set(rt.store.connection_community_ids().get(existing.id, [])) if existing else set()
    stored = dict(existing.settings) if existing else {}
    context: dict[str, Any] = {
        "plugin": info,
        "specs": specs,
        "existing": existing,
        "communities": communities,
        "problems": {},
        "setting_problems": {},
        "check_failed": None,
        "has_secret": {name: name in stored for name in secrets},
    }
    if request.method == "GET":
        base = existing or Connection("", info.name, "")
        context.update(
            values=_shown_values(specs, stored),
            form={
                "id": base.id,
                "name": base.name,
                "timeout": str(base.timeout_s),
                "freshness": str(base.freshness_s),
                "enabled": base.enabled,
                "communities": linked,
                "skip_check": False,
            },
        )
        return render_template("admin/connection_form.html", **context)

    form = request.form
    problems: dict[str, list[str]] = {}
    connection_id = existing.id if existing else form.get("id", "").strip()
    if existing is None:
        if not _ID.match(connection_id):
            problems["id"] = [_("Use letters, digits, '-', '_' or '.' (at most 64).")]
        else:
            known = {c.id for c in rt.store.list_connections()}
            if connection_id in known:
                problems["id"] = [_("A connection with this id exists.")]
    name = form.get("name", "").strip()
    if not name:
        problems["name"] = [_("Give the connection a name.")]
    timeout = _number(form.get("timeout", ""), float, problems, "timeout", 3.0)
    freshness = _number(form.get("freshness", ""), int, problems, "freshness", 120)
    known_communities = {c.id for c in communities}
    chosen = {c for c in form.getlist("communities") if c in known_communities}
    enabled = "enabled" in form
    skip_check = "skip_check" in form
    values, shown, setting_problems, secrets_given = _read_settings(specs, stored)
    context.update(
        values=shown,
        form={
            "id": connection_id,
            "name": name,
            "timeout": form.get("timeout", ""),
            "freshness": form.get("freshness", ""),
            "enabled": enabled,
            "communities": chosen,
            "skip_check": skip_check,
        },
        problems=problems,
        setting_problems=setting_problems,
    )
    if not setting_problems:
        try:
            loaded = rt.hub.validate_settings(info.name, values)
        except errors.SettingsError as exc:
            setting_problems.update({k: _messages(v) for k, v in exc.errors.items()})
            loaded = {}
        else:
            # Where the hub may be sent (schemes, addresses): checked even when saving untested.
            policy = urlpolicy.UrlPolicy.from_config(rt.config)
            setting_problems.update(urlpolicy.settings_problems(info.settings_schema, loaded, policy))
    if problems or setting_problems:
        return render_template("admin/connection_form.html", **context), 400

    connection = Connection(connection_id, info.name, name, loaded, timeout, freshness, enabled)
    tested = not skip_check and rt.hub.implements(info.name, "hub_check_connection")
    if tested:
        try:
            health = rt.hub.check_connection(connection)
            ok, message = health.ok, health.message
        except Exception as exc:  # any failure of the test is shown, not raised
            ok, message = False, f"{type(exc).__name__}: {exc}"
        if not ok:
            context["check_failed"] = message or _("The connection test failed.")
            return render_template("admin/connection_form.html", **context), 400

    if existing is None:
        rt.store.add_connection(connection, secrets, sorted(chosen))
    else:
        rt.store.update_connection(connection, secrets)
        for community_id in sorted(chosen - linked):
            rt.store.link_connection(community_id, connection_id)
        for community_id in sorted(linked - chosen):
            rt.store.unlink_connection(community_id, connection_id)
    audit(
        "connection.updated" if existing else "connection.created",
        connection_id,
        {
            "plugin": info.name,
            "name": name,
            "timeout_s": timeout,
            "freshness_s": freshness,
            "enabled": enabled,
            "communities": sorted(chosen),
            "settings": sorted(k for k in loaded if k not in secrets),
            "secrets_replaced": sorted(secrets_given),
            "tested": tested,
            "saved_without_testing": skip_check,
        },
    )
    return redirect(url_for("admin.connections", saved=connection_id, _anchor=f"connection-{connection_id}"), 303)
