"""Idempotent writes: documents (with comments) upserted on (source, external_id)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from analytics.store.models import Comment, Document, DocumentTopic, utcnow
from analytics.store.records import CommentRecord, DocumentRecord, clean_record


@dataclass
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0  # new rows whose content equals an existing document's (syndicated)
    linked: int = 0  # stored before for another topic, now linked to this one too

    def add(self, other: UpsertCounts) -> None:
        for name in FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in FIELDS}


FIELDS = ("new", "updated", "unchanged", "duplicate", "linked")


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _comment_values(record: CommentRecord) -> dict:
    return {"parent_external_id": record.parent_external_id, "author": record.author,
            "published_at": _as_utc(record.published_at), "text": record.text,
            "likes": record.likes}


def _upsert_comments(document: Document, comments: Iterable[CommentRecord]) -> None:
    """Add new comments, change only the fields that differ (so a re-run writes nothing)."""
    existing = {c.external_id: c for c in document.comments}
    for record in comments:
        values = _comment_values(record)
        row = existing.get(record.external_id)
        if row is None:
            row = Comment(external_id=record.external_id, **values)
            document.comments.append(row)
            existing[record.external_id] = row
            continue
        for name, value in values.items():
            current = getattr(row, name)
            if name == "published_at":
                current = _as_utc(current)
            if current != value:
                setattr(row, name, value)


def _apply(row: Document, record: DocumentRecord, digest: str, run_id: int | None) -> None:
    row.provider = record.provider
    row.outlet = record.outlet
    row.url = record.url
    row.title = record.title
    row.author = record.author
    row.published_at = _as_utc(record.published_at)
    row.text = record.text
    row.lang = record.lang
    row.content_hash = digest
    row.meta = dict(record.meta)
    row.fetched_at = utcnow()
    row.run_id = run_id


def upsert_documents(
    session: Session, records: Iterable[DocumentRecord], run_id: int | None = None
) -> UpsertCounts:
    """Insert new documents, update changed ones, skip unchanged ones. Safe to repeat.

    A new document whose content hash equals an existing original's, or that names an
    original through ``duplicate_of_external_id`` (a near-duplicate found by shingling), is
    stored with ``duplicate_of`` set and counted as ``duplicate``. Three queries per batch
    whatever its size (existing rows with their comments, originals by hash, referenced
    originals), and one flush for the new originals.
    """
    records = list(records)
    counts = UpsertCounts()
    if not records:
        return counts
    for record in records:  # NUL bytes never reach a store (the runner counts them first)
        clean_record(record)
    keys = {(r.source, r.external_id) for r in records}
    keys |= {(r.source, r.duplicate_of_external_id) for r in records
             if r.duplicate_of_external_id}
    existing: dict[tuple[str, str], Document] = {
        (d.source, d.external_id): d
        for d in session.scalars(
            select(Document)
            .where(Document.external_id.in_({k[1] for k in keys}))
            .options(selectinload(Document.comments), selectinload(Document.topics))
        )
        if (d.source, d.external_id) in keys
    }
    digests = {id(r): r.content_hash for r in records}
    originals: dict[str, int | Document] = dict(
        session.execute(
            select(Document.content_hash, Document.id)
            .where(Document.content_hash.in_(set(digests.values())),
                   Document.duplicate_of.is_(None))
            .order_by(Document.id)
        ).all()[::-1]
    )
    copies: list[tuple[Document, int | Document]] = []
    for record in records:
        digest = digests[id(record)]
        key = (record.source, record.external_id)
        row = existing.get(key)
        if row is None:
            row = Document(source=record.source, external_id=record.external_id)
            _apply(row, record, digest, run_id)
            _link_topic(row, record.topic)
            _upsert_comments(row, record.comments)
            existing[key] = row
            original = originals.get(digest) or _near_original(existing, record)
            if original is not None:
                copies.append((row, original))
                counts.duplicate += 1
            else:
                session.add(row)
                originals.setdefault(digest, row)
                counts.new += 1
            continue
        if row.content_hash != digest or len(record.comments) != len(row.comments):
            _apply(row, record, digest, run_id)
            counts.updated += 1
        elif _link_topic(row, record.topic):
            counts.linked += 1  # already stored for another topic: one text, one more topic
        else:
            counts.unchanged += 1
        _link_topic(row, record.topic)
        _upsert_comments(row, record.comments)
    session.flush()
    for row, original in copies:
        row.duplicate_of = original if isinstance(original, int) else (
            original.duplicate_of or original.id)
        session.add(row)
    session.flush()
    return counts


def _link_topic(row: Document, topic: str) -> bool:
    """Link the document to the topic; True when the link is new."""
    if any(link.topic == topic for link in row.topics):
        return False
    row.topics.append(DocumentTopic(topic=topic))
    return True


def _near_original(existing: dict[tuple[str, str], Document],
                   record: DocumentRecord) -> Document | None:
    if not record.duplicate_of_external_id:
        return None
    return existing.get((record.source, record.duplicate_of_external_id))
