"""Fuzzing the parsers of everything that comes from outside: pushes of every adapter,
gate codes, entry codes, presence codes, and the MQTT gate contract.

Two kinds of input for each: arbitrary bytes or text (what an attacker or a broken
sender can put on the wire, caught at the signature), and *structured but mutated*
input: a well-formed message, validly signed, with one or more values replaced by
something hostile (a year-1 time, a number past every range, a list where text
belongs, a nesting a thousand deep). Either way a parser returns a result or raises its
documented error; any other exception is a bug (an HTTP 500 at the hub's door).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.clock import ManualClock
from hub.core.errors import NotFound, PushRejected
from hub.core.model import PushEvent
from hub.core.plugins import Hub
from hub.core.tokens import GateCodes, PresenceCodes
from hub.plugins import builtin_plugins
from last100_eleme.messages import DELIVERY_STATE_TYPES, ORDER_STATUS_TYPES, PushError, verify_push
from last100_hikvision.errors import PushAuthError as HikAuthError
from last100_hikvision.errors import PushFormatError as HikFormatError
from last100_hikvision.push import read_push as hik_read_push
from last100_locker import signing as locker
from last100_locker.errors import RequestSignatureError as LockerSignatureError
from last100_meituan.signing import CallbackError, verify_callback
from last100_mqtt_gate.wire import Ack, Command, DoorEvent
from last100_riderpass import signing as riderpass
from last100_riderpass.entrycodes import EntryCodeVerifier, key_thumbprint
from last100_riderpass.errors import EntryCodeError, PushFormatError, PushVerificationError, RequestSignatureError
from last100_riderpass.webhooks import read_push
from last100_visitor_http import signing as visitor
from last100_visitor_http.errors import SignatureError
from tests.property import platforms
from tests.property.strategies import (
    any_text,
    hostile_numbers,
    hostile_text,
    hostile_times,
    instants,
    json_values,
    mutated,
    places,
    refs,
)

NOW = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

#: Bodies: arbitrary bytes, text, JSON of any shape, and nesting deep enough to break a
#: recursive parser (json.loads raises RecursionError, which is not a ValueError).
deep_json = st.integers(900, 5000).flatmap(
    lambda depth: st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth, b"[" * depth])
)
bodies = (
    st.binary(max_size=300)
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | json_values.map(lambda v: json.dumps(v).encode())
    | deep_json
)
header_values = st.text(max_size=80) | st.sampled_from(["", " ", "v1,", "v1,=", "v1a,AAAA", "0", "-1", "１２３"])


@st.composite
def headers_from(draw: st.DrawFn, plausible: dict[str, st.SearchStrategy[str]]) -> dict[str, str]:
    """Headers with some of ``plausible``'s names (in any case) set, each to a plausible
    value (the right key id, a fresh timestamp: what gets a request past the first
    checks) or an arbitrary one, and noise."""
    names = sorted(plausible)
    chosen = draw(st.just(names) | st.lists(st.sampled_from(names), unique=True))
    values = {
        draw(st.sampled_from([n, n.lower(), n.upper()])): draw(plausible[n] | plausible[n] | header_values)
        for n in chosen
    }
    return values | draw(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=2))


#: A timestamp within the five minutes every signature scheme here tolerates.
fresh_stamps = st.integers(-300, 300).map(lambda skew: str(int(NOW.timestamp()) + skew))
#: What a signature header holds: the scheme's prefix and anything after it.
signatures = st.sampled_from(["v1,", "", "sha256="]).flatmap(
    lambda prefix: (any_text | header_values).map(lambda t: prefix + t)
)


@pytest.fixture(scope="module")
def hub_and_connections():
    clock = ManualClock(NOW)
    hub = Hub()
    for plugin in [*builtin_plugins(clock), *platforms.adapter_plugins(clock)]:
        hub.register(plugin)
    return hub, platforms.connect(hub)


def parse_through_the_hub(hub_and_connections, connection_id: str, request) -> list[PushEvent] | PushRejected:
    """The plugin's answer to a push, through the hub's facade: events, or the refusal."""
    hub, connections = hub_and_connections
    try:
        events = hub.parse_push(connections[connection_id], request)
    except PushRejected as refused:
        assert refused.status in (400, 401), refused.status
        return refused
    for event in events:
        assert isinstance(event, PushEvent)
        assert event.event_id and isinstance(event.event_id, str)
        assert event.occurred_at.tzinfo is not None
        assert sum(x is not None for x in (event.order, event.rider_status, event.access_event)) == 1
    return events


# -- the hub's own codes -------------------------------------------------------------------------


@given(text=any_text | st.text(st.characters(codec="ascii"), max_size=80) | st.just("\ud800.x"))
def test_any_text_is_a_gate_code_or_not_found(text):
    codes = GateCodes("gate-key")
    for verify, sign in ((codes.verify, codes.sign), (codes.verify_screen, codes.screen_token)):
        try:
            gate = verify(text)
        except NotFound:
            continue
        assert sign(gate) == text  # only the spelling the hub made is accepted


@given(typed=any_text | st.text(st.sampled_from("0123456789０１２３４５６７８９ \t"), max_size=10), at=instants)
def test_any_typed_presence_code_is_a_step_near_now_or_none(typed, at):
    codes = PresenceCodes("gate-key")
    now = int(at.timestamp()) // 30

    assert codes.step("g1", typed, at) in (None, now - 1, now, now + 1)


# -- RiderPass: entry codes ---------------------------------------------------------------------

_VERIFIER = EntryCodeVerifier([platforms.ENTRY_KEY.public_key()], 30)
_KID = key_thumbprint(platforms.ENTRY_KEY.public_key())
_VALID_CLAIMS = {
    "sub": "R1",
    "orders": ["O1"],
    "community": "c1",
    "iat": int(NOW.timestamp()),
    "exp": int(NOW.timestamp()) + 120,
    "jti": "code-1",
    "masked_name": "王*",
    "masked_phone": "138****5678",
}


def _entry_code_outcome(code: str):
    try:
        entry = _VERIFIER.verify(code, "c1", NOW)
    except EntryCodeError as refused:
        assert refused.problem in ("invalid", "expired", "not_yet_valid", "too_long_lived", "wrong_community")
        return refused
    assert entry.expires_at > entry.issued_at
    return entry


@given(code=any_text | st.text(st.sampled_from("ABCDEFabcdef0123456789-_."), max_size=300))
def test_any_text_is_an_entry_code_or_refused(code):
    assert isinstance(_entry_code_outcome(code), EntryCodeError)


def _signed_jws(header: Any, claims: Any) -> str:
    """A compact JWS of any header and claims (PyJWT refuses to make odd ones), signed
    with the platform's real key: only what is inside can be wrong."""
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in (header, claims)]
    signing_input = b".".join(segments)
    return (signing_input + b"." + jwt.utils.base64url_encode(platforms.ENTRY_KEY.sign(signing_input))).decode()


