"""Signing and verification, as properties: for arbitrary payloads and keys a signature
made by the sender verifies; changing any single byte of what is signed, of the
signature, of the timestamp or of the key is refused; a timestamp outside the tolerance
is refused, whatever the signature.

Covered: the hub's gate codes and presence codes (hub/core/tokens.py), RiderPass request
signatures, Standard Webhooks pushes and Ed25519 entry codes, Meituan's MD5 signatures,
Ele.me's request and push signatures, the locker bank's and the visitor system's
HMAC-SHA256 request signatures. Where an independent implementation exists (the
``standardwebhooks`` package, Meituan's algorithm as the protocol states it), the sender
side is that one, not the code under test.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from hub.core.errors import NotFound
from hub.core.tokens import PRESENCE_STEP_S, GateCodes, PresenceCodes
from last100_eleme.messages import PushAuthError, PushError, verify_push
from last100_eleme.signing import push_signature, request_signature
from last100_locker import signing as locker
from last100_locker.errors import RequestSignatureError as LockerSignatureError
from last100_meituan.signing import CallbackForged, sign, verify_callback
from last100_riderpass import signing as riderpass
from last100_riderpass.entrycodes import MAX_LIFETIME_S, EntryCodeVerifier, issue_entry_code
from last100_riderpass.errors import EntryCodeError, PushVerificationError, RequestSignatureError
from last100_riderpass.webhooks import TOLERANCE_S, verify_signature
from last100_visitor_http import signing as visitor
from last100_visitor_http.errors import SignatureError
from tests.property.strategies import instants, one_byte_changed, one_char_changed, refs

keys_text = st.text(min_size=1, max_size=40)
gate_codes = st.text(min_size=1, max_size=60)
bodies = st.binary(max_size=200)
methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
paths = st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=60).map(
    lambda p: "/" + p.lstrip("/")
)
secrets_32 = st.binary(min_size=32, max_size=64)
base64_chars = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")


# -- gate codes --------------------------------------------------------------------------------


@given(key=keys_text, code=gate_codes)
def test_a_signed_gate_code_verifies_to_the_gate_code(key, code):
    assert GateCodes(key).verify(GateCodes(key).sign(code)) == code


@given(key=keys_text, code=gate_codes, data=st.data())
def test_a_gate_code_with_any_character_changed_is_not_found(key, code, data):
    codes = GateCodes(key)
    signed = codes.sign(code)
    changed = data.draw(one_char_changed(signed))

    with pytest.raises(NotFound):
        codes.verify(changed)


@given(key=keys_text, other=keys_text, code=gate_codes)
def test_a_gate_code_signed_with_another_key_is_not_found(key, other, code):
    assume(key != other)

    with pytest.raises(NotFound):
        GateCodes(other).verify(GateCodes(key).sign(code))


@given(key=keys_text, code=gate_codes)
def test_a_printed_gate_code_is_no_screen_token_and_a_screen_token_no_gate_code(key, code):
    codes = GateCodes(key)

    with pytest.raises(NotFound):
        codes.verify_screen(codes.sign(code))
    with pytest.raises(NotFound):
        codes.verify(codes.screen_token(code))
    assert codes.verify_screen(codes.screen_token(code)) == code


URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def respellings(signed: str, alphabet: str, end: int | None = None) -> list[str]:
    """``signed`` with the last character before ``end`` replaced by each other
    character of ``alphabet``. The last base64 character of a signature carries unused
    bits; a verifier that decodes before comparing would accept some of these."""
    at = (len(signed) if end is None else end) - 1
    return [signed[:at] + c + signed[at + 1 :] for c in alphabet if c != signed[at]]


@given(key=keys_text, code=gate_codes)
def test_a_gate_code_has_exactly_one_spelling(key, code):
    codes = GateCodes(key)
    for spelling in respellings(codes.sign(code), URLSAFE):
        with pytest.raises(NotFound):
            codes.verify(spelling)


# -- presence codes ------------------------------------------------------------------------------


@given(key=keys_text, gate=refs, at=instants, drift=st.integers(-PRESENCE_STEP_S, PRESENCE_STEP_S))
def test_the_screens_code_is_accepted_within_one_step_either_way(key, gate, at, drift):
    codes = PresenceCodes(key)
    shown = codes.current(gate, at)

    then = at + timedelta(seconds=drift)

    step = codes.step(gate, shown, then)

    assert step is not None
    assert abs(step - int(then.timestamp()) // PRESENCE_STEP_S) <= 1
    assert codes.current(gate, datetime.fromtimestamp(step * PRESENCE_STEP_S, UTC)) == shown


@given(key=keys_text, gate=refs, at=instants, steps=st.integers(2, 10_000), later=st.booleans())
def test_a_code_two_or_more_steps_away_is_refused_unless_it_happens_to_be_todays(key, gate, at, steps, later):
    codes = PresenceCodes(key)
    shown = codes.current(gate, at)
    then = at + timedelta(seconds=(steps if later else -steps) * PRESENCE_STEP_S)

    step = codes.step(gate, shown, then)

    # Six digits repeat by chance (one in a million per step): then the code *is* the
    # one shown near ``then``, and accepting it is right.
    if step is not None:
        assert abs(step - int(then.timestamp()) // PRESENCE_STEP_S) <= 1
        assert codes.current(gate, datetime.fromtimestamp(step * PRESENCE_STEP_S, UTC)) == shown


@given(key=keys_text, other=keys_text, gate=refs, elsewhere=refs, at=instants)
def test_a_screens_code_is_refused_at_another_gate_and_by_another_deployment(key, other, gate, elsewhere, at):
    assume(key != other and gate != elsewhere)
    shown = PresenceCodes(key).current(gate, at)

    for codes, where in ((PresenceCodes(key), elsewhere), (PresenceCodes(other), gate)):
        step = codes.step(where, shown, at)
        if step is not None:  # by chance, see above
            assert abs(step - int(at.timestamp()) // PRESENCE_STEP_S) <= 1
            assert codes.current(where, datetime.fromtimestamp(step * PRESENCE_STEP_S, UTC)) == shown


# -- RiderPass request signatures ---------------------------------------------------------------


def _signed_headers(key_id: str, secret: bytes, stamp: int, method: str, path: str, body: bytes) -> dict[str, str]:
    return {
        riderpass.KEY_ID_HEADER: key_id,
        riderpass.TIMESTAMP_HEADER: str(stamp),
        riderpass.SIGNATURE_HEADER: riderpass.sign_request(secret, stamp, method, path, body),
    }


@given(
    key_id=refs,
    secret=secrets_32,
    at=instants,
    skew=st.integers(-riderpass.TOLERANCE_S, riderpass.TOLERANCE_S),
    method=methods,
    path=paths,
    body=bodies,
)
def test_a_riderpass_request_signature_verifies(key_id, secret, at, skew, method, path, body):
    stamp = int(at.timestamp())
    headers = _signed_headers(key_id, secret, stamp, method, path, body)

    assert riderpass.verify_request({key_id: secret}, headers, method, path, body, stamp + skew) == key_id


@given(key_id=refs, secret=secrets_32, at=instants, method=methods, path=paths, body=bodies, data=st.data())
def test_a_riderpass_request_with_any_part_changed_is_refused(key_id, secret, at, method, path, body, data):
    stamp = int(at.timestamp())
    headers = _signed_headers(key_id, secret, stamp, method, path, body)
    part = data.draw(st.sampled_from(["body", "path", "signature", "timestamp", "secret"]))
    secrets = {key_id: secret}
    if part == "body":
        body = data.draw(one_byte_changed(body)) if body else b"x"
    elif part == "path":
        path = data.draw(one_char_changed(path, st.characters(codec="ascii", exclude_categories=("Cc",))))
    elif part == "signature":
        value = headers[riderpass.SIGNATURE_HEADER]
        headers[riderpass.SIGNATURE_HEADER] = value[:3] + data.draw(one_char_changed(value[3:], base64_chars))
    elif part == "timestamp":
        headers[riderpass.TIMESTAMP_HEADER] = str(stamp + data.draw(st.integers(1, 60) | st.integers(-60, -1)))
    else:
        secrets = {key_id: data.draw(one_byte_changed(secret))}

    with pytest.raises(RequestSignatureError) as refused:
        riderpass.verify_request(secrets, headers, method, path, body, stamp)
    assert refused.value.code in ("signature_invalid", "timestamp_out_of_range")


@given(
    key_id=refs, secret=secrets_32, at=instants, off=st.integers(riderpass.TOLERANCE_S + 1, 10**9), late=st.booleans()
)
def test_a_riderpass_request_outside_five_minutes_is_refused_though_signed(key_id, secret, at, off, late):
    stamp = int(at.timestamp())
    headers = _signed_headers(key_id, secret, stamp, "POST", "/v1/riders/verify", b"{}")

    with pytest.raises(RequestSignatureError) as refused:
        riderpass.verify_request(
            {key_id: secret}, headers, "POST", "/v1/riders/verify", b"{}", stamp + (off if late else -off)
        )
    assert refused.value.code == "timestamp_out_of_range"


# -- Standard Webhooks pushes (RiderPass) -------------------------------------------------------


msg_ids = refs.map(lambda r: "msg_" + r)
push_bodies = st.text(max_size=200)


def _webhook_headers(secret: bytes, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


@given(
    secret=st.binary(min_size=24, max_size=64),
    others=st.lists(st.binary(min_size=24, max_size=64), max_size=2),
    msg_id=msg_ids,
    at=instants,
    skew=st.integers(-TOLERANCE_S, TOLERANCE_S),
    body=push_bodies,
)
def test_a_push_signed_by_the_standard_webhooks_library_verifies(secret, others, msg_id, at, skew, body):
    headers = _webhook_headers(secret, msg_id, at, body)

    # A hub holding several secrets (rotation) accepts a push signed with any of them.
    verified = verify_signature([*others, secret], headers, body.encode(), at + timedelta(seconds=skew))

    assert verified == msg_id


@given(secret=st.binary(min_size=24, max_size=64), msg_id=msg_ids, at=instants, body=push_bodies, data=st.data())
def test_a_push_with_any_part_changed_is_refused(secret, msg_id, at, body, data):
    headers = _webhook_headers(secret, msg_id, at, body)
    raw = body.encode()
    secrets = [secret]
    part = data.draw(st.sampled_from(["body", "id", "signature", "timestamp", "secret"]))
    if part == "body":
        raw = data.draw(one_byte_changed(raw)) if raw else b"x"
    elif part == "id":
        headers["webhook-id"] = data.draw(one_char_changed(msg_id, st.characters(codec="ascii", categories=("L", "N"))))
    elif part == "signature":
        value = headers["webhook-signature"]
        headers["webhook-signature"] = "v1," + data.draw(one_char_changed(value[3:], base64_chars))
    elif part == "timestamp":
        headers["webhook-timestamp"] = str(int(at.timestamp()) + data.draw(st.integers(-60, 60).filter(bool)))
    else:
        secrets = [data.draw(one_byte_changed(secret))]

    with pytest.raises(PushVerificationError):
        verify_signature(secrets, headers, raw, at)


@given(secret=st.binary(min_size=24, max_size=64), msg_id=msg_ids, at=instants)
def test_a_push_signature_has_exactly_one_spelling(secret, msg_id, at):
    headers = _webhook_headers(secret, msg_id, at, "{}")
    signature = headers["webhook-signature"]

    for spelling in respellings(signature, STANDARD, end=signature.rindex("=")):
        with pytest.raises(PushVerificationError):
            verify_signature([secret], {**headers, "webhook-signature": spelling}, b"{}", at)


@given(
    secret=st.binary(min_size=24, max_size=64),
    at=instants,
    off=st.integers(TOLERANCE_S + 1, 10**8),
    late=st.booleans(),
)
def test_a_signed_push_older_or_newer_than_five_minutes_is_refused(secret, at, off, late):
    headers = _webhook_headers(secret, "msg_1", at, "{}")

    with pytest.raises(PushVerificationError):
        verify_signature([secret], headers, b"{}", at + timedelta(seconds=off if late else -off))


# -- Ed25519 entry codes -------------------------------------------------------------------------

#: Keys are slow to make: a few, reused (Hypothesis picks among them).
_KEYS = [Ed25519PrivateKey.from_private_bytes(hashlib.sha256(bytes([n])).digest()) for n in range(3)]
private_keys = st.sampled_from(_KEYS)
leeways = st.integers(0, 120)
claim_text = st.text(min_size=1, max_size=30)


@st.composite
def entry_codes(draw: st.DrawFn):
    key = draw(private_keys)
    issued = draw(instants)
    ttl = draw(st.integers(1, MAX_LIFETIME_S))
    claims = {
        "rider_ref": draw(claim_text),
        "order_refs": draw(st.lists(claim_text, max_size=3)),
        "community_id": draw(claim_text),
        "code_id": draw(claim_text),
        "masked_name": draw(st.text(max_size=8)),
        "masked_phone": draw(st.text(max_size=16)),
    }
    code = issue_entry_code(key, now=issued, ttl_s=ttl, **claims)
    return key, issued, ttl, claims, code


@given(made=entry_codes(), leeway=leeways, data=st.data())
def test_an_entry_code_verifies_to_its_claims_while_it_is_valid(made, leeway, data):
    _key, issued, ttl, claims, code = made
    at = issued + timedelta(seconds=data.draw(st.integers(-leeway, ttl + leeway)))

    entry = EntryCodeVerifier([k.public_key() for k in _KEYS], leeway).verify(code, claims["community_id"], at)

    assert entry.rider_ref == claims["rider_ref"]
    assert entry.order_refs == tuple(claims["order_refs"])
    assert entry.code_id == claims["code_id"]
    assert (entry.masked_name, entry.masked_phone) == (claims["masked_name"], claims["masked_phone"])
    assert entry.expires_at - entry.issued_at == timedelta(seconds=ttl)


@given(made=entry_codes(), leeway=leeways, late=st.integers(1, 10**6))
def test_an_expired_entry_code_is_refused(made, leeway, late):
    key, issued, ttl, claims, code = made
    at = issued + timedelta(seconds=ttl + leeway + late)

    with pytest.raises(EntryCodeError) as refused:
        EntryCodeVerifier([key.public_key()], leeway).verify(code, claims["community_id"], at)
    assert refused.value.problem == "expired"


@given(made=entry_codes(), leeway=leeways, early=st.integers(1, 10**6))
def test_an_entry_code_issued_in_the_future_is_refused(made, leeway, early):
    key, issued, _ttl, claims, code = made
    at = issued - timedelta(seconds=leeway + early)

    with pytest.raises(EntryCodeError) as refused:
        EntryCodeVerifier([key.public_key()], leeway).verify(code, claims["community_id"], at)
    # Far enough ahead, its expiry is also more than five minutes away: too long lived.
    assert refused.value.problem in ("not_yet_valid", "too_long_lived")


@given(made=entry_codes(), data=st.data())
def test_an_entry_code_with_any_character_changed_is_refused(made, data):
    key, issued, _ttl, claims, code = made
    changed = data.draw(one_char_changed(code, base64_chars | st.just(".")))

    with pytest.raises(EntryCodeError):
        EntryCodeVerifier([key.public_key()], 30).verify(changed, claims["community_id"], issued)


@given(made=entry_codes())
def test_an_entry_code_has_exactly_one_spelling(made):
    key, issued, _ttl, claims, code = made
    verifier = EntryCodeVerifier([key.public_key()], 30)

    for spelling in respellings(code, URLSAFE):
        with pytest.raises(EntryCodeError):
            verifier.verify(spelling, claims["community_id"], issued)


@given(made=entry_codes())
def test_an_entry_code_is_refused_by_another_platforms_key_and_at_another_community(made):
    key, issued, _ttl, claims, code = made
    others = [k.public_key() for k in _KEYS if k is not key]

    with pytest.raises(EntryCodeError) as wrong_key:
        EntryCodeVerifier(others, 30).verify(code, claims["community_id"], issued)
    with pytest.raises(EntryCodeError) as elsewhere:
        EntryCodeVerifier([key.public_key()], 30).verify(code, claims["community_id"] + "x", issued)
    assert (wrong_key.value.problem, elsewhere.value.problem) == ("invalid", "wrong_community")


# -- Meituan -------------------------------------------------------------------------------------

# '&' and '=' are left out of names and values: Meituan's string to sign joins
# ``k=v`` pairs with '&' without escaping, so {"a": "1&b=2"} and {"a": "1", "b": "2"} are
# signed alike. That is the platform's algorithm (the hub must match it byte for byte);
# the properties below hold for every parameter that does not contain them.
mt_text = st.text(st.characters(exclude_characters="&=", exclude_categories=("Cs",)), min_size=1, max_size=20)
mt_params = st.dictionaries(mt_text.filter(lambda k: k not in ("sig", "app_id", "timestamp")), mt_text, max_size=5)
mt_urls = st.sampled_from(["https://hub.example.com/api/v1/push/mt-1", "http://127.0.0.1:8000/api/v1/push/m"])


def _independent_meituan_sig(url: str, params: dict[str, str], secret: str) -> str:
    kept = sorted((k, v) for k, v in params.items() if k != "sig" and v != "")
    return hashlib.md5((url + "?" + "&".join(f"{k}={v}" for k, v in kept) + secret).encode()).hexdigest()


def _meituan_callback(url: str, params: dict[str, str], secret: str, stamp: int) -> dict[str, str]:
    signed = {**params, "app_id": "6510", "timestamp": str(stamp)}
    return {**signed, "sig": _independent_meituan_sig(url, signed, secret)}


@given(url=mt_urls, params=mt_params, secret=mt_text, at=instants, skew=st.integers(-300, 300))
def test_a_meituan_callback_signed_as_the_protocol_says_verifies(url, params, secret, at, skew):
    stamp = int(at.timestamp())
    callback = _meituan_callback(url, params, secret, stamp)

    assert sign(url, callback, secret) == callback["sig"]
    verified = verify_callback(url, callback, app_id="6510", app_secret=secret, now=stamp + skew, tolerance_s=300)
    assert verified.timestamp == stamp
    assert dict(verified.params) == {k: v for k, v in callback.items() if k != "sig"}


@given(url=mt_urls, params=mt_params, secret=mt_text, at=instants, data=st.data())
def test_a_meituan_callback_with_any_value_changed_is_refused(url, params, secret, at, data):
    stamp = int(at.timestamp())
    callback = _meituan_callback(url, params, secret, stamp)
    part = data.draw(st.sampled_from(["value", "signature", "timestamp", "secret", "url"]))
    if part == "value":
        name = data.draw(st.sampled_from(sorted(callback.keys() - {"sig"})))
        callback[name] = data.draw(one_char_changed(callback[name], mt_text.map(lambda t: t[0])))
    elif part == "signature":
        callback["sig"] = data.draw(one_char_changed(callback["sig"], st.sampled_from("0123456789abcdefg")))
    elif part == "timestamp":
        callback["timestamp"] = str(stamp + data.draw(st.integers(-60, 60).filter(bool)))
    elif part == "secret":
        secret = data.draw(one_char_changed(secret))
    else:
        url = url + data.draw(st.sampled_from(["x", "/", "2"]))

    with pytest.raises(CallbackForged):
        verify_callback(url, callback, app_id="6510", app_secret=secret, now=stamp, tolerance_s=300)


@given(url=mt_urls, params=mt_params, secret=mt_text, at=instants, off=st.integers(301, 10**8), late=st.booleans())
def test_a_signed_meituan_callback_outside_the_tolerance_is_refused(url, params, secret, at, off, late):
    stamp = int(at.timestamp())
    callback = _meituan_callback(url, params, secret, stamp)

    with pytest.raises(CallbackForged):
        verify_callback(
            url, callback, app_id="6510", app_secret=secret, now=stamp + (off if late else -off), tolerance_s=300
        )


# -- Ele.me --------------------------------------------------------------------------------------

el_values = st.text(max_size=20) | st.integers(-(10**12), 10**15) | st.none()
el_names = st.text(st.characters(codec="ascii", categories=("L",)), min_size=1, max_size=10)


@st.composite
def eleme_pushes(draw: st.DrawFn) -> tuple[dict, int]:
    sent_ms = int(draw(instants).timestamp() * 1000)
    extra = draw(st.dictionaries(el_names.filter(lambda k: k not in _EL_FIXED), el_values, max_size=4))
    message = json.dumps(draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)))
    fields = {
        **extra,
        "requestId": draw(refs),
        "type": draw(st.integers(1, 100)),
        "appId": 65929831,
        "message": message,
        "timestamp": sent_ms,
    }
    return fields, sent_ms


_EL_FIXED = {"requestId", "type", "appId", "message", "timestamp", "signature"}


def _eleme_independent(fields: dict, secret: str) -> str:
    text = "".join(f"{k}={'' if fields[k] is None else fields[k]}" for k in sorted(fields) if k != "signature")
    return hashlib.md5((text + secret).encode()).hexdigest().upper()


@given(made=eleme_pushes(), secret=st.text(min_size=1, max_size=20), skew_ms=st.integers(-300_000, 300_000))
def test_an_eleme_push_signed_as_the_docs_say_verifies(made, secret, skew_ms):
    fields, sent_ms = made
    body = json.dumps({**fields, "signature": _eleme_independent(fields, secret)}, ensure_ascii=False).encode()

    push = verify_push(body, secret=secret, app_id="65929831", now_ms=sent_ms + skew_ms, tolerance_s=300)

    assert push_signature(fields, secret) == _eleme_independent(fields, secret)
    assert (push.event_id, push.type, push.sent_at_ms) == (fields["requestId"], fields["type"], sent_ms)


@given(made=eleme_pushes(), secret=st.text(min_size=1, max_size=20), data=st.data())
def test_an_eleme_push_with_any_field_changed_is_refused(made, secret, data):
    fields, sent_ms = made
    signed = {**fields, "signature": _eleme_independent(fields, secret)}
    part = data.draw(st.sampled_from(["field", "signature", "secret"]))
    if part == "field":
        name = data.draw(st.sampled_from(sorted(k for k in fields if fields[k] is not None)))
        value = signed[name]
        signed[name] = value + 1 if isinstance(value, int) else data.draw(one_char_changed(value)) if value else "x"
    elif part == "signature":
        signed["signature"] = data.draw(one_char_changed(signed["signature"], st.sampled_from("0123456789ABCDEFa")))
    else:
        secret = data.draw(one_char_changed(secret))
    body = json.dumps(signed, ensure_ascii=False).encode()

    # A changed appId or timestamp may also be refused as another app's or as stale:
    # every refusal of a changed message is an authentication failure.
    with pytest.raises(PushAuthError):
        verify_push(body, secret=secret, app_id="65929831", now_ms=sent_ms, tolerance_s=300)


@given(
    made=eleme_pushes(),
    secret=st.text(min_size=1, max_size=20),
    off_ms=st.integers(300_001, 10**11),
    late=st.booleans(),
)
def test_a_signed_eleme_push_outside_the_tolerance_is_refused(made, secret, off_ms, late):
    fields, sent_ms = made
    body = json.dumps({**fields, "signature": _eleme_independent(fields, secret)}).encode()

    with pytest.raises(PushError):
        verify_push(
            body, secret=secret, app_id="65929831", now_ms=sent_ms + (off_ms if late else -off_ms), tolerance_s=300
        )


@given(
    action=st.text(min_size=1, max_size=20),
    token=st.text(max_size=20),
    params=st.dictionaries(el_names, st.text(max_size=10) | st.integers(), min_size=1, max_size=4),
    secret=st.text(min_size=1, max_size=20),
    data=st.data(),
)
def test_an_eleme_request_signature_changes_with_any_parameter(action, token, params, secret, data):
    metas = {"app_key": "key-1", "timestamp": 1767585600}
    name = data.draw(st.sampled_from(sorted(params)))
    value = params[name]
    changed = {**params, name: value + 1 if isinstance(value, int) else value + "x"}

    signature = request_signature(action, token, metas, params, secret)

    assert signature == request_signature(action, token, metas, dict(reversed(params.items())), secret)
    assert signature != request_signature(action, token, metas, changed, secret)
    assert signature != request_signature(action, token, metas, params, secret + "x")


# -- locker bank and visitor system (HMAC-SHA256, hex) ------------------------------------------


@given(
    key_id=refs,
    secret=st.binary(min_size=1, max_size=40),
    at=instants,
    skew=st.integers(-300, 300),
    method=methods,
    path=paths,
    body=bodies,
)
def test_a_locker_request_signature_verifies(key_id, secret, at, skew, method, path, body):
    stamp = int(at.timestamp())
    headers = {
        locker.KEY_ID_HEADER: key_id,
        locker.TIMESTAMP_HEADER: str(stamp),
        locker.SIGNATURE_HEADER: locker.sign_request(secret, stamp, method, path, body),
    }

    assert locker.verify_request({key_id: secret}, headers, method, path, body, stamp + skew) == key_id


@given(
    key_id=refs,
    secret=st.binary(min_size=1, max_size=40),
    at=instants,
    method=methods,
    path=paths,
    body=bodies,
    data=st.data(),
)
def test_a_locker_request_with_any_part_changed_is_refused(key_id, secret, at, method, path, body, data):
    stamp = int(at.timestamp())
    signature = locker.sign_request(secret, stamp, method, path, body)
    headers = {locker.KEY_ID_HEADER: key_id, locker.TIMESTAMP_HEADER: str(stamp), locker.SIGNATURE_HEADER: signature}
    secrets = {key_id: secret}
    part = data.draw(st.sampled_from(["body", "path", "method", "signature", "timestamp", "secret"]))
    if part == "body":
        body = data.draw(one_byte_changed(body)) if body else b"x"
    elif part == "path":
        path = data.draw(one_char_changed(path, st.characters(codec="ascii", exclude_categories=("Cc",))))
    elif part == "method":
        method = data.draw(methods.filter(lambda m: m != method))
    elif part == "signature":
        headers[locker.SIGNATURE_HEADER] = data.draw(one_char_changed(signature, st.sampled_from("0123456789abcdefg")))
    elif part == "timestamp":
        headers[locker.TIMESTAMP_HEADER] = str(stamp + data.draw(st.integers(-60, 60).filter(bool)))
    else:
        secrets = {key_id: data.draw(one_byte_changed(secret))}

    with pytest.raises(LockerSignatureError) as refused:
        locker.verify_request(secrets, headers, method, path, body, stamp)
    assert refused.value.code == "signature_invalid"


@given(secret=st.text(min_size=1, max_size=40), at=instants, skew=st.integers(-300, 300), body=bodies)
def test_a_visitor_system_request_signature_verifies(secret, at, skew, body):
    stamp = str(int(at.timestamp()))

    assert visitor.verify(secret, stamp, visitor.sign(secret, stamp, body), body, int(stamp) + skew) is None


@given(secret=st.text(min_size=1, max_size=40), at=instants, body=bodies, data=st.data())
def test_a_visitor_system_request_with_any_part_changed_is_refused(secret, at, body, data):
    stamp = str(int(at.timestamp()))
    signature = visitor.sign(secret, stamp, body)
    now = int(stamp)
    part = data.draw(st.sampled_from(["body", "signature", "timestamp", "secret"]))
    if part == "body":
        body = data.draw(one_byte_changed(body)) if body else b"x"
    elif part == "signature":
        signature = data.draw(one_char_changed(signature, st.sampled_from("0123456789abcdefg")))
    elif part == "timestamp":
        stamp = str(now + data.draw(st.integers(-60, 60).filter(bool)))
    else:
        secret = data.draw(one_char_changed(secret))

    with pytest.raises(SignatureError) as refused:
        visitor.verify(secret, stamp, signature, body, now)
    assert refused.value.code == "signature_invalid"


@given(secret=st.text(min_size=1, max_size=40), at=instants, off=st.integers(301, 10**8), late=st.booleans())
def test_a_signed_visitor_system_request_outside_five_minutes_is_refused(secret, at, off, late):
    stamp = str(int(at.timestamp()))

    with pytest.raises(SignatureError) as refused:
        visitor.verify(secret, stamp, visitor.sign(secret, stamp, b"{}"), b"{}", int(stamp) + (off if late else -off))
    assert refused.value.code == "timestamp_out_of_range"
