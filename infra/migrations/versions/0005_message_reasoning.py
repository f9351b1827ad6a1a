"""An answer keeps the reasoning summaries its model streamed, to show them again after a reload.

Revision ID: 0005_message_reasoning
Revises: 0004_usage
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_message_reasoning"
down_revision: str | None = "0004_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("reasoning", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("reasoning")
