"""Many topics per document, outlets, and text columns sized for real data.

- ``document_topics`` links a document to every topic it belongs to (one stored text);
  existing documents keep their topic through a link, and ``documents.topic`` goes.
- ``documents.outlet``: where a document appeared (news domain, r/<subreddit>, YouTube
  channel, feed host), backfilled from what providers stored in ``meta`` and the URL.
- External ids, authors and comment ids become unbounded text (long news URLs are ids);
  ``source`` columns get room (32).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _host(url: str | None) -> str | None:
    host = urlsplit(url or "").hostname or ""
    host = host.removeprefix("www.").removeprefix("m.")
    return host or None


def _outlet(source: str, meta: dict | None, url: str | None, author: str | None) -> str | None:
    """The rule of ``analytics.ingest.outlets`` as it stood when this migration was written."""
    meta = meta or {}
    if source == "reddit" and meta.get("subreddit"):
        return f"r/{meta['subreddit']}"
    if source == "youtube":
        return author or meta.get("channel_id")
    if meta.get("domain"):
        return str(meta["domain"]).removeprefix("www.")
    if meta.get("site"):
        return str(meta["site"]).removeprefix("www.")
    if meta.get("feed"):
        return _host(meta["feed"])
    return _host(url)


def upgrade() -> None:
    op.create_table(
        "document_topics",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "topic"),
    )
    op.create_index("ix_document_topics_topic", "document_topics", ["topic", "document_id"])
    op.execute("INSERT INTO document_topics (document_id, topic, added_at) "
               "SELECT id, topic, fetched_at FROM documents")
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("outlet", sa.Text(), nullable=True))
        batch.drop_index("ix_documents_topic_published")
        batch.drop_column("topic")
        batch.alter_column("source", type_=sa.String(length=32), existing_nullable=False)
        batch.alter_column("external_id", type_=sa.Text(), existing_nullable=False)
        batch.alter_column("author", type_=sa.Text(), existing_nullable=True)
        batch.alter_column("lang", type_=sa.String(length=16), existing_nullable=True)
        batch.create_index("ix_documents_published", ["published_at"])
        batch.create_index("ix_documents_outlet", ["outlet"])
    with op.batch_alter_table("comments") as batch:
        batch.alter_column("external_id", type_=sa.Text(), existing_nullable=False)
        batch.alter_column("parent_external_id", type_=sa.Text(), existing_nullable=True)
        batch.alter_column("author", type_=sa.Text(), existing_nullable=True)
    with op.batch_alter_table("summaries") as batch:
        batch.alter_column("source", type_=sa.String(length=32), existing_nullable=False)
    _backfill_outlets()


def _backfill_outlets() -> None:
    connection = op.get_bind()
    documents = sa.table("documents", sa.column("id", sa.Integer), sa.column("source", sa.String),
                         sa.column("meta", sa.JSON), sa.column("url", sa.Text),
                         sa.column("author", sa.Text), sa.column("outlet", sa.Text))
    rows = connection.execute(sa.select(documents.c.id, documents.c.source, documents.c.meta,
                                        documents.c.url, documents.c.author)).all()
    updates = [{"row_id": r.id, "outlet": _outlet(r.source, r.meta, r.url, r.author)}
               for r in rows]
    updates = [u for u in updates if u["outlet"]]
    if updates:
        connection.execute(documents.update().where(documents.c.id == sa.bindparam("row_id"))
                           .values(outlet=sa.bindparam("outlet")), updates)


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("topic", sa.String(length=64), nullable=True))
    op.execute("UPDATE documents SET topic = (SELECT MIN(topic) FROM document_topics "
               "WHERE document_topics.document_id = documents.id)")
    with op.batch_alter_table("documents") as batch:
        batch.drop_index("ix_documents_outlet")
        batch.drop_index("ix_documents_published")
        batch.drop_column("outlet")
        batch.create_index("ix_documents_topic_published", ["topic", "published_at"])
    op.drop_index("ix_document_topics_topic", table_name="document_topics")
    op.drop_table("document_topics")
