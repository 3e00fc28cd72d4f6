"""Offline entry codes: the worked example signed with openssl, and codes that are
expired, too long-lived, from another key or community, tampered with, or not EdDSA."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from last100_riderpass.entrycodes import (
    EntryCodeVerifier,
    issue_entry_code,
    key_thumbprint,
    load_public_key,
)
from last100_riderpass.errors import EntryCodeError

NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
COMMUNITY = "sunny-garden"


@pytest.fixture
def example(fixture_json) -> dict:
    return fixture_json("entry_code_example.json")


@pytest.fixture
def platform_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def verifier(platform_key) -> EntryCodeVerifier:
    return EntryCodeVerifier([platform_key.public_key()])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides) -> dict:
    """Claims of a code issued at NOW for two minutes; PyJWT signs them in the tests, not
    the code under test."""
    issued = int(NOW.timestamp())
    base = {
        "sub": "R1001",
        "orders": ["DEMO-ORDER-1"],
        "community": COMMUNITY,
        "iat": issued,
        "exp": issued + 120,
        "jti": "code-1",
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def signed(key: Ed25519PrivateKey, **overrides) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="EdDSA")


def refused(verifier: EntryCodeVerifier, code: str, *, now: datetime = NOW, community: str = COMMUNITY) -> str:
    with pytest.raises(EntryCodeError) as caught:
        verifier.verify(code, community, now)
    return caught.value.problem


# -- the worked example ------------------------------------------------------------------


@pytest.mark.parametrize("key_field", ["public_key_pem", "public_key_raw_base64"])
def test_the_worked_example_verifies_with_the_key_as_pem_or_raw_base64(example, key_field) -> None:
    verifier = EntryCodeVerifier([load_public_key(example[key_field])])

    code = verifier.verify(example["code"], COMMUNITY, NOW + timedelta(seconds=30))

    assert (code.rider_ref, code.order_refs, code.community_id) == ("R1001", ("DEMO-ORDER-1",), COMMUNITY)
    assert (code.code_id, code.masked_name, code.masked_phone) == ("ec-7f3a9c2e", "王*", "138****5678")
    assert code.issued_at == NOW
    assert code.expires_at == NOW + timedelta(seconds=120)


def test_a_raw_key_may_be_given_in_base64url(example) -> None:
    urlsafe = example["public_key_raw_base64"].replace("+", "-").replace("/", "_").rstrip("=")

    assert load_public_key(urlsafe).public_bytes(Encoding.Raw, PublicFormat.Raw) == base64.b64decode(
        example["public_key_raw_base64"]
    )


def test_the_kid_is_the_rfc_7638_thumbprint_of_the_key(example) -> None:
    assert key_thumbprint(load_public_key(example["public_key_pem"])) == example["kid"]


def test_a_tampered_worked_example_is_refused(example) -> None:
    header, payload, signature = example["code"].split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims_["orders"] = ["SOMEONE-ELSES-ORDER"]
    forged = f"{header}.{b64url(json.dumps(claims_).encode())}.{signature}"
    verifier = EntryCodeVerifier([load_public_key(example["public_key_pem"])])

    assert refused(verifier, forged) == "invalid"


# -- lifetime ----------------------------------------------------------------------------


def test_a_fresh_code_verifies(verifier, platform_key) -> None:
    assert verifier.verify(signed(platform_key), COMMUNITY, NOW).rider_ref == "R1001"


def test_an_expired_code_is_refused_after_the_leeway(verifier, platform_key) -> None:
    code = signed(platform_key)

    assert verifier.verify(code, COMMUNITY, NOW + timedelta(seconds=150)).code_id == "code-1"  # 120 s + 30 s
    assert refused(verifier, code, now=NOW + timedelta(seconds=151)) == "expired"


def test_the_leeway_is_configurable(platform_key) -> None:
    strict = EntryCodeVerifier([platform_key.public_key()], leeway_s=0)

    assert refused(strict, signed(platform_key), now=NOW + timedelta(seconds=121)) == "expired"


def test_a_code_valid_for_more_than_five_minutes_is_refused(verifier, platform_key) -> None:
    issued = int(NOW.timestamp())

    assert verifier.verify(signed(platform_key, exp=issued + 300), COMMUNITY, NOW).code_id == "code-1"
    assert refused(verifier, signed(platform_key, exp=issued + 301)) == "too_long_lived"


def test_a_later_iat_cannot_stretch_a_code_beyond_five_minutes_from_now(verifier, platform_key) -> None:
    issued = int(NOW.timestamp())

    code = signed(platform_key, iat=issued + 200, exp=issued + 400)

    assert refused(verifier, code) == "too_long_lived"


def test_a_code_issued_in_the_future_is_refused(verifier, platform_key) -> None:
    issued = int(NOW.timestamp())

    assert refused(verifier, signed(platform_key, iat=issued + 60, exp=issued + 120)) == "not_yet_valid"


def test_a_code_expiring_before_it_was_issued_is_refused(verifier, platform_key) -> None:
    issued = int(NOW.timestamp())

    assert refused(verifier, signed(platform_key, exp=issued - 1)) == "invalid"


# -- who signed it, and how --------------------------------------------------------------


def test_a_code_signed_by_another_key_is_refused(verifier) -> None:
    assert refused(verifier, signed(Ed25519PrivateKey.generate())) == "invalid"


def test_a_code_for_another_community_is_refused(verifier, platform_key) -> None:
    assert refused(verifier, signed(platform_key), community="maple-court") == "wrong_community"


def test_alg_none_is_refused(verifier) -> None:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{b64url(json.dumps(claims()).encode())}."

    assert refused(verifier, unsigned) == "invalid"


def test_an_hmac_code_keyed_with_the_public_key_is_refused(platform_key) -> None:
    # The classic key confusion: the public key's bytes used as an HS256 secret.
    public_raw = platform_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims()).encode())
    mac = hmac.new(public_raw, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    verifier = EntryCodeVerifier([platform_key.public_key()])

    assert refused(verifier, f"{header}.{payload}.{b64url(mac)}") == "invalid"


def test_a_code_signed_with_another_asymmetric_algorithm_is_refused(platform_key) -> None:
    es256 = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")

    assert refused(EntryCodeVerifier([platform_key.public_key()]), es256) == "invalid"


@pytest.mark.parametrize(
    "overrides",
    [
        {"jti": None},
        {"sub": None},
        {"orders": None},
        {"community": None},
        {"orders": "DEMO-ORDER-1"},
        {"orders": [1]},
        {"sub": ""},
        {"iat": "1767585600"},
        {"masked_name": 7},
    ],
    ids=["no jti", "no sub", "no orders", "no community", "orders not a list", "numeric order", "empty sub",
         "textual iat", "numeric name"],
)  # fmt: skip
def test_a_code_with_missing_or_mistyped_claims_is_refused(verifier, platform_key, overrides) -> None:
    assert refused(verifier, signed(platform_key, **overrides)) == "invalid"


def test_text_that_is_not_a_jwt_is_refused(verifier) -> None:
    assert refused(verifier, "R1001-DEMO-ORDER-1") == "invalid"


def test_text_longer_than_any_real_code_is_refused_unparsed(verifier, platform_key) -> None:
    padded = signed(platform_key, masked_name="王" + "*" * 2000)

    assert refused(verifier, padded) == "invalid"


# -- rotation ----------------------------------------------------------------------------


def test_codes_of_both_keys_verify_while_the_platform_rotates(platform_key) -> None:
    new_key = Ed25519PrivateKey.generate()
    verifier = EntryCodeVerifier([platform_key.public_key(), new_key.public_key()])

    assert verifier.verify(signed(platform_key), COMMUNITY, NOW).rider_ref == "R1001"
    assert verifier.verify(signed(new_key, sub="R1002"), COMMUNITY, NOW).rider_ref == "R1002"


def test_a_code_of_a_retired_key_is_refused(platform_key) -> None:
    new_key = Ed25519PrivateKey.generate()
    after_rotation = EntryCodeVerifier([new_key.public_key()])

    assert refused(after_rotation, signed(platform_key)) == "invalid"


def test_a_kid_naming_a_configured_key_picks_that_key(platform_key) -> None:
    new_key = Ed25519PrivateKey.generate()
    verifier = EntryCodeVerifier([platform_key.public_key(), new_key.public_key()])
    kid = key_thumbprint(new_key.public_key())

    good = jwt.encode(claims(), new_key, algorithm="EdDSA", headers={"kid": kid})
    mislabelled = jwt.encode(claims(), platform_key, algorithm="EdDSA", headers={"kid": kid})

    assert verifier.verify(good, COMMUNITY, NOW).rider_ref == "R1001"
    assert refused(verifier, mislabelled) == "invalid"


def test_a_kid_the_hub_does_not_know_is_only_a_hint(verifier, platform_key) -> None:
    code = jwt.encode(claims(), platform_key, algorithm="EdDSA", headers={"kid": "platform-2026-01"})

    assert verifier.verify(code, COMMUNITY, NOW).rider_ref == "R1001"


# -- keys and issuing --------------------------------------------------------------------


def test_a_public_key_that_is_not_ed25519_is_refused() -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_public_key(rsa_pem)
    with pytest.raises(ValueError, match="32 bytes"):
        load_public_key(base64.b64encode(b"\x01" * 31).decode())
    with pytest.raises(ValueError, match="neither PEM nor base64"):
        load_public_key("ed25519:abc!")


def test_an_issued_code_carries_what_the_protocol_asks_for(platform_key) -> None:
    code = issue_entry_code(
        platform_key,
        rider_ref="R1001",
        order_refs=["DEMO-ORDER-1"],
        community_id=COMMUNITY,
        now=NOW,
        ttl_s=90,
        masked_name="王*",
    )

    header = jwt.get_unverified_header(code)
    raw = jwt.decode(code, platform_key.public_key(), algorithms=["EdDSA"], options={"verify_exp": False})
    assert header["kid"] == key_thumbprint(platform_key.public_key())
    assert raw["exp"] - raw["iat"] == 90
    assert raw["masked_name"] == "王*"
    assert "masked_phone" not in raw
    assert len(raw["jti"]) == 32