@given(
    claims=mutated(_VALID_CLAIMS, json_values | hostile_numbers | st.sampled_from([float("nan"), float("inf")])),
    header=mutated({"alg": "EdDSA", "typ": "JWT", "kid": _KID}, st.sampled_from(["EdDSA", 7, None, "x" * 50, [], {}])),
)
def test_a_signed_entry_code_with_hostile_claims_is_accepted_or_refused_never_crashes(claims, header):
    outcome = _entry_code_outcome(_signed_jws(header, claims))

    if not isinstance(outcome, EntryCodeError):
        assert header.get("alg") == "EdDSA"
        assert outcome.community_id == "c1"


@given(
    field=st.sampled_from(["iat", "exp"]),
    value=hostile_numbers | st.sampled_from([float("nan"), float("inf"), -float("inf"), True, "1767585600", None]),
)
def test_a_signed_entry_code_with_any_issue_or_expiry_time_is_accepted_or_refused(field, value):
    claims = {**_VALID_CLAIMS, field: value}

    outcome = _entry_code_outcome(_signed_jws({"alg": "EdDSA", "typ": "JWT", "kid": _KID}, claims))

    assert isinstance(outcome, EntryCodeError)  # none of these times makes a code valid now


@given(
    alg=st.sampled_from(["none", "HS256", "RS256", "ES256", "EdDSA", "", "eddsa"]),
    claims=mutated(_VALID_CLAIMS, json_values),
)
def test_an_entry_code_not_signed_with_eddsa_is_refused(alg, claims):
    header = json.dumps({"alg": alg, "typ": "JWT"}).encode()
    payload = json.dumps(claims).encode()
    segments = [jwt.utils.base64url_encode(header), jwt.utils.base64url_encode(payload), b"c2ln"]
    code = b".".join(segments).decode()

    outcome = _entry_code_outcome(code)
    assert isinstance(outcome, EntryCodeError)
    assert outcome.problem == "invalid"


