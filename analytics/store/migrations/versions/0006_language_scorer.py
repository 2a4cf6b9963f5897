"""Which scorer produced an analysis.

- ``analyses.scorer_version``: e.g. ``zero-shot-0.9.0+attitude-1-1a2b3c4d`` (the offline
  backend's zero-shot prototype scorer and the learned attitude model, by the first 8 hex
  digits of its weights' SHA-256). The cache key (``prompt_hash``) changes with it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _has_analyses() -> bool:
    # a database made by create_all before migrations existed may lack the table
    return "analyses" in sa.inspect(op.get_bind()).get_table_names()


def upgrade() -> None:
    if _has_analyses():
        with op.batch_alter_table("analyses") as batch:
            batch.add_column(sa.Column("scorer_version", sa.String(length=128), nullable=True))


def downgrade() -> None:
    if _has_analyses():
        with op.batch_alter_table("analyses") as batch:
            batch.drop_column("scorer_version")
