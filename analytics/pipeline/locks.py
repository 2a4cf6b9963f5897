"""Exclusive locks for work that must not run twice at once (the scheduled run, ingestion).

A lock file under ``data_dir`` held with ``flock``: released by the OS even when the
process dies, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analytics.core.errors import AlreadyRunning
from analytics.core.settings import Settings

INGEST_LOCK = "ingest"  # the scheduled run and the Sources page's ingestion share it


def lock_path(settings: Settings, name: str) -> Path:
    return Path(settings.data_dir) / f"{name}.lock"


@contextmanager
def exclusive(settings: Settings, name: str, what: str) -> Iterator[None]:
    """Hold the named lock, or raise ``AlreadyRunning`` naming the holder at once."""
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
        handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
