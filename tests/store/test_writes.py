import datetime as dt

from sqlalchemy import func, select, text

from analytics.store import Comment, Document, queries, session_scope
from analytics.store.engine import get_engine
from analytics.store.records import CommentRecord, DocumentRecord
from analytics.store.writes import upsert_documents
from tests.support.databases import requires_sqlite


def _record(external_id="a1", text="NATO allies met.", comments=2, topic="nato", **extra):
    return DocumentRecord(
        source="news", provider="test", external_id=external_id, topic=topic,
        published_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), text=text, title="T",
        comments=[CommentRecord(external_id=f"c{i}", text=f"comment {i}") for i in range(comments)],
        **extra,
    )


@requires_sqlite
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
    assert counts.as_dict() == {"new": 0, "updated": 0, "unchanged": 2, "duplicate": 0,
                                "linked": 0}
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


def test_one_text_many_topics(settings):
    """The same article in two topics is stored once and linked to both."""
    from analytics.store import DocumentTopic

    with session_scope() as session:
        upsert_documents(session, [_record("a1")])
    with session_scope() as session:
        counts = upsert_documents(session, [_record("a1", topic="ukraine")])
    assert counts.linked == 1 and counts.new == 0
    with session_scope() as session:
        assert session.scalar(select(func.count(Document.id))) == 1
        topics = set(session.scalars(select(DocumentTopic.topic)))
        assert topics == {"nato", "ukraine"}
        assert session.scalar(select(func.count(Document.id)).where(
            Document.in_topic("ukraine"))) == 1


def test_migrations_upgrade_a_pre_migration_database_without_losing_rows(tmp_path):
    """A database made by create_all before migrations existed is stamped at the baseline
    and upgraded: every row is kept, the topic becomes a link."""
    import sqlite3

    from analytics.store.engine import get_engine
    from analytics.store.migrate import current_revision, head_revision
    from tests.support.paths import ROOT

    path = tmp_path / "old.db"
    baseline = (ROOT / "analytics/store/migrations/versions/0001_baseline.py").read_text()
    assert "ix_documents_topic_published" in baseline
    with sqlite3.connect(path) as old:  # the 0.1.0 schema, as create_all made it
        old.executescript(OLD_SCHEMA)
        old.execute("INSERT INTO documents (id, topic, source, provider, external_id, "
                    "published_at, text, content_hash, fetched_at, meta) VALUES (1, 'nato', "
                    "'reddit', 'reddit', 'p1', '2026-01-01', 'x', 'h', '2026-01-01', "
                    "'{\"subreddit\": \"worldnews\"}')")
        old.execute("INSERT INTO comments (document_id, external_id, text) VALUES (1, 'c1', 'y')")
    engine = get_engine(f"sqlite:///{path}")
    assert current_revision(engine) == head_revision()
    with sqlite3.connect(path) as new:
        assert new.execute("SELECT outlet FROM documents").fetchone() == ("r/worldnews",)
        assert new.execute("SELECT topic FROM document_topics").fetchone() == ("nato",)
        assert new.execute("SELECT count(*) FROM comments").fetchone() == (1,)
        # 0003: the existing text is in the new full-text index; analysts' events have a table.
        assert new.execute("SELECT rowid FROM documents_fts WHERE documents_fts MATCH 'x'"
                           ).fetchall() == [(1,)]
        assert new.execute("SELECT count(*) FROM events").fetchone() == (0,)


OLD_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, kind VARCHAR(32) NOT NULL, topic VARCHAR(64),
  provider VARCHAR(32), parameters JSON NOT NULL DEFAULT '{}', started_at DATETIME NOT NULL
  DEFAULT '2026-01-01', finished_at DATETIME, status VARCHAR(16) NOT NULL DEFAULT 'ok',
  counts JSON NOT NULL DEFAULT '{}', error TEXT, software_version VARCHAR(32));
CREATE TABLE documents (id INTEGER PRIMARY KEY, topic VARCHAR(64) NOT NULL, source VARCHAR(16)
  NOT NULL, provider VARCHAR(32) NOT NULL, external_id VARCHAR(255) NOT NULL, url TEXT,
  title TEXT, author VARCHAR(255), published_at DATETIME NOT NULL, text TEXT NOT NULL,
  lang VARCHAR(8), content_hash VARCHAR(64) NOT NULL, duplicate_of INTEGER REFERENCES
  documents(id), fetched_at DATETIME NOT NULL, run_id INTEGER REFERENCES runs(id), meta JSON
  NOT NULL, CONSTRAINT uq_documents_source_external_id UNIQUE (source, external_id));
CREATE INDEX ix_documents_content_hash ON documents (content_hash);
CREATE INDEX ix_documents_topic_published ON documents (topic, published_at);
CREATE TABLE comments (id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES
  documents(id) ON DELETE CASCADE, external_id VARCHAR(255) NOT NULL, parent_external_id
  VARCHAR(255), author VARCHAR(255), published_at DATETIME, text TEXT NOT NULL, likes INTEGER,
  CONSTRAINT uq_comments_document_external UNIQUE (document_id, external_id));
CREATE TABLE summaries (id INTEGER PRIMARY KEY, topic VARCHAR(64) NOT NULL, source VARCHAR(16)
  NOT NULL, period_start DATETIME NOT NULL, period_end DATETIME NOT NULL, backend VARCHAR(32)
  NOT NULL, model VARCHAR(128) NOT NULL, prompt_hash VARCHAR(64) NOT NULL, text TEXT NOT NULL,
  document_ids JSON NOT NULL, analysis_ids JSON NOT NULL, meta JSON NOT NULL, created_at
  DATETIME NOT NULL);
"""


def test_an_outlet_seen_under_two_sources_is_one_filter_option(settings):
    records = [DocumentRecord(source=source, provider="test", external_id=f"{source}{i}",
                              topic="nato", outlet=outlet, title="t", text="NATO",
                              published_at=dt.datetime(2026, 1, 1 + i, tzinfo=dt.UTC))
               for i, (source, outlet) in enumerate([("news", "example.org"),
                                                     ("youtube", "example.org"),
                                                     ("news", "example.org"),
                                                     ("reddit", "r/europe")])]
    with session_scope() as session:
        upsert_documents(session, records)
        outlets = queries.outlet_counts(session, "nato")
    assert outlets.to_dict("records") == [
        {"outlet": "example.org", "source": "news, youtube", "documents": 3},
        {"outlet": "r/europe", "source": "reddit", "documents": 1}]
