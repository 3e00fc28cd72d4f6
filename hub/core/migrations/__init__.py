"""Schema migrations (Alembic), packaged with the hub and run without an ``alembic.ini``.

The application migrates through :func:`upgrade` (``Store.upgrade()``, ``last100 db
upgrade``). To write a new migration after changing :mod:`hub.core.db`, autogenerate it
against a database at the current head and review it::

    from alembic import command
    from hub.core.migrations import alembic_config

    command.revision(alembic_config(url="sqlite:///dev.sqlite"), "add lockers",
                     autogenerate=True, rev_id="0002")
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from hub.core.db import SQLITE_BEGIN
from hub.core.errors import HubError

MIGRATIONS_DIR = Path(__file__).resolve().parent

#: pg_advisory_xact_lock key serialising migrations: the ASCII bytes of "L100MIGR".
ADVISORY_LOCK_KEY = 0x4C3130304D494752


class MigrationError(HubError):
    code = "migration_error"


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration for the hub's migrations, built in code.

    :param connection: run on this connection (and its transaction) instead of opening
        one; how the application and the tests share their engine.
    :param url: the database URL, for Alembic commands run without a connection.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Versions live in this package: never look for them on a search path.
    config.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolation: a literal % (URL-encoded passwords) must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision this version of the hub knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` when it was never migrated.

    Cheap enough for every health check: one statement built once (an Alembic context
    per call would put a new copy of its query into the engine's statement cache each
    time, pushing the hub's own statements out)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(_CURRENT_REVISION).scalar()


VERSION_TABLE = "alembic_version"
_CURRENT_REVISION = text(f"SELECT version_num FROM {VERSION_TABLE}")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction; a no-op when it is
    there already.

    Concurrent callers (several workers starting at once) are serialised: by an
    advisory lock on PostgreSQL, by ``BEGIN IMMEDIATE`` on SQLite. On SQLite, foreign
    keys are off while migrating, because batch mode recreates tables and dropping a
    referenced table with enforcement on would cascade into, or fail on, its children;
    the foreign keys are checked before the transaction commits instead.
    """
    is_sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        connection.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        # PRAGMA foreign_keys is ignored inside a transaction: use the driver connection
        # before SQLAlchemy begins one.
        driver_connection = connection.connection.dbapi_connection
        if is_sqlite:
            driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
                command.upgrade(alembic_config(connection=connection), revision)
                if is_sqlite:
                    _check_foreign_keys(connection)
        finally:
            if is_sqlite:
                driver_connection.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise MigrationError(
            f"migration left rows with dangling foreign keys in {', '.join(tables)}; nothing was changed"
        )
