"""Bring a database to the current schema: Alembic migrations, run when the product opens a
database, under a lock so that two processes starting on a fresh database never race.

A database made by the product before migrations existed (tables, no ``alembic_version``)
is recognised as the baseline and upgraded from there. On PostgreSQL, the passages' pgvector
column is enabled at any start where the server has the extension and the column is missing
(``store.passages``). On SQLite, foreign keys are switched
off while a migration rebuilds a table (SQLite's way to change a column), so that rebuilding
``documents`` never cascades into its comments and analyses.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from analytics.store.passages import enable_vectors

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
LOCK_KEY = zlib.crc32(b"opinion-analytics schema migration")  # pg advisory lock id


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Run every pending migration (no-op when the database is at head)."""
    with _lock(engine), engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            tables = set(inspect(connection).get_table_names())
            config = alembic_config(connection)
            if "documents" in tables and "alembic_version" not in tables:
                command.stamp(config, BASELINE)
            command.upgrade(config, "head")
            if not sqlite:  # a server that got pgvector after migration 0007 ran
                enable_vectors(connection)
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def head_revision() -> str:
    """The newest migration of this software."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextmanager
def _lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            try:
                yield
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
