"""Small factories that write through the same code the functions use."""

from __future__ import annotations

from collections.abc import Container
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from todo_common import conversations
from todo_common.conversations import CHAT_ITEM
from todo_common.db import Database
from todo_common.models import Conversation, Message, Task, table_of, utcnow


def seed_conversation(
    database: Database, user_id: str, *, title: str | None = "Groceries", messages: int = 0, **fields: Any
) -> Conversation:
    def work(session: Any) -> Conversation:
        conversation = conversations.create_conversation(session, user_id, title=title)
        for index in range(messages):
            role = "user" if index % 2 == 0 else "assistant"
            conversations.append_message(session, conversation, role=role, content=f"message {index}", **fields)
        session.refresh(conversation)
        return conversation

    return database.write(work)


def add_message(database: Database, conversation_id: str, content: str, role: str = "user", **fields: Any) -> Message:
    def work(session: Any) -> Message:
        conversation = session.get(Conversation, conversation_id)
        return conversations.append_message(session, conversation, role=role, content=content, **fields)

    return database.write(work)


def seed_tasks(database: Database, user: str, *titles: str, completed: bool | Container[int] = False) -> list[int]:
    """Tasks of `user` with these titles, written in one statement, their ids in order; `completed`: all of them, or
    the positions (from 1) of those done."""
    now = utcnow()

    def done(n: int) -> bool:
        return completed if isinstance(completed, bool) else n in completed

    rows = [
        {"user_id": user, "title": title, "description": "", "completed": done(n), "created_at": now, "updated_at": now}
        for n, title in enumerate(titles, 1)
    ]
    task = table_of(Task)
    insert = sa.insert(task).returning(task.c.id, sort_by_parameter_order=True)
    return database.write(lambda session: list(session.connection().execute(insert, rows).scalars()))


def numbered(count: int) -> list[str]:
    """Task titles "task 1" to "task `count`"."""
    return [f"task {n}" for n in range(1, count + 1)]


def all_messages(session: Session, conversation_id: str) -> list[Message]:
    statement = (
        select(Message, Conversation.turn_lease_until)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(Message.conversation_id == conversation_id, Message.item_type == CHAT_ITEM)
        .order_by(col(Message.seq))
    )
    return [conversations.settled(message, lease_until) for message, lease_until in session.exec(statement).all()]


_FILL_POSTGRES = """
INSERT INTO message (id, conversation_id, user_id, seq, role, item_type, content, tool_calls, status,
                     created_at, updated_at)
SELECT CAST(:cid AS text) || '_' || s, :cid, :uid, c.last_seq + s, CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END,
       'message', 'Message ' || s || ': remember to buy milk, eggs and bread before the weekend', '[]', 'complete',
       now() - interval '1 day' + make_interval(secs => s / 1000.0), now() - interval '1 day'
  FROM conversation c CROSS JOIN generate_series(1, :count) AS s
 WHERE c.id = :cid;
UPDATE conversation SET last_seq = last_seq + :count, message_count = message_count + :count WHERE id = :cid;
"""


def fill_conversation(url: str, conversation_id: str, user_id: str, count: int) -> None:
    """Append `count` finished messages (a day old) to a PostgreSQL conversation in one INSERT ... SELECT, then
    ANALYZE, as a long-lived conversation looks to the planner."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in filter(str.strip, _FILL_POSTGRES.split(";")):
                connection.execute(sa.text(statement), {"cid": conversation_id, "uid": user_id, "count": count})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE conversation"))
            connection.execute(sa.text("ANALYZE message"))
    finally:
        engine.dispose()
