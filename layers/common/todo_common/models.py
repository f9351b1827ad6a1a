"""Table models. They never go on the wire: each function answers with its own `...Public` models.

Ordering is by keys that cannot tie: conversations by (updated_at, id), messages by their per-conversation
sequence number `seq`, handed out by the conversation row (which also counts the messages, so the history list
needs no aggregate over the message table). `turn_lease_until` is set while a chat turn runs in the conversation:
turns sent at once are serialized on it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field as Constraint
from pydantic import StrictInt
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

TITLE_MAX = 200
DESCRIPTION_MAX = 1000
PREVIEW_MAX = 160
ATTACHMENT_NAME_MAX = 255
# The largest value an INTEGER column (task ids, message `seq`) holds: a number past it is no id, and PostgreSQL
# would refuse it only once it reached the database.
INTEGER_MAX = 2**31 - 1
# A task id as it comes from outside (a widget's payload, a mention's data): a JSON integer the column can hold.
TaskId = Annotated[StrictInt, Constraint(ge=1, le=INTEGER_MAX)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """An id in ChatKit's `prefix_…` format with 128 random bits."""
    return f"{prefix}_{secrets.token_hex(16)}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone; it gets naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversation"
    __table_args__ = (sa.Index("ix_conversation_user_recent", "user_id", "updated_at", "id"),)

    id: str = Field(default_factory=lambda: new_id("thr"), primary_key=True, max_length=64)
    user_id: str = Field(max_length=255)
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    message_count: int = Field(default=0)
    last_seq: int = Field(default=0)
    turn_lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    turn_owner: str | None = Field(default=None, max_length=64)
    chatkit: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "message"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "seq", name="uq_message_conversation_seq"),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_message_role"),
        sa.CheckConstraint("status IN ('streaming', 'complete', 'error')", name="ck_message_status"),
        sa.Index("ix_message_user_recent", "user_id", "created_at"),
        # The answers being written (a handful at any time): a claim's repair finds them without reading the
        # conversation, however long it is.
        sa.Index(
            "ix_message_streaming",
            "conversation_id",
            postgresql_where=sa.text("status = 'streaming'"),
            sqlite_where=sa.text("status = 'streaming'"),
        ),
        sa.Index(
            "uq_message_client_id",
            "user_id",
            "client_message_id",
            unique=True,
            postgresql_where=sa.text("client_message_id IS NOT NULL"),
            sqlite_where=sa.text("client_message_id IS NOT NULL"),
        ),
    )

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True, max_length=64)
    conversation_id: str = Field(max_length=64, sa_column_args=[sa.ForeignKey("conversation.id", ondelete="CASCADE")])
    user_id: str = Field(max_length=255)
    seq: int
    role: str = Field(max_length=16)
    item_type: str = Field(default="message", max_length=32)
    content: str = Field(default="", sa_type=sa.Text)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # The model's reasoning summaries for an answer (functions/chat/turn/thoughts.py), in the order they came.
    reasoning: list[dict[str, Any]] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs={"server_default": sa.text("'[]'")}
    )
    status: str = Field(default="complete", max_length=16)
    error_code: str | None = Field(default=None, max_length=32)
    client_message_id: str | None = Field(default=None, max_length=128)
    chatkit_item: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    feedback: str | None = Field(default=None, max_length=16)
    input_tokens: int | None = None  # the model's usage for an answer, as the Agents SDK reported it
    output_tokens: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (sa.Index("ix_task_user_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=255)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX, sa_type=sa.Text)
    completed: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attachment(SQLModel, table=True):
    """A file a user uploads for a message: `pending` from ChatKit's `attachments.create` until a message of theirs
    attaches it to its conversation (`attached`), deleted with that conversation. The bytes are in the file store
    (`todo_common.files`) under `storage_key`."""

    __tablename__ = "attachment"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('image', 'file')", name="ck_attachment_kind"),
        sa.CheckConstraint("status IN ('pending', 'attached')", name="ck_attachment_status"),
        sa.Index("ix_attachment_user", "user_id", "created_at"),
        sa.Index("ix_attachment_conversation", "conversation_id"),
    )

    id: str = Field(default_factory=lambda: new_id("atc"), primary_key=True, max_length=64)
    user_id: str = Field(max_length=255)
    conversation_id: str | None = Field(
        default=None, max_length=64, sa_column_args=[sa.ForeignKey("conversation.id", ondelete="CASCADE")]
    )
    name: str = Field(max_length=ATTACHMENT_NAME_MAX)
    mime_type: str = Field(max_length=127)
    size: int = Field(sa_type=sa.BigInteger)
    kind: str = Field(max_length=8)
    storage_key: str = Field(max_length=255)
    status: str = Field(default="pending", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's Core table (SQLModel declares `__table__` on each table class, not on `SQLModel`)."""
    table = getattr(model, "__table__", None)
    if not isinstance(table, sa.Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


class RateWindow(SQLModel, table=True):
    """How many requests of a kind a user made in the current minute (the chat function's rate limits of what
    stores no message: MCP tool calls, widget actions)."""

    __tablename__ = "rate_window"
    __table_args__ = (sa.PrimaryKeyConstraint("user_id", "kind", name="pk_rate_window"),)

    user_id: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    window_start: int = Field(sa_type=sa.BigInteger)  # the minute, as seconds since the epoch // 60
    count: int