# -- RiderPass: pushes and request signatures ------------------------------------------------------

_RP_ORDER_PUSH = {
    "type": "order.status_changed",
    "timestamp": "2026-01-05T04:00:00Z",
    "data": {
        "order": {
            "ref": "O1",
            "status": "delivered",
            "rider_ref": "R1",
            "community_id": "c1",
            "building": "3",
            "eta": "2026-01-05T04:05:00Z",
            "updated_at": "2026-01-05T04:00:00Z",
        }
    },
}
_RP_RIDER_PUSH = {"type": "rider.suspended", "timestamp": "2026-01-05T03:59:58Z", "data": {"rider_ref": "R1"}}
_WEBHOOK = {"webhook-id": refs, "webhook-timestamp": fresh_stamps, "webhook-signature": signatures}


@given(headers=headers_from(_WEBHOOK), body=bodies)
def test_any_riderpass_push_is_refused_as_unverified(headers, body):
    with pytest.raises(PushVerificationError):
        read_push([platforms.RP_PUSH], headers, body, NOW)


@given(payload=mutated(_RP_ORDER_PUSH) | mutated(_RP_RIDER_PUSH), raw=st.none() | deep_json, msg_id=refs)
def test_a_signed_riderpass_push_with_hostile_values_is_read_or_malformed(payload, raw, msg_id):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = platforms.riderpass_push_headers(body, msg_id, NOW)

    try:
        push = read_push([platforms.RP_PUSH], headers, body, NOW)
    except PushFormatError:
        return
    assert push.id == msg_id
    assert push.occurred_at.tzinfo is not None


@given(payload=mutated(_RP_ORDER_PUSH) | mutated(_RP_RIDER_PUSH), raw=st.none() | deep_json, msg_id=refs)
def test_the_riderpass_plugin_turns_any_signed_push_into_events_or_a_refusal(hub_and_connections, payload, raw, msg_id):
    body = raw if raw is not None else json.dumps(payload).encode()
    request = platforms.push_request(body, platforms.riderpass_push_headers(body, msg_id, NOW), NOW)

    outcome = parse_through_the_hub(hub_and_connections, "rp", request)

    if isinstance(outcome, PushRejected):
        assert outcome.status == 400  # signed, so never "forged"


@given(field=st.sampled_from(["timestamp", "eta", "updated_at"]), value=hostile_times | hostile_numbers | json_values)
def test_the_riderpass_plugin_reads_any_time_in_a_signed_push_or_refuses_it(hub_and_connections, field, value):
    payload = copy.deepcopy(_RP_ORDER_PUSH)
    (payload if field == "timestamp" else payload["data"]["order"])[field] = value
    body = json.dumps(payload).encode()
    request = platforms.push_request(body, platforms.riderpass_push_headers(body, "msg_1", NOW), NOW)

    outcome = parse_through_the_hub(hub_and_connections, "rp", request)

    assert isinstance(outcome, list) or outcome.status == 400


_RP_HEADERS = {
    riderpass.KEY_ID_HEADER: st.just("hub-1"),
    riderpass.TIMESTAMP_HEADER: fresh_stamps,
    riderpass.SIGNATURE_HEADER: signatures,
}


