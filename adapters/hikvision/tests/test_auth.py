"""Authentication as Hikvision devices ask for it: the Digest computation against the
RFC 2617 worked example, reading challenges, and the choice between Digest and Basic."""

from __future__ import annotations

import pytest

from last100_hikvision.auth import DeviceAuth, auth_schemes, digest_response
from last100_hikvision.errors import AuthenticationError, AuthSchemeError

DIGEST_CHALLENGE = 'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d", stale="FALSE"'  # noqa: E501
BASIC_CHALLENGE = 'Basic realm="DS-K2604"'


def test_digest_response_matches_the_rfc_2617_worked_example() -> None:
    # RFC 2617, section 3.5.
    response = digest_response(
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc="00000001",
        cnonce="0a4f113b",
    )

    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("challenge", "schemes"),
    [
        (DIGEST_CHALLENGE, {"digest"}),
        (BASIC_CHALLENGE, {"basic"}),
        (f"{DIGEST_CHALLENGE}, {BASIC_CHALLENGE}", {"digest", "basic"}),  # two headers, joined by requests
        ('Digest realm="x, Basic y", nonce="1"', {"digest"}),  # a scheme name inside a quoted value
        ("Basic", {"basic"}),
        ("", set()),
    ],
)
def test_the_schemes_a_challenge_offers(challenge, schemes) -> None:
    assert auth_schemes(challenge) == schemes


def test_auto_starts_with_digest_and_moves_to_basic_when_only_basic_is_offered() -> None:
    auth = DeviceAuth("admin", "pw")

    assert auth.scheme == "digest"
    assert auth.after_refusal("digest", BASIC_CHALLENGE) == "basic"
    assert auth.scheme == "basic"


def test_auto_moves_back_to_digest_when_the_device_offers_it_again() -> None:
    auth = DeviceAuth("admin", "pw")
    auth.after_refusal("digest", BASIC_CHALLENGE)

    assert auth.after_refusal("basic", DIGEST_CHALLENGE) == "digest"


def test_a_refusal_in_the_scheme_the_device_offers_is_a_wrong_password() -> None:
    with pytest.raises(AuthenticationError, match="user name or password") as caught:
        DeviceAuth("admin", "pw").after_refusal("digest", DIGEST_CHALLENGE)

    assert not isinstance(caught.value, AuthSchemeError)


def test_digest_mode_against_a_basic_only_device_names_the_problem() -> None:
    with pytest.raises(AuthSchemeError, match="offers basic authentication only") as caught:
        DeviceAuth("admin", "pw", "digest").after_refusal("digest", BASIC_CHALLENGE)

    assert caught.value.offered == {"basic"}


def test_basic_mode_against_a_digest_only_device_names_the_problem() -> None:
    with pytest.raises(AuthSchemeError, match="offers digest authentication only"):
        DeviceAuth("admin", "pw", "basic").after_refusal("basic", DIGEST_CHALLENGE)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auth must be one of"):
        DeviceAuth("admin", "pw", "ntlm")  # type: ignore[arg-type]
