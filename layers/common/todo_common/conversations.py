"""Conversations and their messages, always as seen by one user.

Every function here takes the authenticated user id and filters on it; a conversation of someone else answers
403 (the product's rule), an unknown id 404. Queries are keyset scans on the indexes of `models`, and the common
case of each costs one round trip: ownership is checked inside the data query, and only an empty answer costs a
second look to tell "not yours" from "not there".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from todo_common import keyset
from todo_common.clip import clip
from todo_common.db import Database
from todo_common.errors import forbidden, not_found
from todo_common.files import FileStore
from todo_common.models import PREVIEW_MAX, Attachment, Conversation, Message, table_of, utcnow
from todo_common.pagination import decode_cursor, encode_cursor, invalid_cursor
from todo_common.text import contains_pattern

T = TypeVar("T")
CHAT_ITEM = "message"
# The one order of conversation lists (history and ChatKit's thread list): last activity, a message or a rename.
RECENT = (col(Conversation.updated_at), col(Conversation.id))
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class ConversationSummary:
    """A conversation as lists show it: its row plus a preview of its last message."""

    id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    preview: str | None

    @classmethod
    def of(cls, conversation: Conversation, last_content: str | None) -> ConversationSummary:
        return cls(
            id=conversation.id,
            title=conversation.title,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            message_count=conversation.message_count,
            preview=make_preview(last_content),
        )

    @classmethod
    def of_row(cls, row: sa.Row[Any]) -> ConversationSummary:
        return cls(row.id, row.title, row.created_at, row.updated_at, row.message_count, make_preview(row.last))


# The columns a read needs, selected with Core: no ORM identity map, no model instances, one conversion later.
_CONVERSATION = table_of(Conversation)
_MESSAGE_TABLE = table_of(Message)
_SUMMARY_COLUMNS = (
    _CONVERSATION.c.id,
    _CONVERSATION.c.user_id,
    _CONVERSATION.c.title,
    _CONVERSATION.c.created_at,
    _CONVERSATION.c.updated_at,
    _CONVERSATION.c.message_count,
)
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "role",
    "content",
    "tool_calls",
    "status",
    "error_code",
    "client_message_id",
    "created_at",
)
_MESSAGE_COLUMNS = tuple(_MESSAGE_TABLE.c[name] for name in (*MESSAGE_FIELDS, "seq"))


def _last_content() -> sa.ScalarSelect[Any]:
    """The start of the conversation's last chat message: one index probe on (conversation_id, seq) per row."""
    return (
        select(sa.func.substr(col(Message.content), 1, PREVIEW_MAX * 2))
        .where(Message.conversation_id == Conversation.id, Message.item_type == CHAT_ITEM)
        .order_by(col(Message.seq).desc())
        .limit(1)
        .scalar_subquery()
    )


def create_conversation(
    session: Session, user_id: str, *, title: str | None = None, conversation_id: str | None = None
) -> Conversation:
    conversation = Conversation(user_id=user_id, title=title)
    if conversation_id is not None:
        conversation.id = conversation_id
    session.add(conversation)
    session.flush()
    return conversation


def owned_conversation(
    session: Session, user_id: str, conversation_id: str, *, for_update: bool = False
) -> Conversation:
    statement = select(Conversation).where(Conversation.id == conversation_id)
    if for_update:
        statement = statement.with_for_update()
    conversation = session.exec(statement).first()
    require_owner(conversation.user_id if conversation else None, user_id)
    assert conversation is not None
    return conversation


def check_owned(db: Session | Connection, user_id: str, conversation_id: str) -> None:
    """Raise 404/403 unless the conversation exists and is the user's (the slow path after an empty result)."""
    owner = _connection(db).execute(sa.select(_CONVERSATION.c.user_id).where(_CONVERSATION.c.id == conversation_id))
    require_owner(owner.scalar(), user_id)


def require_owner(owner: str | None, user_id: str) -> None:
    """The product's rule: an unknown conversation is 404, another user's is 403."""
    if owner is None:
        raise not_found("The conversation")
    if owner != user_id:
        raise forbidden("This conversation belongs to another user.")


def conversation_summary(db: Session | Connection, user_id: str, conversation_id: str) -> ConversationSummary:
    row = _connection(db).execute(_summary_statement(), {"cid": conversation_id}).first()
    require_owner(row.user_id if row else None, user_id)
    assert row is not None
    return ConversationSummary.of_row(row)


def list_conversations(
    db: Session | Connection, user_id: str, *, limit: int, cursor: str | None = None, query: str | None = None
) -> Page[ConversationSummary]:
    """The user's conversations, most recently updated first; `query` matches titles and message text."""
    values: dict[str, Any] = {"uid": user_id, "limit": limit + 1}
    if cursor:
        position = decode_cursor(cursor, u=datetime, i=str)
        values["after_u"], values["after_i"] = position["u"], position["i"]
    if query:
        values["pattern"] = contains_pattern(query)
    statement = _list_statement(bool(cursor), bool(query))
    rows = [ConversationSummary.of_row(row) for row in _connection(db).execute(statement, values).all()]
    return _page(rows, limit, lambda c: encode_cursor(u=c.updated_at.isoformat(), i=c.id))


