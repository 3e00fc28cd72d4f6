"""The credential a rider presents at an MQTT gate, derived from the grant id.

The hub keeps no table of issued credentials: the value is an HMAC of the grant id keyed
by the connection's ``credential_secret``, so a grant sent again (a retry after a lost
acknowledgement, the outbox redelivering) carries the same credential, the controller
replaces the pass it holds instead of adding a second one, and the rider's QR stays valid.
Without the secret, nobody can compute the credential of another grant id.

``credential = upper(hex(HMAC-SHA256(key=utf8(secret), msg=utf8("last100-mqtt-gate/v1:" + grant_id))[:16]))``

32 characters from ``0-9A-F``: QR codes carry them in alphanumeric mode, and a keypad or
a guard can read them back.
"""

from __future__ import annotations

import hashlib
import hmac

#: Binds the HMAC to this use, so the same secret used elsewhere yields other values.
CONTEXT = "last100-mqtt-gate/v1:"

#: Bytes of the HMAC kept: 128 bits cannot be guessed at a gate.
CREDENTIAL_BYTES = 16


def derive_credential(secret: str, grant_id: str) -> str:
    """The credential of a grant: the same for the same secret and grant id, always."""
    digest = hmac.new(secret.encode("utf-8"), (CONTEXT + grant_id).encode("utf-8"), hashlib.sha256).digest()
    return digest[:CREDENTIAL_BYTES].hex().upper()