@given(headers=headers_from(_RP_HEADERS), path=st.text(max_size=40), body=bodies)
def test_any_request_to_a_riderpass_platform_is_verified_or_refused(headers, path, body):
    secrets = {"hub-1": platforms.RP_SIGNING}
    with pytest.raises(RequestSignatureError) as refused:
        riderpass.verify_request(secrets, headers, "POST", path, body, NOW.timestamp())
    assert refused.value.code in ("signature_missing", "key_unknown", "timestamp_out_of_range", "signature_invalid")


# -- Meituan -----------------------------------------------------------------------------------

MT_URL = "http://localhost/api/v1/push/mt"
_MT_ORDER = {"order_id": "O1", "status": "8", "logistics_status": "40", "time": "1767585590"}
_MT_RIDER = {"rider_id": "R1", "rider_status": "2", "utime": "1767585590"}
mt_values = (
    st.text(max_size=30) | hostile_numbers.map(str) | st.sampled_from(["１２３", "²", "1e3", " 12 ", "-0", "0x10"])
)


@given(params=st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=6))
def test_any_meituan_callback_is_verified_or_refused(params):
    try:
        verify_callback(
            MT_URL,
            params,
            app_id=platforms.MT_APP_ID,
            app_secret=platforms.MT_SECRET,
            now=NOW.timestamp(),
            tolerance_s=300,
        )
    except CallbackError:
        return
    raise AssertionError("an unsigned callback was accepted")


@given(fields=mutated(_MT_ORDER, mt_values) | mutated(_MT_RIDER, mt_values))
def test_the_meituan_plugin_turns_any_signed_callback_into_an_event_or_a_refusal(hub_and_connections, fields):
    fields = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {"x": str(fields)}
    request = platforms.meituan_request(MT_URL, fields, NOW)

    outcome = parse_through_the_hub(hub_and_connections, "mt", request)

    if isinstance(outcome, PushRejected):
        assert outcome.status == 400


@given(
    fields=st.sampled_from([_MT_ORDER, _MT_RIDER]),
    field=st.sampled_from(["time", "utime"]),
    value=hostile_numbers.map(str) | st.integers().map(str),
)
def test_the_meituan_plugin_reads_any_time_in_a_signed_callback_or_refuses_it(
    hub_and_connections, fields, field, value
):
    request = platforms.meituan_request(MT_URL, {**fields, field: value}, NOW)

    outcome = parse_through_the_hub(hub_and_connections, "mt", request)

    assert isinstance(outcome, list) or outcome.status == 400


# -- Ele.me ------------------------------------------------------------------------------------

_EL_DELIVERY_MESSAGE = {
    "orderId": "8076190120874666666",
    "state": "delivering",
    "subState": "noSubstate",
    "updateAt": 1767585570000,
    "riderId": "R1",
    "communityId": "sunny-garden",
}
_EL_STATUS_MESSAGE = {"orderId": "8076190120874666666", "state": "settled", "updateTime": 1767585570}
_EL_RIDER_MESSAGE = {"riderId": "R1", "suspended": True, "updateAt": 1767585599000}
el_fields = st.none() | st.text(max_size=20) | st.integers() | st.sampled_from(["²", "１２", "-5", "1767585600000"])


@given(body=bodies)
def test_any_eleme_push_is_verified_or_refused(body):
    with pytest.raises(PushError):
        verify_push(
            body,
            secret=platforms.EL_SECRET,
            app_id=platforms.EL_APP_ID,
            now_ms=int(NOW.timestamp() * 1000),
            tolerance_s=300,
        )


@given(
    kind=st.sampled_from(sorted(DELIVERY_STATE_TYPES)[:3] + sorted(ORDER_STATUS_TYPES) + [9001, 10, 0, -1]),
    message=mutated(_EL_DELIVERY_MESSAGE) | mutated(_EL_STATUS_MESSAGE) | mutated(_EL_RIDER_MESSAGE),
    envelope=mutated({"requestId": "200000000000000055", "timestamp": 1767585600000}, el_fields),
)
def test_the_eleme_plugin_turns_any_signed_push_into_events_or_a_refusal(hub_and_connections, kind, message, envelope):
    envelope = envelope if isinstance(envelope, dict) else {}
    fields = {**envelope, "type": kind, "appId": int(platforms.EL_APP_ID), "message": json.dumps(message)}
    request = platforms.push_request(platforms.eleme_body(fields), {"content-type": "application/json"}, NOW)

    outcome = parse_through_the_hub(hub_and_connections, "el", request)

    if isinstance(outcome, PushRejected):
        # Signed: refused as malformed, or as stale when the timestamp itself was mutated.
        assert outcome.status == 400 or envelope.get("timestamp") != 1767585600000


