"""Passages of a document (text chunks, then comments) shared by every scoring backend."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from analytics.store.records import content_hash

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Passage:
    idx: int
    kind: str  # text | comment
    text: str


@dataclass
class PreparedDocument:
    """A document ready for scoring: its passages (chunks) and, once embedded, vectors."""

    document_id: int
    title: str
    text: str
    comments: list[str]
    passages: list[Passage]
    embeddings: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def scoring_hash(self) -> str:
        """Hash of everything the scorer reads: the cache key's content part."""
        return content_hash("\n".join([self.title, self.text, *self.comments]))


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@lru_cache(maxsize=4)
def _splitter(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""], keep_separator="end",
    )


def make_passages(title: str, text: str, comments: list[str], chunk_size: int = 600,
                  chunk_overlap: int = 80) -> list[Passage]:
    """Text chunks first, then one passage per comment (long comments split too)."""
    splitter = _splitter(chunk_size, chunk_overlap)
    body = f"{title}. {text}" if title else text
    pieces = [("text", chunk) for chunk in splitter.split_text(body)]
    for comment in comments:
        pieces.extend(("comment", chunk) for chunk in splitter.split_text(comment))
    pieces = [(kind, chunk.strip()) for kind, chunk in pieces if chunk.strip()]
    return [Passage(i, kind, chunk) for i, (kind, chunk) in enumerate(pieces)]


def prepare(document_id: int, title: str | None, text: str, comments: list[str],
            chunk_size: int = 600, chunk_overlap: int = 80) -> PreparedDocument:
    title = title or ""
    return PreparedDocument(
        document_id=document_id, title=title, text=text, comments=comments,
        passages=make_passages(title, text, comments, chunk_size, chunk_overlap),
    )
