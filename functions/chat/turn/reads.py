"""Reading turns back: an answer as every read shows it (settled), the conversation's latest one, whether its user
asked it to stop, and the agent's context."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlmodel import Session, col, select

from functions.chat.agent.messages import ContextMessage
from functions.chat.turn import sql
from functions.chat.turn.types import STOP_REQUESTED
from todo_common import conversations
from todo_common.db import Database
from todo_common.models import Conversation, Message, utcnow


class TurnReads:
    def __init__(self, database: Database) -> None:
        self.database = database

    def answer(self, user_id: str, message_id: str) -> Message | None:
        """An answer as reads show it (settled), for a client following a running turn."""

        def work(session: Session) -> Message | None:
            row = session.exec(
                select(Message, Conversation.turn_lease_until)
                .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
                .where(Message.id == message_id, Message.user_id == user_id)
            ).first()
            return conversations.settled(row[0], row[1]) if row else None

        return self.database.read(work)

    def latest_answer(self, user_id: str, conversation_id: str) -> tuple[Message | None, Message | None]:
        """The conversation's last answer and the question before it (404/403 unless it is the user's)."""

        def work(session: Session) -> tuple[Message | None, Message | None]:
            conversation = conversations.owned_conversation(session, user_id, conversation_id)
            rows = session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.item_type == conversations.CHAT_ITEM)
                .order_by(col(Message.seq).desc())
                .limit(2)
            ).all()
            answer = next((m for m in rows if m.role == "assistant"), None)
            question = next((m for m in rows if m.role == "user" and (answer is None or m.seq < answer.seq)), None)
            settled = conversations.settled(answer, conversation.turn_lease_until) if answer else None
            return settled, question

        return self.database.read(work)

    def stop_requested(self, message_id: str) -> bool:
        query = sa.text("SELECT 1 FROM message WHERE id = :mid AND error_code = :code")
        values = {"mid": message_id, "code": STOP_REQUESTED}
        return self.database.read(lambda s: s.execute(query, values).first() is not None)


def context_rows(session: Session, conversation_id: str, history_limit: int) -> list[Row[Any]]:
    query = sa.text(sql.context_sql())
    return list(session.execute(sql.typed(query), {"cid": conversation_id, "limit": history_limit}))


def context_of(rows: list[Row[Any]], history_limit: int) -> tuple[ContextMessage, ...]:
    """The context rows (newest first, as selected) as messages, oldest first; the rows of an interrupted
    turn read as interrupted, since the claim just repaired them."""
    now = utcnow()
    messages = [context_message(row, now) for row in rows if row.id is not None]
    keep = max(0, history_limit - 1)  # the user's new message takes the last place
    return tuple(reversed(messages[:keep]))


def context_message(row: Row[Any], now: datetime) -> ContextMessage:
    """A context row as the agent reads it, settled: a `streaming` answer in a turn's context is never a live one
    (the turn's own answer is not in it), so it reads as every read shows an answer without a live lease, `error` /
    `interrupted`, as the claim's repair just made it."""
    status, error_code = conversations.settled_state(row.status, row.error_code, None, now)
    return ContextMessage(
        row.id, row.role, row.item_type, row.content, row.tool_calls, status, error_code, row.chatkit_item
    )
