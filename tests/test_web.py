from __future__ import annotations

import pytest

from hub.core.secrets import generate_key
from hub.web import create_app


@pytest.fixture
def app(tmp_path):
    app = create_app({"instance_path": tmp_path, "secret_keys": [generate_key()], "secret_key": "test"})
    yield app
    app.extensions["last100"].close()


def test_health_says_when_the_database_is_not_migrated(app):
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 503
    assert reply.json == {"status": "not_migrated", "schema": None}


def test_health_reports_the_schema_revision_once_migrated(app):
    app.extensions["last100"].store.upgrade()
    reply = app.test_client().get("/healthz")
    assert reply.status_code == 200
    assert reply.json["status"] == "ok" and reply.json["schema"]


def test_index_lists_plugins_and_says_how_to_add_a_community(app):
    app.extensions["last100"].store.upgrade()
    page = app.test_client().get("/").get_data(as_text=True)
    assert "default-policy" in page
    assert "last100 communities add" in page
