"""Storage: SQLAlchemy models, engine/session, idempotent writes and DataFrame reads."""

from analytics.store.engine import get_engine, session_scope
from analytics.store.models import (
    Analysis,
    Base,
    Chunk,
    Comment,
    DemoTruth,
    Document,
    DocumentTopic,
    Event,
    GoldLabel,
    Run,
    Summary,
)
from analytics.store.records import CommentRecord, DocumentRecord, content_hash

__all__ = [
    "Analysis", "Base", "Chunk", "Comment", "CommentRecord", "DemoTruth", "Document",
    "DocumentRecord", "DocumentTopic", "Event", "GoldLabel", "Run", "Summary", "content_hash",
    "get_engine", "session_scope",
]
