"""Files a user uploads for a ChatKit message: pending until a message attaches them, deleted with their
conversation.

Revision ID: 0006_attachment
Revises: 0005_message_reasoning
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_attachment"
down_revision: str | None = "0005_message_reasoning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("mime_type", sa.String(127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
        sa.CheckConstraint("kind IN ('image', 'file')", name="ck_attachment_kind"),
        sa.CheckConstraint("status IN ('pending', 'attached')", name="ck_attachment_status"),
    )
    op.create_index("ix_attachment_user", "attachment", ["user_id", "created_at"])
    op.create_index("ix_attachment_conversation", "attachment", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_attachment_conversation", table_name="attachment")
    op.drop_index("ix_attachment_user", table_name="attachment")
    op.drop_table("attachment")
