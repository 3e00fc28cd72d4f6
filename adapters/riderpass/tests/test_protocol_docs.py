"""The published protocol checks itself: the OpenAPI document is valid OpenAPI 3.1, every
request the plugin sends and every recorded reply and push fits it, and the worked examples
in the protocol document are the ones the tests verify."""

from __future__ import annotations

import json
import re
from datetime import time
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pytest
import responses
import yaml
from openapi_schema_validator import OAS31Validator

from hub.core.model import (
    Building,
    CommunityPolicy,
    CommunityProfile,
    Credential,
    CredentialKind,
    Notice,
    RiderClaim,
    Zone,
)

PROTOCOLS = Path(__file__).resolve().parents[3] / "docs" / "protocols"
API = "https://platform.test/riderpass"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load((PROTOCOLS / "riderpass.openapi.yaml").read_text(encoding="utf-8"))


def conforms(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document, its ``#/components/...`` refs resolved."""
    OAS31Validator({**schema, "components": spec["components"]}).validate(instance)


def operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation serving a concrete request path (``/v1/orders/A%2F1``)."""
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def test_the_openapi_document_is_valid_openapi_3_1(spec) -> None:
    openapi_spec_validator.validate(spec)

    assert spec["openapi"].startswith("3.1")


def test_every_request_the_plugin_sends_is_in_the_document_and_fits_it(
    spec, hub, connection, gate, community, fixture_json
) -> None:
    replies = {
        ("GET", "/v1/ping"): fixture_json("ping.json"),
        ("POST", "/v1/riders/verify"): fixture_json("verify_rider.json"),
        ("POST", "/v1/orders/active"): fixture_json("active_orders.json"),
        ("GET", "/v1/orders/A%2F1"): fixture_json("order_delivered.json"),
        ("PUT", "/v1/communities/sunny-garden/profile"): fixture_json("profile_receipt.json"),
        ("POST", "/v1/riders/R1001/notices"): fixture_json("notice_receipt.json"),
    }
    profiled = type(community)(
        community.id,
        community.name,
        policy=CommunityPolicy(opening=time(7), closing=time(22)),
        buildings=(Building("3", "3 号楼", "3", 31.2, 121.4), Building("5", "5 号楼")),
        geofence=((31.1, 121.3), (31.2, 121.4)),
    )
    profile = CommunityProfile(
        profiled, gates=(gate,), zones=(Zone("n1", "no_go", "施工区", ((31.1, 121.3),)),), rules_en="Walk", version=2
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        for (method, path), reply in replies.items():
            mocked.add(method, API + path, json=reply)

        hub.check_connection(connection)
        hub.verify_rider(connection, Credential(CredentialKind.TOKEN, "t"), gate)
        hub.active_orders(connection, RiderClaim(Credential(CredentialKind.TYPED_CODE, "482913")), community)
        hub.get_order(connection, "A/1")
        hub.publish_community(connection, profile)
        hub.notify_rider(connection, "R1001", Notice("gate_open", "门已开", "Gate open", {"gate": "north"}))

    for call in mocked.calls:
        path = call.request.path_url.removeprefix("/riderpass")
        found = operation(spec, call.request.method, path)
        if call.request.body:
            schema = found["requestBody"]["content"]["application/json"]["schema"]
            conforms(spec, schema, json.loads(call.request.body))


@pytest.mark.parametrize(
    ("method", "path", "status", "fixture"),
    [
        ("GET", "/v1/ping", "200", "ping.json"),
        ("POST", "/v1/riders/verify", "200", "verify_rider.json"),
        ("POST", "/v1/riders/verify", "200", "verify_rider_suspended.json"),
        ("POST", "/v1/riders/verify", "422", "problem_credential_expired.json"),
        ("POST", "/v1/riders/verify", "422", "problem_credential_invalid.json"),
        ("POST", "/v1/riders/verify", "401", "problem_signature_invalid.json"),
        ("POST", "/v1/orders/active", "200", "active_orders.json"),
        ("GET", "/v1/orders/x", "200", "order_delivered.json"),
        ("GET", "/v1/orders/x", "404", "problem_order_not_found.json"),
        ("PUT", "/v1/communities/x/profile", "200", "profile_receipt.json"),
        ("PUT", "/v1/communities/x/profile", "409", "problem_profile_version_stale.json"),
        ("POST", "/v1/riders/x/notices", "202", "notice_receipt.json"),
        ("POST", "/v1/riders/x/notices", "404", "problem_rider_not_found.json"),
    ],
)
def test_every_recorded_reply_fits_the_document(spec, fixture_json, method, path, status, fixture) -> None:
    reply = operation(spec, method, path)["responses"][status]
    if "$ref" in reply:
        reply = spec["components"]["responses"][reply["$ref"].rsplit("/", 1)[1]]
    [(_media, content)] = reply["content"].items()

    conforms(spec, content["schema"], fixture_json(fixture))


@pytest.mark.parametrize("fixture", ["push_order_status_changed.json", "push_rider_suspended.json"])
def test_every_recorded_push_fits_the_document(spec, fixture_json, fixture) -> None:
    body = spec["webhooks"]["riderpassEvent"]["post"]["requestBody"]["content"]["application/json"]["schema"]

    conforms(spec, body, fixture_json(fixture))


def test_the_worked_examples_in_the_document_are_the_tested_ones(fixture_json, fixture_text) -> None:
    text = (PROTOCOLS / "riderpass.md").read_text(encoding="utf-8")
    example = fixture_json("entry_code_example.json")

    for value in (
        "v1,NhIO5udE08TmgbdEbwmseWcrEjq2SXktN492oDvkRhQ=",  # test_signing.py
        "v1,Jwf2DDBPXTfu8hlEkKCAlF8Y3/3Hlq8h1IAl4ricOk8=",
        "73ddf726ac4437e043547dfc226add7a6043e3fef23475a1c1ff5365ca6d58cb",
        "mncEtLkfMaQYBiRJIg1rZgA6ns8Gw6O3D+KDQ6gfTU0=",  # test_webhooks.py
        "v1,VRfuF72NUol+oGAq5/sLE+aOgDzmHsy7obf10etX5hE=",
        example["code"],
        example["kid"],
        example["public_key_raw_base64"],
    ):
        assert value in text
    # The push example's body, byte for byte: its signature covers exactly these bytes.
    assert fixture_text("push_order_status_changed.json") in text
