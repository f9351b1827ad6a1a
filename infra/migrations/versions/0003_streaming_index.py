"""A partial index on the answers being written: the repair a claim runs stays an index probe on long conversations.

Revision ID: 0003_streaming_index
Revises: 0002_turn_owner
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_streaming_index"
down_revision: str | None = "0002_turn_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STREAMING = sa.text("status = 'streaming'")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Built without blocking the turns writing to the table meanwhile (CONCURRENTLY runs outside a transaction).
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_message_streaming",
                "message",
                ["conversation_id"],
                postgresql_where=STREAMING,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        op.create_index("ix_message_streaming", "message", ["conversation_id"], sqlite_where=STREAMING)


def downgrade() -> None:
    op.drop_index("ix_message_streaming", table_name="message")
