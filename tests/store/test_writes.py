import datetime as dt

from sqlalchemy import func, select, text

from analytics.store import Comment, Document, session_scope
from analytics.store.engine import get_engine
from analytics.store.records import CommentRecord, DocumentRecord
from analytics.store.writes import upsert_documents


def _record(external_id="a1", text="NATO allies met.", comments=2, **extra):
    return DocumentRecord(
        source="news", provider="test", external_id=external_id, topic="nato",
        published_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), text=text, title="T",
        comments=[CommentRecord(external_id=f"c{i}", text=f"comment {i}") for i in range(comments)],
        **extra,
    )


def test_sqlite_uses_wal(settings):
    with get_engine(settings.database_url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_round_trip_keeps_fields_and_utc(settings):
    with session_scope() as session:
        upsert_documents(session, [_record(url="https://x.test/a", meta={"k": 1})])
    with session_scope() as session:
        doc = session.scalar(select(Document))
        assert (doc.source, doc.external_id, doc.url, doc.meta) == ("news", "a1", "https://x.test/a", {"k": 1})
        assert doc.published_at.replace(tzinfo=dt.UTC) == dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
        assert [c.text for c in doc.comments] == ["comment 0", "comment 1"]


def test_upsert_is_idempotent(settings):
    for _ in range(3):
        with session_scope() as session:
            counts = upsert_documents(session, [_record("a1"), _record("a2", text="Other text")])
    assert counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 2, "duplicate": 0}
    with session_scope() as session:
        assert session.scalar(select(func.count(Document.id))) == 2
        assert session.scalar(select(func.count(Comment.id))) == 4


def test_changed_content_updates_in_place(settings):
    with session_scope() as session:
        upsert_documents(session, [_record("a1")])
    with session_scope() as session:
        counts = upsert_documents(session, [_record("a1", text="Edited text", comments=3)])
    assert counts.updated == 1
    with session_scope() as session:
        doc = session.scalar(select(Document))
        assert doc.text == "Edited text" and len(doc.comments) == 3


def test_same_content_under_new_id_is_linked_as_duplicate(settings):
    with session_scope() as session:
        upsert_documents(session, [_record("a1", text="Syndicated wire story.")])
    with session_scope() as session:
        counts = upsert_documents(session, [_record("b7", text="  syndicated   WIRE story. ")])
    assert counts.duplicate == 1
    with session_scope() as session:
        original, copy = session.scalars(select(Document).order_by(Document.id)).all()
        assert copy.duplicate_of == original.id


def test_failed_batch_writes_nothing(settings):
    try:
        with session_scope() as session:
            upsert_documents(session, [_record("a1")])
            raise RuntimeError("crash mid-batch")
    except RuntimeError:
        pass
    with session_scope() as session:
        assert session.scalar(select(func.count(Document.id))) == 0
