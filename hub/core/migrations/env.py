"""Alembic environment of the hub's database.

Run through :mod:`hub.core.migrations` (``Store.upgrade()``, ``last100 db upgrade``);
no ``alembic.ini`` is needed. When the caller hands over a connection in
``config.attributes["connection"]`` the migrations run on it, inside the caller's
transaction, so the application and the tests share one engine and its set-up.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from hub.core.db import Base, UTCDateTime, make_engine

config = context.config


def _render_item(type_: str, obj: Any, _autogen_context: Any) -> str | bool:
    # Generated migrations must not import hub code, which changes after they are written.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**options: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        **options,
    )


def _run_on(connection: Connection) -> None:
    # SQLite alters tables by copying them ("batch" mode).
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Write the SQL to standard output (``alembic upgrade --sql``) for a DBA to run."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("offline migrations need sqlalchemy.url")
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("pass a connection in config.attributes['connection'] or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
