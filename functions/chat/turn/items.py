"""The rows a turn shows beside its answer, written by the turn store: the items ChatKit stores (its question), the
widgets a turn shows (task cards, plain chat's delete cards) and the short answer to a confirm card. Every row goes
through `sql.message_row` and every seq through `sql.allocate_seqs`, as the answer's."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from functions.chat.turn import sql
from functions.chat.turn.types import WIDGET_ITEM, ItemRow, WidgetRow
from todo_common import conversations
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Message, new_id, utcnow


class TurnItems:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgres = database.dialect == "postgresql"

    def save_item(self, user_id: str, conversation_id: str, item: ItemRow) -> None:
        """A ChatKit item of the user's thread, upserted by id (ChatKit may add the same item twice); 409 when the id
        is another thread's, 403/404 unless the thread is the user's."""

        def work(session: Session) -> None:
            conversations.owned_conversation(session, user_id, conversation_id)
            existing = session.get(Message, item.id)
            if existing is not None:
                if existing.conversation_id != conversation_id:
                    raise ApiError(409, "conflict", "This item id belongs to another thread.")
                existing.chatkit_item = item.chatkit_item
                if item.role == "user":
                    existing.content = item.content
                existing.updated_at = utcnow()
                session.add(existing)
                return
            values = {"mid": item.id, "content": item.content, "item_type": item.item_type, "created": item.created_at}
            values["item"] = json.dumps(item.chatkit_item)
            row = sql.message_row(
                message="CAST(:mid AS varchar)",
                seq="last_seq",
                role=item.role,
                status="complete",
                content="CAST(:content AS text)",
                item_type="CAST(:item_type AS varchar)",
                chatkit_item="CAST(:item AS text)",
                created=":created",
                postgres=self.postgres,
            )
            _append(
                session, user_id, conversation_id, [row], values, messages=item.item_type == conversations.CHAT_ITEM
            )

        self.database.write(work)

    def add_widgets(self, user_id: str, conversation_id: str, widgets: Sequence[WidgetRow]) -> list[Message]:
        """Store the widgets a turn shows, after its answer, and return their rows; an id already stored is skipped
        (a replayed turn stores nothing twice). 403/404 unless the thread is the user's."""

        def work(session: Session) -> list[Message]:
            conversations.owned_conversation(session, user_id, conversation_id)
            new = [widget for widget in widgets if session.get(Message, widget.id) is None]
            if not new:
                return []
            values: dict[str, Any] = {}
            rows = []
            for index, widget in enumerate(new):
                values |= {f"widget{index}": widget.id, f"state{index}": json.dumps(widget.state)}
                rows.append(
                    sql.message_row(
                        message=f"CAST(:widget{index} AS varchar)",
                        seq=f"last_seq - {len(new) - 1 - index}",
                        role="assistant",
                        status="complete",
                        item_type=f"'{WIDGET_ITEM}'",
                        chatkit_item=f"CAST(:state{index} AS text)",
                        postgres=self.postgres,
                    )
                )
            _append(session, user_id, conversation_id, rows, values, messages=False)
            stored_rows = select(Message).where(col(Message.id).in_([w.id for w in new])).order_by(col(Message.seq))
            return list(session.exec(stored_rows).all())

        return self.database.write(work)


def add_answer(session: Session, user_id: str, conversation_id: str, content: str) -> Message:
    """A complete assistant message after the conversation's last, written in the caller's open transaction: a
    confirm card's answer commits with the card's decision, or not at all. 403/404 unless the thread is the user's."""
    conversations.owned_conversation(session, user_id, conversation_id)
    values: dict[str, Any] = {"mid": new_id("msg"), "content": content}
    row = sql.message_row(
        message="CAST(:mid AS varchar)",
        seq="last_seq",
        role="assistant",
        status="complete",
        content="CAST(:content AS text)",
        postgres=session.get_bind().dialect.name == "postgresql",
    )
    _append(session, user_id, conversation_id, [row], values, messages=True)
    return session.get_one(Message, values["mid"])


def _append(
    session: Session,
    user_id: str,
    conversation_id: str,
    rows: list[str],
    values: dict[str, Any],
    *,
    messages: bool,
) -> None:
    """Rows after the conversation's last, their seqs allocated in the same transaction."""
    values |= {"cid": conversation_id, "uid": user_id, "now": utcnow()}
    seqs = sql.allocate_seqs(len(rows), messages=len(rows) if messages else 0)
    session.execute(sql.statement(f"UPDATE conversation SET {seqs}, updated_at = :now WHERE id = :cid"), values)
    session.execute(sql.statement(f"WITH {sql.ALLOCATED} {sql.insert_messages(*rows)}"), values)