@given(
    field=st.sampled_from(["timestamp", "type", "appId", "requestId", "message"]),
    value=hostile_text | hostile_numbers | json_values,
)
def test_the_eleme_plugin_reads_any_envelope_field_of_a_signed_push_or_refuses_it(hub_and_connections, field, value):
    fields = {
        "requestId": "1",
        "timestamp": 1767585600000,
        "type": 55,
        "appId": int(platforms.EL_APP_ID),
        "message": json.dumps(_EL_DELIVERY_MESSAGE),
    }
    request = platforms.push_request(
        platforms.eleme_body({**fields, field: value}), {"content-type": "application/json"}, NOW
    )

    outcome = parse_through_the_hub(hub_and_connections, "el", request)

    assert isinstance(outcome, list) or outcome.status in (400, 401)


@given(
    case=st.sampled_from(
        [
            (55, _EL_DELIVERY_MESSAGE, "updateAt"),
            (12, _EL_STATUS_MESSAGE, "updateTime"),
            (9001, _EL_RIDER_MESSAGE, "updateAt"),
        ]
    ),
    value=hostile_numbers | st.integers(),
)
def test_the_eleme_plugin_reads_any_time_in_a_signed_push_or_refuses_it(hub_and_connections, case, value):
    kind, message, field = case
    fields = {
        "requestId": "1",
        "timestamp": 1767585600000,
        "type": kind,
        "appId": int(platforms.EL_APP_ID),
        "message": json.dumps({**message, field: value}),
    }
    request = platforms.push_request(platforms.eleme_body(fields), {"content-type": "application/json"}, NOW)

    outcome = parse_through_the_hub(hub_and_connections, "el", request)

    assert isinstance(outcome, list) or outcome.status == 400


# -- Hikvision ---------------------------------------------------------------------------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
_HIK_EVENT = {
    "dateTime": "2026-01-05T12:00:00+08:00",
    "eventType": "AccessControllerEvent",
    "AccessControllerEvent": {
        "majorEventType": 5,
        "subEventType": 1,
        "cardNo": "7128676793",
        "cardReaderNo": 1,
        "serialNo": 4435,
    },
}
content_types = st.sampled_from(
    [
        "application/json",
        "multipart/form-data; boundary=B",
        "multipart/form-data",
        'multipart/mixed; boundary=""',
        "text/plain",
        "",
    ]
)


def _multipart(parts: list[tuple[str, bytes]], boundary: str = "B") -> bytes:
    chunks = [f"--{boundary}\r\nContent-Type: {kind}\r\n\r\n".encode() + data + b"\r\n" for kind, data in parts]
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


@given(
    query=st.dictionaries(st.sampled_from(["token", "x"]), st.text(max_size=40), max_size=2),
    kind=content_types,
    body=bodies,
)
def test_any_hikvision_push_with_a_wrong_token_is_refused_before_it_is_read(query, kind, body):
    if query.get("token") == platforms.HIK_TOKEN:
        return
    with pytest.raises(HikAuthError):
        hik_read_push(platforms.HIK_TOKEN, query, {"content-type": kind}, body, SHANGHAI)


@given(
    kind=content_types,
    body=bodies
    | st.lists(st.tuples(st.sampled_from(["application/json", "image/jpeg", "text/plain"]), bodies), max_size=3).map(
        _multipart
    ),
)
def test_any_hikvision_push_with_the_token_is_read_or_malformed(kind, body):
    try:
        messages = hik_read_push(
            platforms.HIK_TOKEN, {"token": platforms.HIK_TOKEN}, {"content-type": kind}, body, SHANGHAI
        )
    except HikFormatError:
        return
    assert all(isinstance(m.event_type, str) for m in messages)


