"""Exclusive locks for work that must not run twice at once (the scheduled run, ingestion).

- PostgreSQL (a team's store, maybe several machines): a session-level advisory lock held
  on a dedicated connection, so every machine sharing the database sees it; released by
  the server when the holder's connection ends, even if the process dies.
- SQLite (one machine): a lock file under ``data_dir`` held with ``flock``: released by the
  OS even when the process dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics.core.errors import AlreadyRunning
from analytics.core.settings import Settings

INGEST_LOCK = "ingest"  # the scheduled run and the Sources page's ingestion share it


def lock_path(settings: Settings, name: str) -> Path:
    return Path(settings.data_dir) / f"{name}.lock"


def advisory_key(name: str) -> int:
    """The advisory lock id of a named lock (stable across processes and machines)."""
    return zlib.crc32(f"opinion-analytics lock {name}".encode())


def _holder() -> str:
    return (f"pid {os.getpid()} on {socket.gethostname()} since "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")


@contextmanager
def exclusive(settings: Settings, name: str, what: str) -> Iterator[None]:
    """Hold the named lock, or raise ``AlreadyRunning`` naming the holder at once."""
    if settings.database_url.startswith(("postgresql", "postgres")):
        with _advisory(settings.database_url, name, what):
            yield
        return
    path = lock_path(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunning(
            f"{what} is already in progress ({holder}; lock {path}). This one did nothing; "
            "try again when it has finished.") from exc
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(_holder())
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def _advisory(database_url: str, name: str, what: str) -> Iterator[None]:
    from sqlalchemy import text

    from analytics.store.engine import get_engine

    key = advisory_key(name)
    with get_engine(database_url).connect() as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        if not taken:
            holder = connection.execute(text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.objid::bigint = :key LIMIT 1"), {"key": key}).scalar()
            connection.rollback()
            raise AlreadyRunning(
                f"{what} is already in progress ({holder or 'another process'}; PostgreSQL "
                f"advisory lock {key}). This one did nothing; try again when it has finished.")
        connection.execute(text("SELECT set_config('application_name', :name, false)"),
                           {"name": f"analytics {name} lock: {_holder()}"[:63]})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.execute(text("SELECT set_config('application_name', '', false)"))
            connection.commit()
