"""The hub as real processes, for tests that kill or multiply them: the entry
benchmark's simulators and seeded instance (``benchmarks/entry.py``) plus a visitor book,
the database read directly, and a fresh PostgreSQL schema per test.

Used by ``tests/test_crash_consistency.py`` (one server, killed and restarted) and
``tests/test_scale_out.py`` (two web nodes, a scheduler and two Celery workers).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select
from sqlalchemy.orm import Session

from benchmarks.entry import COMMUNITY, ROOT, Bench, free_port, read_settings, wait_port
from hub.core.config import load_config
from hub.core.db import AuditRow, EntryRow, JobRunRow, OutboxRow, make_engine

POSTGRES_URL = os.environ.get("LAST100_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VISITOR_CONNECTION = "crash-visitors"


class VisitorBench(Bench):
    """The entry benchmark's simulators and instance, with a visitor book linked to the
    community and visitor records switched on: every entry queues a rider notice in
    the outbox, every granted one a visitor record too."""

    def start_simulators(self) -> None:
        super().start_simulators()
        self.visitor_port = free_port()
        visitor = self.procs.start(
            "visitor",
            [self.py, "-m", "last100_visitor_http.simulator", "--port", str(self.visitor_port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.visitor_settings = read_settings(visitor)
        wait_port(self.visitor_port, visitor)
        threading.Thread(target=visitor.stdout.read, daemon=True).start()

    def seed(self, instance: Path) -> None:
        super().seed(instance)
        from hub.core.model import Connection
        from hub.core.plugins import secret_fields
        from hub.runtime import build_runtime

        rt = build_runtime(load_config(instance))
        try:
            store, hub = rt.store, rt.hub
            settings = hub.validate_settings("visitor-http", self.visitor_settings)
            connection = Connection(VISITOR_CONNECTION, "visitor-http", "Visitor book", settings, timeout_s=5.0)
            store.add_connection(connection, secret_fields(hub.plugin("visitor-http").info), [COMMUNITY])
            community = store.get_community(COMMUNITY)
            policy = dataclasses.replace(community.policy, visitor_record=True)
            store.update_community(dataclasses.replace(community, policy=policy))
        finally:
            rt.close()

    @property
    def instance(self) -> Path:
        return self.workdir / "instance"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.py, "-m", "hub.cli", "--instance", str(self.instance), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )


class Database:
    """The hub's database, read directly."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def entries_for_key(self, key: str) -> list[EntryRow]:
        with Session(self.engine) as s:
            return list(s.scalars(select(EntryRow).where(EntryRow.idempotency_key.like(f"apikey:%:{key}"))))

    def entry_ids(self) -> set[str]:
        with Session(self.engine) as s:
            return set(s.scalars(select(EntryRow.id)))

    def verified_ids(self) -> set[str]:
        """Entries of a rider the platform verified (they get a rider notice)."""
        with Session(self.engine) as s:
            return set(s.scalars(select(EntryRow.id).where(EntryRow.rider_id.is_not(None))))

    def granted_ids(self) -> set[str]:
        with Session(self.engine) as s:
            return set(s.scalars(select(EntryRow.id).where(EntryRow.decision == "granted")))

    def audit_by_subject(self) -> dict[str, set[str]]:
        actions: dict[str, set[str]] = collections.defaultdict(set)
        with Session(self.engine) as s:
            for subject, action in s.execute(select(AuditRow.subject, AuditRow.action)):
                actions[subject].add(action)
        return actions

    def audit_count(self, action: str) -> collections.Counter[str]:
        """How many records of ``action`` each subject has."""
        with Session(self.engine) as s:
            return collections.Counter(s.scalars(select(AuditRow.subject).where(AuditRow.action == action)))

    def outbox(self) -> list[OutboxRow]:
        with Session(self.engine) as s:
            return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))

    def job_runs(self) -> list[JobRunRow]:
        with Session(self.engine) as s:
            return list(s.scalars(select(JobRunRow).order_by(JobRunRow.id)))

    def close(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    """A URL whose connections use a fresh PostgreSQL schema, dropped afterwards. Skips
    the test when PostgreSQL cannot be reached (fails it with
    ``LAST100_REQUIRE_POSTGRES=1``)."""
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3}, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string(hide_password=True)}: {exc}"
        if os.environ.get("LAST100_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield str(make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"}))
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
