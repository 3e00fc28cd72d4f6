"""Fuzzing the hub's doors over HTTP: the push endpoint of every adapter's connection, the
entry API's gate codes, credentials (entry codes included) and presence codes, the rider
page and the gate screen. Whatever arrives, the answer is a 2xx for what is genuine and
a 4xx for everything else, never a 5xx.

The app is the real one (``hub_api`` in tests/property/conftest.py: Flask test client,
SQLite file, built-in plugins, the RiderPass, Meituan, Ele.me and Hikvision plugins with
a connection each). One world serves all the examples of a test: what an example writes
(a refused push's audit record, an entry) is what the next one meets in production too.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from tests.api.conftest import Api
from tests.property import platforms
from tests.property.strategies import any_text, hostile_text, json_values, mutated, refs, shared_world


def assert_no_server_error(reply) -> None:
    assert reply.status_code < 500, (reply.status_code, reply.get_data(as_text=True)[:500])


# -- pushes ----------------------------------------------------------------------------------

connection_ids = st.sampled_from(["rp", "mt", "el", "hik", "plat", "gatectl", "nope"]) | refs
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=B",
        "multipart/form-data",
        "text/plain; charset=utf-16",
        "application/json; charset=latin-1",
        "",
    ]
)
push_bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5).map(lambda d: urlencode(d).encode())
    | st.integers(900, 3000).map(lambda depth: b"[" * depth + b"]" * depth)
)
header_names = st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "X-Anything"])
header_values = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=60)


@shared_world(40)
@given(
    connection=connection_ids,
    kind=content_types,
    body=push_bodies,
    query=st.dictionaries(st.sampled_from(["token", "sig", "timestamp", "app_id"]), st.text(max_size=30), max_size=3),
    headers=st.dictionaries(header_names, header_values, max_size=3),
)
def test_any_push_is_refused_with_a_4xx(hub_api: Api, connection, kind, body, query, headers):
    url = f"/api/v1/push/{quote(connection, safe='')}" + (f"?{urlencode(query)}" if query else "")

    reply = hub_api.client.post(url, data=body, headers={**headers, "Content-Type": kind})

    assert_no_server_error(reply)
    assert 400 <= reply.status_code < 500  # nothing above is signed with a connection's secret


crashes = st.sampled_from([ValueError, OverflowError, OSError, RecursionError, KeyError, TypeError, AttributeError])


@shared_world(15)
@given(crash=crashes, field=st.integers(0, 10**6))
def test_a_push_that_crashes_a_plugins_parser_is_refused_with_400_and_audited(hub_api: Api, caplog, crash, field):
    quoted = f"push-field-{field}"  # what a crashing parser's message may quote of the push

    def crashing(request):
        raise crash(f"cannot read {quoted}")

    hub_api.world.platform.push_parser = crashing
    before = len(hub_api.world.store.list_audit(action_prefix="push.rejected", limit=1000))

    reply = hub_api.client.post("/api/v1/push/plat", data=b"{}", content_type="application/json")

    assert reply.status_code == 400
    assert crash.__name__ in reply.json["error"]["message"]
    rejected = hub_api.world.store.list_audit(action_prefix="push.rejected", limit=1000)
    assert len(rejected) == before + 1
    # Only the exception's type is kept and logged (with where it happened), never its words.
    assert quoted not in json.dumps([r.data for r in rejected]) + reply.get_data(as_text=True) + caplog.text
    assert f"({crash.__name__}) at:" in caplog.text


_RP_PUSH = {
    "type": "order.status_changed",
    "timestamp": "2026-01-05T04:00:00Z",
    "data": {"order": {"ref": "O1", "status": "delivered", "rider_ref": "R1", "community_id": "c1"}},
}


@shared_world(25)
@given(payload=mutated(_RP_PUSH), msg_id=refs)
def test_a_signed_riderpass_push_with_hostile_values_gets_200_or_400(hub_api: Api, payload, msg_id):
    body = json.dumps(payload).encode()
    headers = platforms.riderpass_push_headers(body, msg_id, hub_api.world.clock.now())

    reply = hub_api.client.post("/api/v1/push/rp", data=body, headers=headers)

    assert reply.status_code in (200, 400), reply.get_data(as_text=True)[:500]


@shared_world(25)
@given(fields=mutated({"order_id": "O1", "status": "8", "logistics_status": "40"}, hostile_text | st.text(max_size=20)))
def test_a_signed_meituan_callback_with_hostile_values_gets_200_or_400(hub_api: Api, fields):
    fields = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    form = platforms.meituan_form("http://localhost/api/v1/push/mt", fields, hub_api.world.clock.now())

    reply = hub_api.client.post("/api/v1/push/mt", data=form)

    assert reply.status_code in (200, 400), reply.get_data(as_text=True)[:500]


# -- entries -----------------------------------------------------------------------------------

gate_codes = any_text | st.text(st.characters(codec="ascii"), max_size=60) | st.sampled_from(["north-code", "."])
#: Lone surrogates are left to their own test below (a known failure).
_no_surrogates = hostile_text.filter(lambda text: not any("\ud800" <= c <= "\udfff" for c in text))
credential_values = any_text | _no_surrogates | st.sampled_from(["tok-1", "eyJhbGciOiJFZERTQSJ9.e30.c2ln"])


@shared_world(40)
@given(
    gate=gate_codes,
    signed=st.booleans(),
    connection=st.sampled_from(["plat", "rp", "mt", "el", "hik", "gatectl", "nope"]),
    kind=st.sampled_from(["token", "typed_code", "entry_code"]),
    value=credential_values,
    presence=st.none() | any_text | st.text(st.sampled_from("0123456789０１２３٣ "), max_size=16),
    order=st.none() | any_text,
)
def test_any_entry_request_is_decided_or_refused_with_a_4xx(
    hub_api: Api, gate, signed, connection, kind, value, presence, order
):
    body = {
        "gate_code": hub_api.sign("north-code") if signed else gate,
        "connection": connection,
        "credential": {"kind": kind, "value": value},
        "presence_code": presence,
        "order_ref": order,
    }

    reply = hub_api.client.post(
        "/api/v1/entries",
        data=json.dumps({k: v for k, v in body.items() if v is not None}),
        headers=hub_api.headers(),
        content_type="application/json",
    )

    assert_no_server_error(reply)
    if reply.status_code in (200, 201):
        assert reply.json["decision"] in ("granted", "denied", "manual_check")


def _post(api: Api, body: dict) -> object:
    return api.client.post(
        "/api/v1/entries", data=json.dumps(body), headers=api.headers(), content_type="application/json"
    )


@shared_world(30)
@given(presence=any_text.filter(bool) | st.text(st.sampled_from("0123456789０１２３٣ "), min_size=1, max_size=16))
def test_any_presence_code_of_a_verified_rider_is_decided_on(hub_api: Api, presence):
    body = hub_api.entry_body(presence_code=presence[:16])

    reply = _post(hub_api, body)

    assert reply.status_code in (201, 422), reply.get_data(as_text=True)[:300]  # 422: control characters


@shared_world(30)
@given(
    code=any_text
    | st.text(st.sampled_from("ABCDEFabcdef0123456789-_."), max_size=300)
    | st.builds(lambda head, claims: f"{head}.{claims}.c2ln", refs, refs)
)
def test_a_forged_entry_code_is_never_granted(hub_api: Api, code):
    body = hub_api.entry_body(connection="rp", credential={"kind": "entry_code", "value": code or "x"})

    reply = _post(hub_api, body)

    assert reply.status_code in (201, 422), reply.get_data(as_text=True)[:300]
    if reply.status_code == 201:
        assert reply.json["decision"] == "denied"
        assert reply.json["pass"] is None


#: JSON text a client may send with escapes Python turns into lone surrogates.
surrogate_escapes = st.sampled_from(['"\\ud800"', '"\\udfff tok"', '"a\\ud83d"'])


@shared_world(10)
@given(escaped=surrogate_escapes, suffix=st.sampled_from(["", ".abc", ".Z4SWocbez12NGACsjpkS6BM8ZmY"]))
def test_a_gate_code_with_a_lone_surrogate_is_refused_as_invalid(hub_api: Api, escaped, suffix):
    gate_code = escaped[:-1] + suffix + '"'
    raw = f'{{"gate_code": {gate_code}, "connection": "plat", "credential": {{"kind": "token", "value": "tok-1"}}}}'

    reply = hub_api.client.post("/api/v1/entries", data=raw, headers=hub_api.headers(), content_type="application/json")

    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "invalid_request"


@shared_world(10)
@given(field=st.sampled_from(["credential", "order_ref", "presence_code"]), escaped=surrogate_escapes)
def test_a_lone_surrogate_in_an_entry_request_is_refused_with_422(hub_api: Api, field, escaped):
    body = {
        "gate_code": json.dumps(hub_api.sign("north-code")),
        "connection": '"plat"',
        "credential": '{"kind": "token", "value": "tok-1"}',
    }
    body[field] = f'{{"kind": "token", "value": {escaped}}}' if field == "credential" else escaped
    raw = "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"

    reply = hub_api.client.post("/api/v1/entries", data=raw, headers=hub_api.headers(), content_type="application/json")

    assert reply.status_code == 422


@shared_world(5)
@given(depth=st.integers(5_000, 100_000), path=st.sampled_from(["/api/v1/entries", "/api/v1/communities/c1/feedback"]))
def test_deeply_nested_json_is_refused_with_400(hub_api: Api, depth, path):
    reply = hub_api.client.post(path, data="[" * depth, headers=hub_api.headers(), content_type="application/json")

    assert reply.status_code == 400
    assert reply.json["error"]["code"] == "invalid_json"


# -- the rider page and the gate screen ----------------------------------------------------------


@shared_world(40)
@given(
    code=gate_codes | st.sampled_from(["north-code.AAAA", "x" * 5000]),
    page=st.sampled_from(["/g/{}", "/g/{}/report", "/screen/{}", "/g/{}/entries/x", "/g/{}/entries/x.json"]),
    presence=st.none() | any_text,
)
def test_any_gate_address_is_a_page_or_404(hub_api: Api, code, page, presence):
    url = page.format(quote(code, safe="")) + (f"?{urlencode({'p': presence})}" if presence is not None else "")

    reply = hub_api.client.get(url)

    # Nothing here is signed with the deployment's gate key: no gate, no screen.
    assert reply.status_code == 404, (url, reply.status_code)
