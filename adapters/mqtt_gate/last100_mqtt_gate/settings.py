"""The settings of one MQTT gate connection (one broker, one topic prefix, the
controllers under it).

Every value loads as plain JSON, because the hub stores settings as JSON and encrypts
the secret ones. File paths are checked when the settings are saved, so a missing CA
file is a form error rather than a failed gate later.
"""

from __future__ import annotations

import os
import re
from typing import Any

import marshmallow
from marshmallow import fields, validate

from last100_mqtt_gate.wire import prefix_problem, topic_level_problem

_CLIENT_ID_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _no_problem(check: Any) -> Any:
    """A validator from a ``*_problem`` function of :mod:`last100_mqtt_gate.wire`."""

    def validator(value: str) -> None:
        problem = check(value)
        if problem is not None:
            raise marshmallow.ValidationError(problem)

    return validator


def _readable_file(value: str) -> None:
    if not os.path.isfile(value):
        raise marshmallow.ValidationError("no such file on the hub's machine")
    if not os.access(value, os.R_OK):
        raise marshmallow.ValidationError("the hub cannot read this file")


class MqttGateSettings(marshmallow.Schema):
    """One MQTT gate connection's settings."""

    host = fields.String(
        required=True,
        validate=validate.Length(min=1, max=253),
        metadata={"description": "The broker's host name or address."},
    )
    port = fields.Integer(
        load_default=1883,
        validate=validate.Range(min=1, max=65535),
        metadata={"description": "The broker's port: 1883 plain, 8883 with TLS by convention."},
    )
    topic_prefix = fields.String(
        required=True,
        validate=_no_problem(prefix_problem),
        metadata={"description": "Topics are <topic_prefix>/<gate>/cmd, /ack and /event."},
    )
    gate_ids = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1)),
        values=fields.String(validate=_no_problem(topic_level_problem)),
        load_default=dict,
        metadata={"description": "The controller's gate id for each hub gate id; unmapped gates use the hub's id."},
    )
    credential_secret = fields.String(
        required=True,
        validate=validate.Length(min=16, error="must be at least 16 characters"),
        metadata={"secret": True, "description": "HMAC key from which each grant's credential is derived."},
    )
    username = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=256),
        metadata={"secret": False, "description": "The hub's username at the broker."},
    )
    password = fields.String(
        load_default=None,
        metadata={"secret": True, "description": "The hub's password at the broker."},
    )
    client_id_prefix = fields.String(
        load_default="last100-hub",
        validate=validate.Regexp(_CLIENT_ID_PREFIX, error="1 to 64 letters, digits, '-' or '_'"),
        metadata={"description": "Client ids are <client_id_prefix>-<8 hex digits>, one per hub process."},
    )
    keepalive_s = fields.Integer(
        load_default=60,
        validate=validate.Range(min=5, max=3600),
        metadata={"description": "MQTT keepalive interval, in seconds."},
    )
    connect_timeout_s = fields.Float(
        load_default=2.0,
        validate=validate.Range(min=0.1, max=30),
        metadata={"description": "Longest wait for TCP, TLS and CONNACK (capped by the connection's timeout)."},
    )
    command_ttl_s = fields.Integer(
        load_default=30,
        validate=validate.Range(min=5, max=3600),
        metadata={"description": "A command's expires_at is this long after sent_at."},
    )
    event_buffer = fields.Integer(
        load_default=1000,
        validate=validate.Range(min=10, max=100000),
        metadata={"description": "Door events kept in memory per controller."},
    )
    tls = fields.Boolean(load_default=False, metadata={"description": "Connect with TLS."})
    tls_ca_file = fields.String(
        load_default=None,
        validate=_readable_file,
        metadata={"description": "PEM file of the CAs of the broker's certificate; the system's CAs if unset."},
    )
    tls_cert_file = fields.String(
        load_default=None,
        validate=_readable_file,
        metadata={"description": "The hub's client certificate (PEM), for brokers that require one."},
    )
    tls_key_file = fields.String(
        load_default=None,
        validate=_readable_file,
        metadata={"secret": False, "description": "The client certificate's private key file (PEM): a path."},
    )
    tls_key_password = fields.String(
        load_default=None,
        metadata={"secret": True, "description": "Password of an encrypted tls_key_file."},
    )
    tls_insecure = fields.Boolean(
        load_default=False,
        metadata={"description": "Do not check that the broker's certificate names host (the chain is still checked)."},
    )

    @marshmallow.validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("password") is not None and data.get("username") is None:
            errors["username"] = ["is required with a password"]
        if bool(data.get("tls_cert_file")) != bool(data.get("tls_key_file")):
            missing = "tls_key_file" if data.get("tls_cert_file") else "tls_cert_file"
            errors[missing] = ["tls_cert_file and tls_key_file go together"]
        if not data.get("tls"):
            for name in ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_key_password", "tls_insecure"):
                if data.get(name):
                    errors.setdefault(name, []).append("has no effect unless tls is true")
        if errors:
            raise marshmallow.ValidationError(errors)
