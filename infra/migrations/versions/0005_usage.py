"""Per-user request counters for the rate limits of what writes no message (MCP tool calls, widget actions).

Revision ID: 0005_usage
Revises: 0002_turn_owner
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_usage"
down_revision: str | None = "0002_turn_owner"
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


def downgrade() -> None:
    op.drop_table("rate_window")