@functools.cache
def _summary_statement() -> sa.Select[Any]:
    """One conversation (`:cid`) with its preview: built once, reused (no statement or cache key per request)."""
    return sa.select(*_SUMMARY_COLUMNS, _last_content().label("last")).where(_CONVERSATION.c.id == sa.bindparam("cid"))


@functools.cache
def _list_statement(resumed: bool, searching: bool) -> sa.Select[Any]:
    """A page of the user's (`:uid`) conversations, after (`:after_u`, `:after_i`) when `resumed`, matching
    `:pattern` when `searching`: built once per shape, reused."""
    table = _CONVERSATION.c
    statement = sa.select(*_SUMMARY_COLUMNS, _last_content().label("last")).where(table.user_id == sa.bindparam("uid"))
    if resumed:
        position = sa.tuple_(
            sa.bindparam("after_u", type_=table.updated_at.type), sa.bindparam("after_i", type_=table.id.type)
        )
        statement = statement.where(keyset.after(RECENT, [position], "desc"))
    if searching:
        pattern = sa.bindparam("pattern", type_=sa.Text())
        in_messages = (
            select(Message.id)
            .where(Message.conversation_id == Conversation.id, col(Message.content).ilike(pattern, escape="\\"))
            .exists()
        )
        statement = statement.where(sa.or_(table.title.ilike(pattern, escape="\\"), in_messages))
    return statement.order_by(*keyset.ordered(RECENT, "desc")).limit(sa.bindparam("limit"))


def list_messages(
    db: Session | Connection,
    user_id: str,
    conversation_id: str,
    *,
    limit: int,
    cursor: str | None = None,
    order: keyset.Order = "asc",
) -> Page[dict[str, Any]]:
    """One page of a conversation's messages in `seq` order, each the `MESSAGE_FIELDS` of its row (and `seq`); a
    cursor resumes exactly after its row. An answer whose turn died shows as interrupted (see `settled`)."""
    values: dict[str, Any] = {"cid": conversation_id, "uid": user_id, "limit": limit + 1}
    if cursor:
        position = decode_cursor(cursor, s=int, o=str)
        if position["o"] != order:
            raise invalid_cursor()
        values["seq"] = position["s"]
    rows = _settled_rows(_connection(db).execute(_page_statement(order, bool(cursor)), values))
    if not rows:
        check_owned(db, user_id, conversation_id)
    return _page(rows, limit, lambda m: encode_cursor(s=m["seq"], o=order))


def _messages() -> sa.Select[Any]:
    """A conversation's (`:cid`) chat messages with its lease, which decides whether a `streaming` row is live."""
    conversation = _CONVERSATION
    return (
        sa.select(*_MESSAGE_COLUMNS, conversation.c.turn_lease_until)
        .join_from(_MESSAGE_TABLE, conversation, conversation.c.id == _MESSAGE_TABLE.c.conversation_id)
        .where(_MESSAGE_TABLE.c.conversation_id == sa.bindparam("cid"), _MESSAGE_TABLE.c.item_type == CHAT_ITEM)
    )


@functools.cache
def _page_statement(order: keyset.Order, resumed: bool) -> sa.Select[Any]:
    """A page of the user's (`:uid`) messages, after `:seq` when `resumed`: built once per shape, reused."""
    seq = _MESSAGE_TABLE.c.seq
    statement = _messages().where(_MESSAGE_TABLE.c.user_id == sa.bindparam("uid"))
    if resumed:
        statement = statement.where(keyset.after([seq], [sa.bindparam("seq")], order))
    return statement.order_by(*keyset.ordered([seq], order)).limit(sa.bindparam("limit"))


@functools.cache
def _export_statement(resumed: bool) -> sa.Select[Any]:
    seq = _MESSAGE_TABLE.c.seq
    statement = _messages().where(seq > sa.bindparam("seq")) if resumed else _messages()
    return statement.order_by(seq).limit(sa.bindparam("limit"))


def _connection(db: Session | Connection) -> Connection:
    """The connection a Core read runs on: the one given, or the session's (the history pages pass no session)."""
    return db if isinstance(db, Connection) else db.connection()


