"""Engine and session handling. SQLite gets WAL mode and foreign keys; PostgreSQL works as is.
Opening a database brings it to the current schema (``store.migrate``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from analytics.store.migrate import upgrade


def _prepare_sqlite(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}
_lock = threading.RLock()


def get_engine(url: str) -> Engine:
    """The process's engine for this URL (made, and the schema migrated, on first use)."""
    engine = _engines.get(url)
    if engine is None:
        with _lock:
            engine = _engines.get(url)
            if engine is None:
                engine = _engines[url] = _make_engine(url)
    return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections to one database and forget its engine."""
    with _lock:
        _factories.pop(url, None)
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests; a forked worker)."""
    for url in list(_engines):
        dispose_engine(url)


def insert_or_ignore(bind, table, values):
    """``INSERT … ON CONFLICT DO NOTHING`` for the bind's dialect (PostgreSQL or SQLite)."""
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).values(values).on_conflict_do_nothing()


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


def _driver_url(url: str):
    """``postgresql://`` (and ``postgres://``) mean the declared driver, psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _make_engine(url: str) -> Engine:
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        _prepare_sqlite(url)
    engine = create_engine(
        _driver_url(url),
        future=True,
        connect_args={"timeout": 30, "check_same_thread": False} if is_sqlite else {},
        pool_pre_ping=not is_sqlite,
    )
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    upgrade(engine)
    return engine


def _session_factory(url: str) -> sessionmaker[Session]:
    factory = _factories.get(url)
    if factory is None:
        factory = sessionmaker(get_engine(url), expire_on_commit=False)
        with _lock:
            _factories[url] = factory
    return factory


def default_url() -> str:
    from analytics.core.settings import get_settings

    return get_settings().database_url


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    session = _session_factory(url or default_url())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
