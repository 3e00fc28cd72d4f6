"""Settings as the hub validates them when a connection is saved
(``hub.validate_settings("visitor-http", ...)``): defaults, and every wrong setting named
without echoing a secret."""

from __future__ import annotations

import pytest

from hub.core.errors import SettingsError


def test_settings_load_with_their_defaults(hub) -> None:
    loaded = hub.validate_settings("visitor-http", {"url": "https://pms.test/visitors", "secret": "s3cret"})

    assert loaded["field_map"] == {
        "visitorName": "{masked_name}",
        "visitorPhone": "{masked_phone}",
        "visitTime": "{started_at:%Y-%m-%d %H:%M:%S}",
        "leaveTime": "{ends_at:%Y-%m-%d %H:%M:%S}",
        "reason": "外卖配送 {platform}",
        "gate": "{gate_id}",
    }
    assert (loaded["signature_header"], loaded["timestamp_header"], loaded["key_id_header"]) == (
        "X-Signature",
        "X-Timestamp",
        "X-Key-Id",
    )
    assert loaded["timezone"] == "Asia/Shanghai"
    assert loaded["idempotency_field"] == "externalId"
    assert loaded["static_fields"] == {}
    assert (loaded["success_path"], loaded["record_id_path"], loaded["health_url"]) == ("", "", "")


def test_every_placeholder_of_a_visit_may_be_used(hub, settings) -> None:
    field_map = {
        name: "{" + name + "}"
        for name in ("entry_id", "community_id", "gate_id", "rider_ref", "masked_name", "masked_phone", "platform")
    } | {"from": "{started_at:%H:%M}", "to": "{ends_at}"}

    assert hub.validate_settings("visitor-http", {**settings, "field_map": field_map})["field_map"] == field_map


@pytest.mark.parametrize(
    ("field_map", "message"),
    [
        ({"visitorName": "{rider_name}"}, "visitorName: unknown placeholder {rider_name} (known placeholders: "
                                          "community_id, ends_at, entry_id, gate_id, masked_name, masked_phone, "
                                          "platform, rider_ref, started_at)"),
        ({"visitorPhone": "{phone}"}, "visitorPhone: unknown placeholder {phone}"),
        ({"visitTime": "{masked_name:%Y-%m-%d}"}, "visitTime: placeholder {masked_name:%Y-%m-%d}: Invalid format"),
        ({"gate": "{gate_id.__class__}"}, "gate: placeholder {gate_id.__class__}: use a plain name"),
        ({"reason": "外卖 {platform"}, "reason: expected '}' before end of string"),
        ({"visitorName": 3}, "visitorName: the template must be text"),
        ({"": "{masked_name}"}, "field names must be 1 to 100 characters"),
        ({}, "must map at least one field"),
    ],
    ids=["unknown", "unknown phone", "format", "attribute", "brace", "not text", "empty name", "empty"],
)  # fmt: skip
def test_an_invalid_field_map_is_refused_with_a_message_naming_the_field(hub, settings, field_map, message) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("visitor-http", {**settings, "field_map": field_map})

    assert set(caught.value.errors) == {"field_map"}
    assert any(m.startswith(message) for m in caught.value.errors["field_map"]), caught.value.errors


def test_every_wrong_template_of_a_field_map_is_named(hub, settings) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("visitor-http", {**settings, "field_map": {"a": "{x}", "b": "{masked_name}", "c": "{y}"}})

    assert [m.split(":")[0] for m in caught.value.errors["field_map"]] == ["a", "c"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "http://pms.example.com/visitors"}, "url"),
        ({"url": "ftp://pms.test/visitors"}, "url"),
        ({"url": "https://user:pw@pms.test/visitors"}, "url"),
        ({"url": "https://pms.test/visitors#top"}, "url"),
        ({"secret": ""}, "secret"),
        ({"health_url": "pms.test/health"}, "health_url"),
        ({"signature_header": "X Signature"}, "signature_header"),
        ({"timestamp_header": "Idempotency-Key"}, "timestamp_header"),
        ({"key_id_header": "content-type"}, "key_id_header"),
        ({"signature_header": "x-timestamp"}, "signature_header"),
        ({"timezone": "China/Beijing"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"success_path": "code", "success_value": ""}, "success_value"),
        ({"record_id_path": "data..id"}, "record_id_path"),
        ({"static_fields": {"visitorName": "x"}}, "static_fields"),
        ({"static_fields": {"externalId": "x"}}, "idempotency_field"),
        ({"static_fields": {"when": object()}}, "static_fields"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"unexpected": 1}, "unexpected"),
    ],
    ids=["plain http", "scheme", "user info", "fragment", "empty secret", "health url", "header name",
         "reserved header", "reserved header case", "same headers", "unknown zone", "zone path", "success value",
         "path", "static overlaps map", "static overlaps id field", "static not json", "timeout", "unknown"],
)  # fmt: skip
def test_a_wrong_setting_is_named(hub, settings, change, field) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("visitor-http", {**settings, **change})

    assert set(caught.value.errors) == {field}


def test_the_secret_is_not_echoed_in_a_settings_error(hub, settings) -> None:
    with pytest.raises(SettingsError) as caught:
        hub.validate_settings("visitor-http", {**settings, "url": "http://pms.example.com/"})

    assert "visitor-example-secret" not in f"{caught.value} {caught.value.errors}"


def test_plain_http_is_allowed_to_a_system_on_this_machine(hub, settings) -> None:
    for url in ("http://127.0.0.1:8766/openapi/visitor/records", "http://localhost:8766/records"):
        assert hub.validate_settings("visitor-http", {**settings, "url": url})["url"] == url