def _settled_rows(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """Rows as `settled` shows messages: a `streaming` one without a live lease reads as interrupted."""
    now = utcnow()
    keys = tuple(result.keys())
    found = []
    for row in result.all():  # zipped with the keys once: a RowMapping per row costs more than the dict
        message = dict(zip(keys, row, strict=True))
        lease_until = message.pop("turn_lease_until")
        message["status"], message["error_code"] = settled_state(
            message["status"], message["error_code"], lease_until, now
        )
        found.append(message)
    return found


def died_mid_answer(status: str, lease_until: datetime | None, now: datetime) -> bool:
    """A `streaming` answer whose conversation holds no live lease: its turn is gone."""
    return status == "streaming" and (lease_until is None or lease_until <= now)


def settled_state(
    status: str, error_code: str | None, lease_until: datetime | None, now: datetime
) -> tuple[str, str | None]:
    """A message's (status, error_code) as every read shows them: `error` / `interrupted` for an answer whose turn
    died mid-answer (see `died_mid_answer`), no code for one still being written (what is stored there is a request
    to its turn, such as a stop, not an outcome), else as stored."""
    if died_mid_answer(status, lease_until, now):
        return "error", INTERRUPTED
    return (status, None) if status == "streaming" else (status, error_code)


def settled(message: Message, lease_until: datetime | None, now: datetime | None = None) -> Message:
    """The message as every read shows it: a `streaming` answer whose conversation holds no live lease belongs to
    a turn that died (a crash, a timeout), so it reads as `error` / `interrupted`, partial text kept. The row itself
    is repaired by the next turn that takes the lease."""
    status, error_code = settled_state(message.status, message.error_code, lease_until, now or utcnow())
    if (status, error_code) == (message.status, message.error_code):
        return message
    shown = message.model_copy()
    shown.status, shown.error_code = status, error_code
    return shown


def export_page(session: Session, conversation_id: str, *, after_seq: int | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` of a conversation's messages after `after_seq`, in `seq` order, settled: one keyset page of
    an export that never holds the whole conversation (the caller has checked ownership)."""
    values: dict[str, Any] = {"cid": conversation_id, "limit": limit, "seq": after_seq}
    return _settled_rows(session.connection().execute(_export_statement(after_seq is not None), values))


def stored_size(session: Session, conversation_id: str) -> tuple[int, int]:
    """How many chat messages a conversation holds and the characters of their text and tool calls."""
    message = _MESSAGE_TABLE.c
    per_row = sa.func.length(message.content) + sa.func.length(sa.cast(message.tool_calls, sa.Text))
    statement = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(per_row), 0)).where(
        message.conversation_id == conversation_id, message.item_type == CHAT_ITEM
    )
    count, chars = session.connection().execute(statement).one()
    return int(count), int(chars)


def rename_conversation(session: Session, user_id: str, conversation_id: str, title: str) -> Conversation:
    conversation = owned_conversation(session, user_id, conversation_id)
    conversation.title = title
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    return conversation


def delete_conversation(session: Session, user_id: str, conversation_id: str) -> list[str]:
    """Delete the user's conversation with its messages and attachments; the storage keys of the files of those
    attachments, for the caller to delete once this is committed."""
    owned_conversation(session, user_id, conversation_id, for_update=True)
    keys = (
        session.execute(
            sa.delete(Attachment)
            .where(col(Attachment.conversation_id) == conversation_id)
            .returning(col(Attachment.storage_key))
        )
        .scalars()
        .all()
    )
    session.execute(sa.delete(Message).where(col(Message.conversation_id) == conversation_id))
    session.execute(sa.delete(Conversation).where(col(Conversation.id) == conversation_id))
    return [str(key) for key in keys]


def delete_conversation_and_files(database: Database, files: FileStore, user_id: str, conversation_id: str) -> None:
    """Delete the user's conversation (403/404 as `owned_conversation`), then its attachments' files: after the
    commit, so a delete that fails or is refused never loses a file a kept message shows."""
    keys = database.write(lambda session: delete_conversation(session, user_id, conversation_id))
    if keys:
        files.delete(keys)


def append_message(
    session: Session,
    conversation: Conversation,
    *,
    role: str,
    content: str,
    status: str = "complete",
    tool_calls: Sequence[dict[str, Any]] = (),
    client_message_id: str | None = None,
    item_type: str = CHAT_ITEM,
    chatkit_item: dict[str, Any] | None = None,
) -> Message:
    """A message after the conversation's last, for seeding sample data (the chat function writes its rows through
    its turn store): its seq, and the message count of a chat message, in one statement."""
    now = utcnow()
    counted = 1 if item_type == CHAT_ITEM else 0
    seq = session.execute(
        sa.update(Conversation)
        .where(col(Conversation.id) == conversation.id)
        .values(last_seq=Conversation.last_seq + 1, message_count=Conversation.message_count + counted, updated_at=now)
        .returning(col(Conversation.last_seq))
    ).scalar_one()
    message = Message(
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        seq=int(seq),
        role=role,
        item_type=item_type,
        content=content,
        tool_calls=list(tool_calls),
        status=status,
        client_message_id=client_message_id,
        chatkit_item=chatkit_item,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    session.flush()
    return message


def make_preview(content: str | None) -> str | None:
    return clip(content, PREVIEW_MAX) if content else None


def _page(rows: list[T], limit: int, cursor_of: Any) -> Page[T]:
    page, more = keyset.split(rows, limit)
    return Page(items=page, next_cursor=cursor_of(page[-1]) if more else None)
