"""Runs a provider and writes what it yields, one transaction per batch, with a runs row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from analytics.store import session_scope
from analytics.store.records import DocumentRecord
from analytics.store.models import Run
from analytics.store.writes import UpsertCounts, finish_run, start_run, upsert_documents

ProgressCallback = Callable[[int], None]


def _batches(records: Iterable[DocumentRecord], size: int) -> Iterator[list[DocumentRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def ingest_records(
    records: Iterable[DocumentRecord],
    *,
    kind: str = "ingest",
    topic: str,
    provider: str,
    parameters: dict | None = None,
    batch_size: int = 200,
    progress: ProgressCallback | None = None,
    database_url: str | None = None,
) -> tuple[int, UpsertCounts]:
    """Upsert records batch by batch; a failure keeps every batch already committed."""
    with session_scope(database_url) as session:
        run_id = start_run(session, kind, topic, provider, parameters).id
    counts = UpsertCounts()
    fetched = 0
    try:
        for batch in _batches(records, batch_size):
            with session_scope(database_url) as session:
                counts.add(upsert_documents(session, batch, run_id))
            fetched += len(batch)
            if progress:
                progress(len(batch))
    except BaseException as exc:
        _close(run_id, "failed", fetched, counts, f"{type(exc).__name__}: {exc}", database_url)
        raise
    _close(run_id, "ok", fetched, counts, None, database_url)
    return run_id, counts


def _close(run_id: int, status: str, fetched: int, counts: UpsertCounts, error: str | None,
           database_url: str | None) -> None:
    with session_scope(database_url) as session:
        run = session.get(Run, run_id)
        finish_run(run, status, {"fetched": fetched, **counts.as_dict(), "failed": 0}, error)


def utc_day(value: dt.date) -> dt.datetime:
    return dt.datetime.combine(value, dt.time(0), dt.UTC)
