"""The OpenAPI document: valid, public, generated from the schemas, and covering every
route of the API blueprint."""

from __future__ import annotations

import re

import openapi_spec_validator


def document(api) -> dict:
    reply = api.client.get("/api/v1/openapi.json")
    assert reply.status_code == 200
    return reply.json


def test_the_document_is_valid_openapi_3(api):
    doc = document(api)

    openapi_spec_validator.validate(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Last100 Hub API"


def test_every_api_route_is_documented(api):
    app = api.client.application
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    paths = document(api)["paths"]
    documented = {(path, method) for path, operations in paths.items() for method in operations}

    assert routes == documented


def test_keys_are_required_except_for_the_document_and_pushes(api):
    doc = document(api)
    schemes = doc["components"]["securitySchemes"]

    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"] == {**schemes["apiKeyHeader"], "type": "apiKey", "in": "header", "name": "X-Api-Key"}
    assert doc["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert doc["paths"]["/api/v1/push/{connection_id}"]["post"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/entries"]["post"]


def test_every_error_reply_uses_the_error_schema(api):
    doc = document(api)
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_request_schemas_refuse_unknown_fields_and_bound_every_string(api):
    schemas = document(api)["components"]["schemas"]

    for name in ("EntryRequest", "Credential", "Location", "ExitRequest"):
        assert schemas[name]["additionalProperties"] is False, name
    for name, prop in schemas["EntryRequest"]["properties"].items():
        if prop.get("type") == "string":
            assert prop["minLength"] == 1 and prop["maxLength"], name
    assert schemas["Credential"]["properties"]["kind"]["enum"] == ["token", "typed_code", "entry_code"]
    assert schemas["EntryRequest"]["required"] == ["connection", "credential", "gate_code"]


def test_entry_replies_document_both_the_new_and_the_replayed_entry(api):
    responses = document(api)["paths"]["/api/v1/entries"]["post"]["responses"]

    assert responses["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Entry"}
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Entry"}
    assert {"400", "401", "403", "404", "415", "422"} <= set(responses)
