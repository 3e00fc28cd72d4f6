"""A plugin with a secret setting, loaded by import path in CLI tests."""

from __future__ import annotations

import marshmallow
from marshmallow import fields

from hub import Health, PluginInfo, hookimpl

PASSWORD = "correct-horse-battery"


class Settings(marshmallow.Schema):
    password = fields.String(required=True, metadata={"secret": True})


class VaultPlugin:
    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="vault", kinds={"access"}, version="1", settings_schema=Settings)

    @hookimpl
    def hub_check_connection(self, connection) -> Health:
        ok = connection.settings["password"] == PASSWORD
        return Health(ok=ok, message="password accepted" if ok else "password was refused")
