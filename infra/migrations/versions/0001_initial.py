"""Conversations, messages and tasks.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from todo_common.models import UTCDateTime

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("turn_lease_until", UTCDateTime(), nullable=True),
        sa.Column("chatkit", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_conversation_user_recent", "conversation", ["user_id", "updated_at", "id"])

    op.create_table(
        "message",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("conversation.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("item_type", sa.String(32), nullable=False, server_default="message"),
        sa.Column("content", sa.Text(), nullable=False, server_default=""),
        sa.Column("tool_calls", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="complete"),
        sa.Column("client_message_id", sa.String(128), nullable=True),
        sa.Column("chatkit_item", sa.JSON(), nullable=True),
        sa.Column("feedback", sa.String(16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_message_conversation_seq"),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_message_role"),
        sa.CheckConstraint("status IN ('streaming', 'complete', 'error')", name="ck_message_status"),
    )
    op.create_index("ix_message_user_recent", "message", ["user_id", "created_at"])
    op.create_index(
        "uq_message_client_id",
        "message",
        ["user_id", "client_message_id"],
        unique=True,
        postgresql_where=sa.text("client_message_id IS NOT NULL"),
        sqlite_where=sa.text("client_message_id IS NOT NULL"),
    )

    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("completed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_task_user_id", "task", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_task_user_id", table_name="task")
    op.drop_table("task")
    op.drop_index("uq_message_client_id", table_name="message")
    op.drop_index("ix_message_user_recent", table_name="message")
    op.drop_table("message")
    op.drop_index("ix_conversation_user_recent", table_name="conversation")
    op.drop_table("conversation")
