"""Passage vectors in pgvector on PostgreSQL.

On PostgreSQL whose server has the ``vector`` extension (``pg_available_extensions``):
``CREATE EXTENSION IF NOT EXISTS vector``, ``chunks.embedding_vector vector(384)``
(nullable) backfilled from the stored MiniLM bytes, and an HNSW index with cosine distance
(``ix_chunks_embedding_hnsw``). On SQLite, and on a server without pgvector, nothing changes
here (retrieval stays brute force); ``store.migrate`` enables the vectors at a later start
once the server has the extension. The work is ``store.passages.enable_vectors``
(idempotent), shared with that start-up check.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

from analytics.store.passages import disable_vectors, enable_vectors

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    enable_vectors(op.get_bind())


def downgrade() -> None:
    disable_vectors(op.get_bind())
