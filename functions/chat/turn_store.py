"""The database side of a chat turn: start it (lease, rate limit, messages), record its progress, finish it.

A turn holds a lease on its conversation (`turn_lease_until`) from start to finish, so two turns sent at once to
one conversation run one after the other and never interleave. The lease lives in a column, not in a session-level
lock, because production talks to PgBouncer in transaction mode. A turn that dies without finishing (a Lambda
timeout) blocks its conversation only until the lease expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from todo_common import conversations
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message, new_id, utcnow

TITLE_FROM_MESSAGE_CHARS = 60


class ConversationBusy(Exception):
    """Another turn holds the conversation's lease."""


@dataclass(frozen=True)
class TurnStart:
    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    context: list[Message]
    created_conversation: bool


@dataclass(frozen=True)
class StoredTurn:
    """A turn found again through its `client_message_id`: nothing new is written."""

    conversation_id: str
    user_message: Message
    assistant_message: Message | None


class TurnStore:
    def __init__(
        self, database: Database, *, history_limit: int, rate_limit_per_minute: int, lease_seconds: int = 180
    ) -> None:
        self.database = database
        self.history_limit = history_limit
        self.rate_limit_per_minute = rate_limit_per_minute
        self.lease = timedelta(seconds=lease_seconds)

    # -- starting ------------------------------------------------------------------------------------------

    def find_by_client_id(self, user_id: str, client_message_id: str) -> StoredTurn | None:
        return self.database.read(lambda session: _stored_turn(session, user_id, client_message_id))

    def start(
        self, user_id: str, conversation_id: str | None, text: str, *, client_message_id: str | None = None
    ) -> TurnStart:
        """Take the lease, commit the user's message and an empty assistant message (status `streaming`), and
        load the agent's context; all in one transaction. Raises `ConversationBusy` while another turn runs."""

        def work(session: Session) -> TurnStart:
            created = conversation_id is None
            if conversation_id is None:
                conversation = conversations.create_conversation(session, user_id, title=title_from(text))
            else:
                conversation = conversations.owned_conversation(session, user_id, conversation_id)
            self._check_rate(session, user_id)
            self._take_lease(session, conversation.id)
            user_message = conversations.append_message(
                session, conversation, role="user", content=text, client_message_id=client_message_id
            )
            assistant = conversations.append_message(
                session, conversation, role="assistant", content="", status="streaming"
            )
            context = conversations.recent_messages(session, conversation, self.history_limit + 1)
            return TurnStart(
                conversation_id=conversation.id,
                user_message_id=user_message.id,
                assistant_message_id=assistant.id,
                context=[m for m in context if m.id != assistant.id],
                created_conversation=created,
            )

        return self.database.write(work)

    def start_reply(self, user_id: str, conversation_id: str) -> TurnStart:
        """For ChatKit, which stores the user's message itself: the assistant message and the context only
        (the caller already holds the lease)."""

        def work(session: Session) -> TurnStart:
            conversation = conversations.owned_conversation(session, user_id, conversation_id)
            assistant = conversations.append_message(
                session, conversation, role="assistant", content="", status="streaming"
            )
            context = [
                m
                for m in conversations.recent_messages(session, conversation, self.history_limit + 1)
                if m.id != assistant.id
            ]
            last_user = next((m.id for m in reversed(context) if m.role == "user"), "")
            return TurnStart(conversation.id, last_user, assistant.id, context, created_conversation=False)

        return self.database.write(work)

    def acquire(self, user_id: str, conversation_id: str, *, count_toward_rate: bool) -> None:
        """Take the conversation's lease for a ChatKit request (ownership checked first)."""

        def work(session: Session) -> None:
            conversations.owned_conversation(session, user_id, conversation_id)
            if count_toward_rate:
                self._check_rate(session, user_id)
            self._take_lease(session, conversation_id)

        self.database.write(work)

    def check_rate(self, user_id: str) -> None:
        self.database.read(lambda session: self._check_rate(session, user_id))

    def release(self, conversation_id: str) -> None:
        self.database.write(
            lambda session: session.execute(
                sa.update(Conversation).where(col(Conversation.id) == conversation_id).values(turn_lease_until=None)
            )
        )

    # -- progress and end ----------------------------------------------------------------------------------

    def save_progress(self, message_id: str, content: str, tool_calls: Sequence[dict[str, Any]]) -> None:
        self._update_message(message_id, content=content, tool_calls=list(tool_calls))

    def finish(
        self,
        message_id: str,
        *,
        content: str,
        tool_calls: Sequence[dict[str, Any]],
        status: str,
        chatkit_item: dict[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"content": content, "tool_calls": list(tool_calls), "status": status}
        if chatkit_item is not None:
            values["chatkit_item"] = chatkit_item
        self._update_message(message_id, **values)

    def _update_message(self, message_id: str, **values: Any) -> None:
        values["updated_at"] = utcnow()
        self.database.write(
            lambda session: session.execute(sa.update(Message).where(col(Message.id) == message_id).values(**values))
        )

    # -- rules ---------------------------------------------------------------------------------------------

    def _check_rate(self, session: Session, user_id: str) -> None:
        since = utcnow() - timedelta(minutes=1)
        statement = (
            select(sa.func.count())
            .select_from(Message)
            .where(Message.user_id == user_id, Message.role == "user", col(Message.created_at) > since)
        )
        sent = session.exec(statement).one()
        if sent >= self.rate_limit_per_minute:
            oldest = session.exec(
                select(sa.func.min(Message.created_at)).where(
                    Message.user_id == user_id, Message.role == "user", col(Message.created_at) > since
                )
            ).one()
            wait = 60 if oldest is None else max(1, int((oldest + timedelta(minutes=1) - utcnow()).total_seconds()) + 1)
            raise ApiError(
                429,
                "rate_limited",
                f"You can send {self.rate_limit_per_minute} messages a minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    def _take_lease(self, session: Session, conversation_id: str) -> None:
        now = utcnow()
        statement = (
            sa.update(Conversation)
            .where(
                col(Conversation.id) == conversation_id,
                sa.or_(col(Conversation.turn_lease_until).is_(None), col(Conversation.turn_lease_until) < now),
            )
            .values(turn_lease_until=now + self.lease)
        )
        if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
            raise ConversationBusy(conversation_id)


def _stored_turn(session: Session, user_id: str, client_message_id: str) -> StoredTurn | None:
    user_message = session.exec(
        select(Message).where(Message.user_id == user_id, Message.client_message_id == client_message_id)
    ).first()
    if user_message is None:
        return None
    assistant = session.exec(
        select(Message)
        .where(
            Message.conversation_id == user_message.conversation_id,
            col(Message.seq) > user_message.seq,
            Message.role == "assistant",
            Message.item_type == conversations.CHAT_ITEM,
        )
        .order_by(col(Message.seq))
        .limit(1)
    ).first()
    return StoredTurn(user_message.conversation_id, user_message, assistant)


def title_from(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_FROM_MESSAGE_CHARS else flat[: TITLE_FROM_MESSAGE_CHARS - 1].rstrip() + "…"


def new_message_id() -> str:
    return new_id("msg")


__all__ = ["ConversationBusy", "IntegrityError", "StoredTurn", "TurnStart", "TurnStore", "title_from"]
