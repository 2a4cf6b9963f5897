"""Runs a provider and writes what it yields, one transaction per batch, with a runs row.

The run record's counts: ``fetched`` (items the provider listed: yielded documents plus
known URLs it did not fetch again), ``new``, ``updated``, ``unchanged``, ``duplicate``
(new syndicated copies, linked through ``duplicate_of``), ``failed`` (items skipped, by
reason in ``failures``; bad rows of a file with their row numbers in ``rejected``),
``quota`` (API units spent), ``nul_bytes_removed`` and ``truncated`` (documents cut to
``ingest_max_document_chars``, noted in their ``meta``). A batch that collides with another
process writing the same documents at the same moment is written again (it then sees them).
Status: ``ok``, ``stopped`` (the provider stopped early but cleanly, e.g. the YouTube
quota, or the run was interrupted; ``error`` says why) or ``failed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from analytics.core.progress import ProgressCallback, ProgressMeter
from analytics.core.settings import Settings, get_settings
from analytics.core.topics import Topic
from analytics.ingest import dedup
from analytics.ingest.base import RunContext, provider_class
from analytics.ingest.language import set_language
from analytics.ingest.outlets import fill_outlets
from analytics.store import session_scope
from analytics.store.models import Document, Run
from analytics.store.records import Cleaning, DocumentRecord, clean_record
from analytics.store.runs import recorded_run
from analytics.store.writes import UpsertCounts, upsert_documents


def _batches(records: Iterable[DocumentRecord], size: int) -> Iterator[list[DocumentRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def known_ids_reader(database_url: str | None) -> Callable[[str, Iterable[str]], set[str]]:
    """A function telling which external ids of a source are already stored."""

    def known(source: str, external_ids: Iterable[str]) -> set[str]:
        ids = list(external_ids)
        found: set[str] = set()
        with session_scope(database_url) as session:
            for start in range(0, len(ids), 500):
                found.update(session.scalars(select(Document.external_id).where(
                    Document.source == source,
                    Document.external_id.in_(ids[start:start + 500]))))
        return found

    return known


class SyndicationLinker:
    """Marks news records that are near-duplicates of an original (stored or earlier in
    this run); the upsert then links them through ``duplicate_of``."""

    def __init__(self, topic: str, threshold: float, database_url: str | None):
        self.topic, self.database_url = topic, database_url
        self.index = dedup.NearDuplicateIndex(threshold)
        self.loaded = False

    def _load(self) -> None:
        with session_scope(self.database_url) as session:
            rows = session.execute(select(Document.external_id, Document.meta).where(
                Document.source == "news", Document.in_topic(self.topic),
                Document.duplicate_of.is_(None)))
            for external_id, meta in rows:
                sig = dedup.decode((meta or {}).get("minhash", "")) if meta else None
                if sig is not None:
                    self.index.add(external_id, sig)
        self.loaded = True

    def mark(self, records: list[DocumentRecord]) -> None:
        for record in records:
            if record.source != "news":
                continue
            if not self.loaded:
                self._load()
            sig = dedup.signature(record.text)
            if sig is None:
                continue
            record.meta["minhash"] = dedup.encode(sig)
            original = self.index.match(record.external_id, sig)
            if original is not None:
                record.duplicate_of_external_id = original
            else:
                self.index.add(record.external_id, sig)


def ingest_records(
    records: Iterable[DocumentRecord],
    *,
    kind: str = "ingest",
    topic: str,
    provider: str,
    parameters: dict | None = None,
    batch_size: int = 200,
    progress: ProgressCallback | None = None,
    total: int | None = None,
    database_url: str | None = None,
    context: RunContext | None = None,
    near_duplicate_threshold: float | None = None,
    max_document_chars: int | None = None,
) -> tuple[int, UpsertCounts]:
    """Upsert records batch by batch; a failure keeps every batch already committed."""
    counts = UpsertCounts()
    cleaning = Cleaning()
    linker = (SyndicationLinker(topic, near_duplicate_threshold, database_url)
              if near_duplicate_threshold is not None else None)
    meter = ProgressMeter(progress, f"ingest {provider}", total=total, unit="doc")
    with recorded_run(kind, topic, provider, parameters, database_url=database_url) as run:
        fetched = 0
        try:
            for batch in _batches(records, batch_size):
                for record in batch:
                    cleaning.add(clean_record(record, max_document_chars))
                    set_language(record)
                fill_outlets(batch)
                if linker:
                    linker.mark(batch)
                counts.add(_write_batch(batch, run.id, database_url))
                fetched += len(batch)
                meter.advance(len(batch))
        finally:
            run.counts = run_counts(fetched, counts, context)
            run.counts.update(nul_bytes_removed=cleaning.nul_bytes_removed,
                              truncated=cleaning.truncated)
        if context and context.stopped:
            run.stop(context.stopped)
    return run.id, counts


def _write_batch(batch: list[DocumentRecord], run_id: int, database_url: str | None,
                 attempts: int = 3) -> UpsertCounts:
    """One transaction; written again when another process inserted one of the same
    documents (or comments, or topic links) between our read and our insert."""
    for attempt in range(attempts):
        try:
            with session_scope(database_url) as session:
                return upsert_documents(session, batch, run_id)
        except (IntegrityError, OperationalError) as exc:
            # SQLite reports the same collision as a stale snapshot ("database is locked")
            stale = isinstance(exc, OperationalError) and "locked" in str(exc)
            if attempt == attempts - 1 or not (isinstance(exc, IntegrityError) or stale):
                raise
    raise AssertionError("unreachable")


def run_counts(fetched: int, counts: UpsertCounts, context: RunContext | None) -> dict:
    values: dict[str, Any] = {"fetched": fetched, **counts.as_dict(), "failed": 0}
    if context is not None:
        values["fetched"] += context.skipped_known + context.failed
        values["unchanged"] += context.skipped_known
        values["failed"] = context.failed
        values["failures"] = dict(context.failures)
        if context.rejected:
            values["rejected"] = context.rejected[:100]
        values["quota"] = context.quota_units
        if context.notes:
            values["notes"] = context.notes[-20:]
    return values


def utc_day(value: dt.date) -> dt.datetime:
    return dt.datetime.combine(value, dt.time(0), dt.UTC)


# --- running one provider ----------------------------------------------------------------

@dataclass
class IngestResult:
    run_id: int
    status: str
    counts: dict[str, Any]
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        text = (f"run {self.run_id} {self.status}: fetched {c.get('fetched', 0)}, new "
                f"{c.get('new', 0)}, updated {c.get('updated', 0)}, unchanged "
                f"{c.get('unchanged', 0)}, duplicate {c.get('duplicate', 0)}, failed "
                f"{c.get('failed', 0)}")
        if c.get("quota"):
            text += f", quota {c['quota']} units"
        if c.get("nul_bytes_removed"):
            text += f", {c['nul_bytes_removed']} NUL byte(s) removed"
        if c.get("truncated"):
            text += f", {c['truncated']} document(s) truncated"
        text += f" — {self.error}" if self.error else ""
        rejected = c.get("rejected") or []
        for row in rejected[:10]:
            text += f"\n  row {row['row']}: {row['reason']} — {row['detail']}"
        more = sum((c.get("failures") or {}).values()) - min(len(rejected), 10)
        if rejected and more > 0:
            text += f"\n  … {more} more (the run's counts list the first 100 rows)"
        return text


def run_provider(
    name: str,
    topic: Topic,
    *,
    query: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    options: dict[str, Any] | None = None,
    settings: Settings | None = None,
    database_url: str | None = None,
    progress: ProgressCallback | None = None,
    notes: Callable[[str], None] | None = None,
) -> IngestResult:
    """Run one provider for a topic and window and store what it yields (one runs row).

    Errors a user can cause (missing key, quota, unreachable service) are raised as
    ``IngestError`` after the run row is closed as failed; committed batches stay.
    """
    settings = settings or get_settings()
    url = database_url or settings.database_url
    cls = provider_class(name)
    if getattr(cls, "needs_window", True):  # a file import takes everything by default
        until = until or dt.datetime.now(dt.UTC)
        since = since or until - dt.timedelta(days=settings.ingest.initial_lookback_days)
    context = RunContext(known_ids=known_ids_reader(url), progress=notes)
    provider = cls(settings, context=context, database_url=url, **(options or {}))
    parameters = {"query": query, "since": since and since.isoformat(),
                  "until": until and until.isoformat(),
                  "options": {k: str(v) for k, v in (options or {}).items()}}
    run_id, _ = ingest_records(
        provider.fetch(topic, query, since, until), topic=topic.name, provider=name,
        parameters=parameters, batch_size=settings.ingest.batch_size, progress=progress,
        database_url=url, context=context,
        near_duplicate_threshold=settings.ingest.near_duplicate_threshold,
        max_document_chars=settings.ingest.max_document_chars)
    with session_scope(url) as session:
        run = session.get(Run, run_id)
        return IngestResult(run_id, run.status, dict(run.counts), run.error,
                            list(context.notes))
