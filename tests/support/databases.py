"""The test database switch: every test runs against SQLite (default) or a real PostgreSQL
server, chosen by the environment, with the same test code.

- ``ANALYTICS_TEST_DATABASE=postgresql`` and ``ANALYTICS_TEST_POSTGRES_URL`` (a superuser
  URL of a server on 127.0.0.1, e.g. the throw-away cluster ``.ci/postgres.sh`` starts):
  each test gets a fresh database of its own, cloned with ``CREATE DATABASE … TEMPLATE``
  from a migrated empty template (or from a scored corpus), and dropped after the test.
- otherwise: one SQLite file per test, under the test's tmp folder.

Tests ask for a database by a *path* (``tmp_path / "x.db"``): on SQLite that is the file,
on PostgreSQL it names the database (the same path gives the same database in one test).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
from pathlib import Path

import pytest

BACKEND = os.environ.get("ANALYTICS_TEST_DATABASE", "sqlite").lower()
POSTGRES = BACKEND in ("postgresql", "postgres", "pg")
SERVER_URL = os.environ.get("ANALYTICS_TEST_POSTGRES_URL", "")
EMPTY_TEMPLATE = f"analytics_empty_{os.getpid()}"

_by_path: dict[str, str] = {}  # path -> database name, for the current test
_created: list[str] = []  # databases of the current test (dropped at its end)
_templates: set[str] = set()  # session-wide templates (dropped at the end of the session)
_counter = itertools.count()

requires_sqlite = pytest.mark.skipif(POSTGRES, reason="SQLite-specific behaviour")
requires_postgres = pytest.mark.skipif(not POSTGRES, reason="needs ANALYTICS_TEST_DATABASE="
                                       "postgresql and ANALYTICS_TEST_POSTGRES_URL")


def _server():
    from sqlalchemy import create_engine

    if not SERVER_URL:
        raise RuntimeError("ANALYTICS_TEST_DATABASE=postgresql needs ANALYTICS_TEST_POSTGRES_URL "
                           "(source .ci/postgres.sh && pg_start)")
    return create_engine(SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=_null_pool())


def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


def url_of(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


def _execute(*statements: str) -> None:
    from sqlalchemy import text

    engine = _server()
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _empty_template() -> str:
    """A database at the current schema head, made once per session."""
    if EMPTY_TEMPLATE not in _templates:
        from analytics.store.engine import get_engine

        _execute(f'DROP DATABASE IF EXISTS "{EMPTY_TEMPLATE}" WITH (FORCE)',
                 f'CREATE DATABASE "{EMPTY_TEMPLATE}"')
        _templates.add(EMPTY_TEMPLATE)
        url = url_of(EMPTY_TEMPLATE)
        get_engine(url)  # migrations
        release(url)
    return EMPTY_TEMPLATE


def _new_name(path: Path | str) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"t{os.getpid()}_{next(_counter)}_{digest}"


def _register(name: str, path: Path | str, lasting: bool) -> None:
    if lasting:
        _templates.add(name)
    else:
        _created.append(name)
        _by_path[str(path)] = name


def database_url(path: Path, lasting: bool = False) -> str:
    """The URL of this test's database named by ``path`` (created empty on first use);
    ``lasting``: kept until the session ends (module- or session-scoped fixtures)."""
    if not POSTGRES:
        return f"sqlite:///{path}"
    if str(path) not in _by_path:
        name = _new_name(path)
        _execute(f'CREATE DATABASE "{name}" TEMPLATE "{_empty_template()}"')
        _register(name, path, lasting)
        if lasting:
            return url_of(name)
    return url_of(_by_path[str(path)])


def clone_database(source: str, target: Path, lasting: bool = False) -> str:
    """A copy of the database at URL ``source`` (``target`` names it; ``lasting`` as in
    ``database_url``)."""
    if not POSTGRES:
        from sqlalchemy.engine import make_url

        with sqlite3.connect(make_url(source).database) as original, \
                sqlite3.connect(target) as copy:
            original.backup(copy)
        return f"sqlite:///{target}"
    from sqlalchemy.engine import make_url

    release(source)
    name = _new_name(target)
    _execute(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(source).database}"')
    _register(name, target, lasting)
    return url_of(name)


def session_database(label: str) -> str:
    """A database that lives for the whole session (e.g. a scored corpus to clone)."""
    if not POSTGRES:
        raise RuntimeError("session databases are for PostgreSQL; SQLite uses files")
    name = f"{label}_{os.getpid()}"
    _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
             f'CREATE DATABASE "{name}" TEMPLATE "{_empty_template()}"')
    _templates.add(name)
    return url_of(name)


def release(url: str) -> None:
    """Close this process's pooled connections to a database (a template must have none)."""
    from analytics.store.engine import dispose_engine

    dispose_engine(url)


def end_test() -> None:
    """Drop the databases the test made (connections of its subprocesses included)."""
    if not POSTGRES:
        return
    from analytics.store.engine import dispose_engines

    dispose_engines()
    names, _created[:] = list(_created), []
    _by_path.clear()
    if names:
        _execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


def end_session() -> None:
    if not POSTGRES:
        return
    from analytics.store.engine import dispose_engines

    dispose_engines()
    names = sorted(_templates)
    _templates.clear()
    if names:
        _execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


def describe() -> str:
    if not POSTGRES:
        return "SQLite"
    from sqlalchemy import text

    engine = _server()
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    return f"PostgreSQL {version}"
