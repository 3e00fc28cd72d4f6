"""Bad input: every field of every request, tried with bad values, gets a 4xx with a
machine-readable code, names the bad field, and writes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

MISSING = object()


def mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the field at the dotted ``path`` set (or removed)."""
    body = copy.deepcopy(body)
    *parents, name = path.split(".")
    target = body
    for parent in parents:
        target = target.setdefault(parent, {}) if isinstance(target.get(parent, {}), dict) else target[parent]
    if value is MISSING:
        target.pop(name, None)
    else:
        target[name] = value
    return body


# (field, bad value, field named in details.fields)
ENTRY_FIELDS = [
    ("gate_code", MISSING, "gate_code"),
    ("gate_code", None, "gate_code"),
    ("gate_code", 123, "gate_code"),
    ("gate_code", ["north"], "gate_code"),
    ("gate_code", "", "gate_code"),
    ("gate_code", "x" * 201, "gate_code"),
    ("gate_code", "north\x00code", "gate_code"),
    ("connection", MISSING, "connection"),
    ("connection", None, "connection"),
    ("connection", 5, "connection"),
    ("connection", "", "connection"),
    ("connection", "p" * 101, "connection"),
    ("connection", "plat\n", "connection"),
    ("credential", MISSING, "credential"),
    ("credential", None, "credential"),
    ("credential", "tok-1", "credential"),
    ("credential", [], "credential"),
    ("credential", {}, "credential.kind"),
    ("credential.kind", MISSING, "credential.kind"),
    ("credential.kind", None, "credential.kind"),
    ("credential.kind", "password", "credential.kind"),
    ("credential.kind", "TOKEN", "credential.kind"),
    ("credential.kind", 1, "credential.kind"),
    ("credential.value", MISSING, "credential.value"),
    ("credential.value", None, "credential.value"),
    ("credential.value", 42, "credential.value"),
    ("credential.value", "", "credential.value"),
    ("credential.value", "t" * 4097, "credential.value"),
    ("credential.pin", "1234", "credential.pin"),
    ("order_ref", None, "order_ref"),
    ("order_ref", 7, "order_ref"),
    ("order_ref", "", "order_ref"),
    ("order_ref", "O" * 101, "order_ref"),
    ("presence_code", 123456, "presence_code"),
    ("presence_code", "", "presence_code"),
    ("presence_code", "1" * 17, "presence_code"),
    ("location", None, "location"),
    ("location", "at the gate", "location"),
    ("location", [31.2, 121.4], "location"),
    ("location", {}, "location.lat"),
    ("location", {"lat": 31.2}, "location.lon"),
    ("location", {"lat": 31.2, "lon": 121.4, "alt": 3}, "location.alt"),
    ("location", {"lat": "31.2", "lon": 121.4}, "location.lat"),
    ("location", {"lat": True, "lon": 121.4}, "location.lat"),
    ("location", {"lat": 91, "lon": 121.4}, "location.lat"),
    ("location", {"lat": -90.5, "lon": 121.4}, "location.lat"),
    ("location", {"lat": 31.2, "lon": 180.01}, "location.lon"),
    ("location", {"lat": 31.2, "lon": None}, "location.lon"),
    ("rider_name", "王*", "rider_name"),
]


@pytest.mark.parametrize(("path", "value", "named"), ENTRY_FIELDS, ids=[f"{p}={v!r}"[:60] for p, v, _ in ENTRY_FIELDS])
def test_a_bad_entry_field_is_a_422_naming_it_and_writes_nothing(api, path, value, named):
    body = mutate(api.entry_body(), path, value)
    counts, calls = api.counts(), api.world.platform.calls.upstream

    reply = api.post_entry(body, idempotency_key="bad-1")

    assert reply.status_code == 422, reply.json
    error = reply.json["error"]
    assert error["code"] == "invalid_request"
    assert named in error["details"]["fields"], error["details"]
    assert all(isinstance(m, str) for messages in error["details"]["fields"].values() for m in messages)
    assert api.counts() == counts
    assert api.world.platform.calls.upstream == calls
    # Nothing was remembered under the key either: the corrected request is decided.
    assert api.post_entry(idempotency_key="bad-1").status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"gate_code": ', "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b'{"gate_code": NaN}', "application/json", 400, "invalid_json"),
        (b"\xff\xfe\x00", "application/json", 400, "invalid_json"),
        (b"[]", "application/json", 422, "invalid_request"),
        (b'"a string"', "application/json", 422, "invalid_request"),
        (b"null", "application/json", 422, "invalid_request"),
        (b"gate_code=north", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"gate_code": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"gate_code": "x"}', None, 415, "unsupported_media_type"),
    ],
    ids=["truncated", "empty", "nan", "not-utf8", "array", "string", "null", "form", "text", "no-content-type"],
)
def test_a_body_that_is_not_a_json_object_is_refused_and_writes_nothing(api, data, content_type, status, code):
    counts = api.counts()
    headers = api.headers()
    if content_type:
        headers["Content-Type"] = content_type

    reply = api.client.post("/api/v1/entries", data=data, headers=headers)

    assert reply.status_code == status
    assert reply.json["error"]["code"] == code
    assert reply.json["error"]["message"]
    assert api.counts() == counts


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "clé", "tab\there"], ids=repr)
def test_a_bad_idempotency_key_is_a_422_and_writes_nothing(api, value):
    counts = api.counts()

    reply = api.post_entry(idempotency_key=value)

    assert reply.status_code == 422
    assert reply.json["error"]["code"] == "invalid_request"
    assert list(reply.json["error"]["details"]["fields"]) == ["Idempotency-Key"]
    assert api.counts() == counts


def test_an_idempotency_key_of_255_visible_characters_is_fine(api):
    assert api.post_entry(idempotency_key="~" * 255).status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code", "named"),
    [
        (b'{"at": "now"}', "application/json", 422, "invalid_request", "at"),
        (b"[]", "application/json", 422, "invalid_request", "_schema"),
        (b'"leaving"', "application/json", 422, "invalid_request", "_schema"),
        (b'{"at": ', "application/json", 400, "invalid_json", None),
        (b"left", "text/plain", 415, "unsupported_media_type", None),
    ],
    ids=["unknown-field", "array", "string", "truncated", "text"],
)
def test_a_bad_exit_body_is_refused_and_writes_nothing(api, data, content_type, status, code, named):
    entry = api.post_entry().json
    counts = api.counts()

    reply = api.client.post(
        f"/api/v1/entries/{entry['id']}/exit", data=data, headers=api.headers(**{"Content-Type": content_type})
    )

    assert reply.status_code == status
    assert reply.json["error"]["code"] == code
    if named:
        assert named in reply.json["error"]["details"]["fields"]
    assert api.counts() == counts
    assert api.world.store.get_entry(entry["id"]).exited_at is None


@pytest.mark.parametrize("entry_id", ["x" * 201, "a\x01b"], ids=["too-long", "control-character"])
def test_a_bad_entry_id_is_simply_not_found(api, entry_id):
    reply = api.client.get(f"/api/v1/entries/{entry_id}", headers=api.headers())

    assert reply.status_code == 404
    assert reply.json["error"]["code"] == "entry_not_found"


def test_an_oversized_body_is_refused_before_it_is_read(api):
    reply = api.client.post(
        "/api/v1/entries",
        data=b"{" + b" " * (1024 * 1024) + b"}",
        headers=api.headers(**{"Content-Type": "application/json"}),
    )

    assert reply.status_code == 413
    assert reply.json["error"]["code"] == "request_entity_too_large"
