"""Per-user request counters for the rate limits of what writes no message (MCP tool calls, widget actions);
the model tokens an answer used.

Revision ID: 0004_usage
Revises: 0003_streaming_index
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_usage"
down_revision: str | None = "0003_streaming_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_window",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", name="pk_rate_window"),
    )
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("input_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("output_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("output_tokens")
        batch.drop_column("input_tokens")
    op.drop_table("rate_window")
