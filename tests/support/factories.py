"""Small factories that write through the same code the functions use."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from todo_common import conversations
from todo_common.conversations import CHAT_ITEM
from todo_common.db import Database
from todo_common.models import Conversation, Message


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


def all_messages(session: Session, conversation_id: str) -> list[Message]:
    statement = (
        select(Message, Conversation.turn_lease_until)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(Message.conversation_id == conversation_id, Message.item_type == CHAT_ITEM)
        .order_by(col(Message.seq))
    )
    return [conversations.settled(message, lease_until) for message, lease_until in session.exec(statement).all()]
