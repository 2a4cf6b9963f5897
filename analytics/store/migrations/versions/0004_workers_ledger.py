"""Workers that never pay twice: run heartbeats, score claims, shared budget pools and
rate buckets, and the ledger of paid LLM requests.

- ``runs.heartbeat_at``, ``runs.host``, ``runs.pid``: a running run beats; one whose process
  died is found by its silent heartbeat and marked ``stopped``.
- ``score_claims``: the documents a running scoring run has taken (one run per document).
- ``budget_pools`` / ``budget_holds``: a cost cap shared by every process, with what each run
  holds in reservations (released when a run dies).
- ``rate_buckets``: request/token buckets of an endpoint shared by every process.
- ``llm_calls``: one row per request sent to a paid endpoint (timeouts included).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("host", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_table(
        "score_claims",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_hash", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "model", "prompt_hash"),
    )
    op.create_index("ix_score_claims_run", "score_claims", ["run_id"])
    op.create_table(
        "budget_pools",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("limit_usd", sa.Float(), nullable=True),
        sa.Column("spent_usd", sa.Float(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "budget_holds",
        sa.Column("pool", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("reserved_usd", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["pool"], ["budget_pools.name"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool", "run_id"),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("requests", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("possibly_billed", sa.Boolean(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_llm_calls_run", "llm_calls", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_llm_calls_run", table_name="llm_calls")
    op.drop_table("llm_calls")
    op.drop_table("rate_buckets")
    op.drop_table("budget_holds")
    op.drop_table("budget_pools")
    op.drop_index("ix_score_claims_run", table_name="score_claims")
    op.drop_table("score_claims")
    op.drop_index("ix_runs_status", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("heartbeat_at")