@given(event=mutated(_HIK_EVENT), multipart=st.booleans())
def test_the_hikvision_plugin_turns_any_event_message_into_events_or_a_refusal(hub_and_connections, event, multipart):
    data = json.dumps(event).encode()
    if multipart:
        body, kind = (
            _multipart([("application/json", data), ("image/jpeg", b"\xff\xd8\xff\xe0face")]),
            "multipart/form-data; boundary=B",
        )
    else:
        body, kind = data, "application/json"
    request = platforms.push_request(body, {"content-type": kind}, NOW, query={"token": platforms.HIK_TOKEN})

    outcome = parse_through_the_hub(hub_and_connections, "hik", request)

    if isinstance(outcome, PushRejected):
        assert outcome.status == 400


@given(value=hostile_times | hostile_numbers | json_values, multipart=st.booleans())
def test_the_hikvision_plugin_reads_any_event_time_or_refuses_it(hub_and_connections, value, multipart):
    data = json.dumps({**_HIK_EVENT, "dateTime": value}).encode()
    body, kind = (
        (_multipart([("application/json", data)]), "multipart/form-data; boundary=B")
        if multipart
        else (data, "application/json")
    )
    request = platforms.push_request(body, {"content-type": kind}, NOW, query={"token": platforms.HIK_TOKEN})

    outcome = parse_through_the_hub(hub_and_connections, "hik", request)

    assert isinstance(outcome, list) or outcome.status == 400


# -- locker bank and visitor system (the far side of the hub's signed requests) ---------------------

_LOCKER_HEADERS = {
    locker.KEY_ID_HEADER: st.just("k1"),
    locker.TIMESTAMP_HEADER: fresh_stamps,
    locker.SIGNATURE_HEADER: signatures,
}


@given(headers=headers_from(_LOCKER_HEADERS), path=st.text(max_size=40), body=bodies)
def test_any_request_to_a_locker_bank_is_verified_or_refused(headers, path, body):
    secrets = {"k1": b"locker-secret"}
    with pytest.raises(LockerSignatureError):
        locker.verify_request(secrets, headers, "POST", path, body, NOW.timestamp())


@given(stamp=fresh_stamps | header_values, signature=signatures, body=bodies)
def test_any_request_to_a_visitor_system_is_verified_or_refused(stamp, signature, body):
    with pytest.raises(SignatureError):
        visitor.verify("visitor-secret", stamp, signature, body, NOW.timestamp())


# -- MQTT gate contract ------------------------------------------------------------------------

_COMMAND = {
    "id": "c1",
    "cmd": "grant",
    "door": "1",
    "grant": {
        "id": "g1",
        "credential": "QR-1",
        "valid_from": "2026-01-05T04:00:00Z",
        "valid_until": "2026-01-05T04:15:00Z",
    },
    "sent_at": "2026-01-05T04:00:00Z",
    "expires_at": "2026-01-05T04:00:30Z",
}
_ACK = {"id": "c1", "ok": False, "error": "expired", "message": "late"}
_DOOR = {"event_id": "e1", "at": "2026-01-05T04:01:00Z", "direction": "in", "credential": "QR-1", "door": "1"}


@given(
    payload=bodies
    | mutated(_COMMAND).map(json.dumps).map(str.encode)
    | mutated(_ACK).map(json.dumps).map(str.encode)
    | mutated(_DOOR).map(json.dumps).map(str.encode)
)
def test_any_mqtt_message_is_read_or_refused_with_a_value_error(payload):
    for read in (Command.from_wire, Ack.from_wire, lambda p: DoorEvent.from_wire(p, "g1")):
        try:
            record = read(payload)
        except ValueError:
            continue
        for moment in (getattr(record, name, None) for name in ("sent_at", "expires_at", "at")):
            assert moment is None or moment.tzinfo is not None


def test_the_mutations_reach_every_value_of_a_document():
    # The fuzzers above rely on places() finding every nested value (and the root).
    assert set(places(_COMMAND)) >= {(), ("grant",), ("grant", "valid_from"), ("sent_at",)}
