"""``last100 audit verify``: walks the audit hash chain of the instance's database and
exits 0 with a summary, or 1 naming the first record that was changed or whose
predecessor was removed. (The chain check itself is tested in tests/storage/test_audit.py;
the command on PostgreSQL, against a server that was killed, in
tests/test_crash_consistency.py.)"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from hub.cli import main
from hub.core import audit
from hub.core.config import load_config
from hub.core.db import AuditRow
from hub.core.store import Store


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Runs ``last100 --instance <tmp> ...`` in-process and returns click's result."""
    for key in list(os.environ):
        if key.startswith("LAST100_"):
            monkeypatch.delenv(key)
    instance = tmp_path / "instance"

    def run(*args: str):
        return CliRunner().invoke(main, ["--instance", str(instance), *args], catch_exceptions=False)

    run.instance = instance
    return run


@pytest.fixture
def store(cli):
    """The migrated database of a fresh instance, as the hub opens it."""
    assert cli("init").exit_code == 0
    config = load_config(cli.instance)
    opened = Store(config.effective_database_url, config.secret_keys)
    yield opened
    opened.dispose()


def _append(store: Store, count: int) -> list[AuditRow]:
    """``count`` records, appended in batches as the hub does, read back in order."""
    at = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    with store.transaction() as session:
        for start in range(0, count, 500):
            batch = [
                audit.AuditRecord("api", "entry.decided", f"e{n}", {"decision": "granted"})
                for n in range(start, min(count, start + 500))
            ]
            audit.append_many(session, batch, at)
    with store.transaction() as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.id)).all())


def _tamper(store: Store, sql: str) -> None:
    """Change the log behind the hub's back, as someone with database access could."""
    with store.transaction() as session:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))
        session.execute(text(sql))


def test_an_intact_chain_exits_0_with_the_count_and_the_latest_hash(cli, store):
    records = _append(store, 5)

    result = cli("audit", "verify")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"5 records, chain intact; latest record {records[-1].id}, hash {records[-1].hash}"


def test_an_empty_log_is_intact(cli, store):
    result = cli("audit", "verify")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 records, chain intact"


def test_a_changed_record_exits_1_naming_it(cli, store):
    records = _append(store, 6)
    changed = records[3]
    _tamper(store, f"UPDATE audit_log SET subject = 'forged' WHERE id = {changed.id}")

    result = cli("audit", "verify")

    assert result.exit_code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: audit chain broken at record {changed.id} (entry.decided 'forged' by api at ")
    assert "3 record(s) before it are intact" in last
    assert "chain intact" not in result.stdout


def test_a_removed_record_is_named_at_its_successor(cli, store):
    records = _append(store, 4)
    _tamper(store, f"DELETE FROM audit_log WHERE id = {records[1].id}")

    result = cli("audit", "verify")

    assert result.exit_code == 1
    assert f"Error: audit chain broken at record {records[2].id} " in result.stderr


def test_a_long_chain_shows_how_many_records_were_checked(cli, store):
    _append(store, 2500)

    result = cli("audit", "verify")

    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()
    assert progress[0].startswith("Verifying 2500 audit record(s) in sqlite:///")
    # The first and the last are always shown; those between at most twice a second.
    assert progress[1] == "1000/2500 audit records"
    assert progress[-1] == "2500/2500 audit records"
    assert result.stdout.startswith("2500 records, chain intact; latest record ")


def test_a_database_never_migrated_is_a_clear_error(cli, tmp_path, monkeypatch):
    (tmp_path / "empty.sqlite").touch()
    monkeypatch.setenv("LAST100_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")

    result = cli("audit", "verify")

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: the database is not migrated: run 'last100 db upgrade'"


def test_a_missing_database_file_is_not_created(cli):
    result = cli("audit", "verify")

    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: no database at ")
    assert not (cli.instance / "last100.sqlite").exists()
