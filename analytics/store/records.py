"""Plain records that providers yield and the store upserts (no ORM state attached)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_WHITESPACE = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """Hash of the normalised text: equal for copies that differ only in case or spacing."""
    normalised = _WHITESPACE.sub(" ", text.lower()).strip()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


@dataclass
class Cleaning:
    """What ``clean_record`` changed in a batch (counted in the run)."""

    nul_bytes_removed: int = 0
    truncated: int = 0  # documents (or comments) cut to the size limit

    def add(self, other: Cleaning) -> None:
        self.nul_bytes_removed += other.nul_bytes_removed
        self.truncated += other.truncated


def _strip_nul(value: Any, cleaning: Cleaning) -> Any:
    """NUL bytes removed from every string (PostgreSQL refuses them; SQLite's C strings
    cut the text at the first one): both stores keep the same text."""
    if isinstance(value, str):
        if "\x00" in value:
            cleaning.nul_bytes_removed += value.count("\x00")
            return value.replace("\x00", "")
        return value
    if isinstance(value, dict):
        return {_strip_nul(k, cleaning): _strip_nul(v, cleaning) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strip_nul(v, cleaning) for v in value]
    return value


def clean_record(record: DocumentRecord, max_chars: int | None = None) -> Cleaning:
    """Make a record storable the same way on every store, in place: NUL bytes removed,
    and a text longer than ``max_chars`` cut to it, with a note in ``meta['truncated']``."""
    cleaning = Cleaning()
    for name in ("source", "provider", "external_id", "topic", "text", "title", "url",
                 "author", "outlet", "lang", "duplicate_of_external_id"):
        setattr(record, name, _strip_nul(getattr(record, name), cleaning))
    record.meta = _strip_nul(dict(record.meta), cleaning)
    for comment in record.comments:
        for name in ("external_id", "text", "parent_external_id", "author"):
            setattr(comment, name, _strip_nul(getattr(comment, name), cleaning))
    if max_chars:
        note: dict[str, Any] = {}
        if len(record.text) > max_chars:
            note["text_chars"] = len(record.text)
            record.text = record.text[:max_chars]
        long_comments = [c for c in record.comments if len(c.text) > max_chars]
        for comment in long_comments:
            comment.text = comment.text[:max_chars]
        if long_comments:
            note["comments_cut"] = len(long_comments)
        if note:
            cleaning.truncated += 1
            record.meta["truncated"] = {**note, "kept_chars": max_chars}
    return cleaning


@dataclass
class CommentRecord:
    external_id: str
    text: str
    parent_external_id: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    likes: int | None = None


@dataclass
class DocumentRecord:
    source: str  # news | youtube | reddit
    provider: str
    external_id: str
    topic: str
    published_at: dt.datetime
    text: str
    title: str | None = None
    url: str | None = None
    author: str | None = None
    outlet: str | None = None  # news domain, r/<subreddit>, YouTube channel, feed host
    lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    comments: list[CommentRecord] = field(default_factory=list)
    # external id (same source) of the original this record is a near-duplicate of
    duplicate_of_external_id: str | None = None

    @property
    def content_hash(self) -> str:
        return content_hash(f"{self.title or ''}\n{self.text}")
