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
