"""The credential derivation against worked examples computed with openssl:

    printf '%s' 'last100-mqtt-gate/v1:G-1001' \\
        | openssl dgst -sha256 -hmac 'example-credential-secret-0123456789'
"""

from __future__ import annotations

from last100_mqtt_gate.credentials import derive_credential

SECRET = "example-credential-secret-0123456789"


def test_the_credential_is_the_first_16_bytes_of_the_hmac_in_upper_hex() -> None:
    # openssl: 8493312e36df9fbfad8ccc65c4ebd428e31d059afd1ffcb1151cc1be0eb1a86a
    assert derive_credential(SECRET, "G-1001") == "8493312E36DF9FBFAD8CCC65C4EBD428"


def test_a_grant_id_is_hashed_as_utf8() -> None:
    # openssl: 069789b4a2bda2690ac99e9b3318ab004a9c5c23455e45fe4bc4dd1c46691e5a
    assert derive_credential(SECRET, "入场-42") == "069789B4A2BDA2690AC99E9B3318AB00"


def test_another_secret_gives_another_credential() -> None:
    assert derive_credential(SECRET + "x", "G-1001") != "8493312E36DF9FBFAD8CCC65C4EBD428"
