"""The adapters that take pushes or signed codes, in one hub with a connection of each,
and the senders' side of their signatures: for fuzzing their parsers directly, through
the hub's facade and through the hub's HTTP endpoints.

No adapter is ever asked to call out: every ``base_url`` is a closed loopback port.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook

from hub.core.clock import Clock
from hub.core.model import Connection, PushRequest
from hub.core.plugins import Hub, secret_fields
from hub.core.store import Store
from last100_eleme.plugin import ElemePlugin
from last100_hikvision.plugin import HikvisionPlugin
from last100_meituan.plugin import MeituanPlugin
from last100_meituan.signing import sign as meituan_sign
from last100_riderpass.entrycodes import raw_public_key
from last100_riderpass.plugin import RiderPassPlugin

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing is called

RP_SIGNING = b"riderpass-property-signing-key-0032"
RP_PUSH = b"riderpass-property-webhook-key-0032"
ENTRY_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"last100 property entry codes").digest())
MT_APP_ID, MT_SECRET = "6510", "mt-property-secret"
EL_APP_ID, EL_SECRET = "65929831", "el-property-secret"
HIK_TOKEN = "hik-property-push-token-0001"

#: connection id: (plugin, raw settings)
CONNECTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "rp": (
        "riderpass",
        {
            "base_url": NOWHERE + "/riderpass",
            "key_id": "hub-1",
            "signing_secret": base64.b64encode(RP_SIGNING).decode(),
            "push_secrets": ["whsec_" + base64.b64encode(RP_PUSH).decode()],
            "entry_code_keys": [base64.b64encode(raw_public_key(ENTRY_KEY.public_key())).decode()],
        },
    ),
    "mt": ("meituan", {"app_id": MT_APP_ID, "app_secret": MT_SECRET, "base_url": NOWHERE}),
    "el": (
        "eleme",
        {"base_url": NOWHERE, "app_key": "key-1", "secret": EL_SECRET, "token": "tok-1", "app_id": EL_APP_ID},
    ),
    "hik": (
        "hikvision",
        {
            "base_url": NOWHERE,
            "username": "admin",
            "password": "hik-property-pass",
            "card_secret": "hik-property-card-secret-000001",
            "push_token": HIK_TOKEN,
        },
    ),
}


def adapter_plugins(clock: Clock) -> list[object]:
    return [
        RiderPassPlugin(clock=clock),
        MeituanPlugin(),
        ElemePlugin(clock=lambda: clock.now().timestamp()),
        HikvisionPlugin(clock=clock),
    ]


def connect(hub: Hub, store: Store | None = None, communities: tuple[str, ...] = ("c1",)) -> dict[str, Connection]:
    """A connection of each adapter, its settings loaded through the hub; stored too
    (serving ``communities``) when a store is given."""
    made = {}
    for connection_id, (plugin, raw) in CONNECTIONS.items():
        settings = hub.validate_settings(plugin, raw)
        connection = Connection(connection_id, plugin, f"{plugin} (property tests)", settings, timeout_s=1.0)
        if store is not None:
            store.add_connection(connection, secret_fields(hub.plugin(plugin).info), list(communities))
        made[connection_id] = connection
    return made


def push_request(
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    at: datetime | None = None,
    *,
    url: str = "http://localhost/api/v1/push/x",
    query: Mapping[str, str] | None = None,
    form: Mapping[str, str] | None = None,
) -> PushRequest:
    return PushRequest(
        method="POST",
        url=url,
        headers=dict(headers or {}),
        body=body,
        received_at=at or datetime(2026, 1, 5, 4, 0, tzinfo=UTC),
        query=dict(query or {}),
        form=dict(form or {}),
    )


# -- the senders' side -------------------------------------------------------------------------


def riderpass_push_headers(body: bytes, msg_id: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed by the reference library."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(RP_PUSH).sign(msg_id, at, body.decode("utf-8", "surrogateescape")),
        "content-type": "application/json",
    }


def meituan_form(url: str, fields: Mapping[str, str], at: datetime) -> dict[str, str]:
    """A Meituan callback's form, signed over ``url``."""
    form = {**fields, "app_id": MT_APP_ID, "timestamp": str(int(at.timestamp()))}
    form["sig"] = meituan_sign(url, form, MT_SECRET)
    return form


def meituan_request(url: str, fields: Mapping[str, str], at: datetime) -> PushRequest:
    form = meituan_form(url, fields, at)
    return push_request(
        urlencode(form).encode(), {"content-type": "application/x-www-form-urlencoded"}, at, url=url, form=form
    )


def eleme_signature(fields: Mapping[str, Any]) -> str:
    """Ele.me's push signature written out as its docs state it (independently of the
    adapter): values as text, ``null`` as nothing."""
    text = "".join(f"{k}={'' if fields[k] is None else fields[k]}" for k in sorted(fields) if k != "signature")
    return hashlib.md5((text + EL_SECRET).encode("utf-8", "surrogatepass")).hexdigest().upper()


def eleme_body(fields: Mapping[str, Any]) -> bytes:
    signed = {k: v for k, v in fields.items() if k != "signature"}
    signed["signature"] = eleme_signature(signed)
    return json.dumps(signed, ensure_ascii=False).encode("utf-8", "surrogatepass")
