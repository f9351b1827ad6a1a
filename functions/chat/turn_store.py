"""The database side of a chat turn: start it (lease, rate limit, messages), record its progress, finish it.

A turn holds a lease on its conversation (`turn_lease_until`) from start to finish, so two turns sent at once to
one conversation run one after the other and never interleave. The lease lives in a column, not in a session-level
lock, because production talks to PgBouncer in transaction mode. A turn that dies without finishing (a Lambda
timeout) blocks its conversation only until the lease expires.
"""

from __future__ import annotations

import json
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
from todo_common.models import Conversation, Message, UTCDateTime, new_id, utcnow

TITLE_FROM_MESSAGE_CHARS = 60


class ConversationBusy(Exception):
    """Another turn holds the conversation's lease."""


class _NotClaimed(Exception):
    """The claim matched no row: roll back whatever the transaction did so far."""


@dataclass(frozen=True)
class TurnStart:
    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    context: list[Message]


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
    ) -> TurnStart | StoredTurn:
        """Take the lease, commit the user's message and an empty assistant message (status `streaming`), and
        load the agent's context. Returns the stored turn instead when `client_message_id` was seen before;
        raises `ConversationBusy` while another turn runs, 403/404/429 as `ApiError`."""
        cid = conversation_id or new_id("thr")
        new_title = title_from(text) if conversation_id is None else None
        user_message_id, assistant_message_id = new_id("msg"), new_id("msg")
        try:
            started = self._claim(
                user_id, cid, text, client_message_id, user_message_id, assistant_message_id, new_title=new_title
            )
        except IntegrityError:
            started = False  # the client_message_id is taken: the diagnosis finds the stored turn
        if not started:
            return self._refusal(user_id, conversation_id, client_message_id)
        context = self.database.read(
            lambda session: conversations.recent_messages(session, cid, self.history_limit + 1)
        )
        return TurnStart(
            conversation_id=cid,
            user_message_id=user_message_id,
            assistant_message_id=assistant_message_id,
            context=[m for m in context if m.id != assistant_message_id],
        )

    def _claim(
        self,
        user_id: str,
        conversation_id: str,
        text: str,
        client_message_id: str | None,
        user_message_id: str,
        assistant_message_id: str,
        *,
        new_title: str | None,
    ) -> bool:
        """One conditional update takes the lease (if the conversation is the user's, free, and the user under
        the rate limit) and two seqs; the two messages are inserted with them. On PostgreSQL, in an existing
        conversation, both are one statement: a turn's start costs one round trip. A new conversation is created
        in the same transaction, so a refused turn leaves nothing behind."""
        now = utcnow()
        values = {
            "cid": conversation_id,
            "uid": user_id,
            "now": now,
            "lease": now + self.lease,
            "since": now - timedelta(minutes=1),
            "rate": self.rate_limit_per_minute,
            "user_msg": user_message_id,
            "assistant_msg": assistant_message_id,
            "text": text,
            "client_id": client_message_id,
        }
        if new_title is None and self.database.dialect == "postgresql":
            return self.database.execute(lambda session: session.execute(_CLAIM_POSTGRES, values).first()) is not None

        def work(session: Session) -> bool:
            if new_title is not None:
                conversations.create_conversation(session, user_id, title=new_title, conversation_id=conversation_id)
            seq = session.execute(_claim_update(), values).scalar_one_or_none()
            if seq is None:
                raise _NotClaimed
            session.execute(
                sa.insert(Message),
                [
                    _new_message(values, user_message_id, seq - 1, "user", text, "complete", client_message_id),
                    _new_message(values, assistant_message_id, seq, "assistant", "", "streaming", None),
                ],
            )
            return True

        try:
            return self.database.write(work)
        except _NotClaimed:
            return False

    def _refusal(self, user_id: str, conversation_id: str | None, client_message_id: str | None) -> StoredTurn:
        """Why a turn could not start: the stored turn of a retried client_message_id, or an error."""

        def diagnose(session: Session) -> StoredTurn:
            if conversation_id is not None:
                conversations.check_owned(session, user_id, conversation_id)
            if client_message_id:
                stored = _stored_turn(session, user_id, client_message_id)
                if stored is not None:
                    return stored
            self._check_rate(session, user_id)
            raise ConversationBusy(conversation_id or "new conversation")

        return self.database.read(diagnose)

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
                for m in conversations.recent_messages(session, conversation.id, self.history_limit + 1)
                if m.id != assistant.id
            ]
            last_user = next((m.id for m in reversed(context) if m.role == "user"), "")
            return TurnStart(conversation.id, last_user, assistant.id, context)

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
        self.database.execute(
            lambda session: session.execute(
                sa.update(Conversation).where(col(Conversation.id) == conversation_id).values(turn_lease_until=None)
            )
        )

    # -- progress and end ----------------------------------------------------------------------------------

    def save_progress(self, message_id: str, content: str, tool_calls: Sequence[dict[str, Any]]) -> None:
        statement = (
            sa.update(Message)
            .where(col(Message.id) == message_id)
            .values(content=content, tool_calls=list(tool_calls), updated_at=utcnow())
        )
        self.database.execute(lambda session: session.execute(statement))

    def finish(self, message_id: str, *, content: str, tool_calls: Sequence[dict[str, Any]], status: str) -> None:
        """Store the answer with its final status and release the conversation's lease (one statement on
        PostgreSQL)."""
        values = {
            "mid": message_id,
            "content": content,
            "calls": json.dumps(list(tool_calls)),
            "status": status,
            "now": utcnow(),
        }
        if self.database.dialect == "postgresql":
            self.database.execute(lambda session: session.execute(_FINISH_POSTGRES, values))
            return

        def work(session: Session) -> None:
            message = session.get(Message, message_id)
            if message is None:
                return
            message.content, message.tool_calls, message.status = content, list(tool_calls), status
            message.updated_at = values["now"]  # type: ignore[assignment]
            session.add(message)
            session.execute(
                sa.update(Conversation)
                .where(col(Conversation.id) == message.conversation_id)
                .values(turn_lease_until=None)
            )

        self.database.write(work)

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


def _claim_update() -> sa.Update:
    recent = (
        select(sa.func.count())
        .select_from(Message)
        .where(
            col(Message.user_id) == sa.bindparam("uid"),
            col(Message.role) == "user",
            col(Message.created_at) > sa.bindparam("since", type_=UTCDateTime()),
        )
        .scalar_subquery()
    )
    now = sa.bindparam("now", type_=UTCDateTime())
    return (
        sa.update(Conversation)
        .where(
            col(Conversation.id) == sa.bindparam("cid"),
            col(Conversation.user_id) == sa.bindparam("uid"),
            sa.or_(col(Conversation.turn_lease_until).is_(None), col(Conversation.turn_lease_until) < now),
            recent < sa.bindparam("rate"),
        )
        .values(
            last_seq=Conversation.last_seq + 2,
            message_count=Conversation.message_count + 2,
            updated_at=now,
            turn_lease_until=sa.bindparam("lease", type_=UTCDateTime()),
        )
        .returning(col(Conversation.last_seq))
    )


def _new_message(
    values: dict[str, Any], message_id: str, seq: int, role: str, content: str, status: str, client_id: str | None
) -> dict[str, Any]:
    return {
        "id": message_id,
        "conversation_id": values["cid"],
        "user_id": values["uid"],
        "seq": seq,
        "role": role,
        "item_type": conversations.CHAT_ITEM,
        "content": content,
        "tool_calls": [],
        "status": status,
        "client_message_id": client_id,
        "created_at": values["now"],
        "updated_at": values["now"],
    }


# The same claim as `_claim_update` + the inserts, as one statement (PostgreSQL runs data-modifying CTEs).
_CLAIM_POSTGRES = sa.text(
    """
    WITH claimed AS (
        UPDATE conversation
           SET last_seq = last_seq + 2, message_count = message_count + 2,
               updated_at = :now, turn_lease_until = :lease
         WHERE id = :cid AND user_id = :uid
           AND (turn_lease_until IS NULL OR turn_lease_until < :now)
           AND (SELECT count(*) FROM message
                 WHERE user_id = :uid AND role = 'user' AND created_at > :since) < :rate
        RETURNING id, last_seq
    ), inserted AS (
        INSERT INTO message (id, conversation_id, user_id, seq, role, item_type, content, tool_calls, status,
                             client_message_id, created_at, updated_at)
        SELECT :user_msg, id, :uid, last_seq - 1, 'user', 'message', :text, CAST('[]' AS json), 'complete',
               :client_id, :now, :now
          FROM claimed
        UNION ALL
        SELECT :assistant_msg, id, :uid, last_seq, 'assistant', 'message', '', CAST('[]' AS json), 'streaming',
               NULL, :now, :now
          FROM claimed
        RETURNING seq
    )
    SELECT last_seq FROM claimed
    """
)

_FINISH_POSTGRES = sa.text(
    """
    WITH finished AS (
        UPDATE message SET content = :content, tool_calls = CAST(:calls AS json), status = :status, updated_at = :now
         WHERE id = :mid
        RETURNING conversation_id
    )
    UPDATE conversation SET turn_lease_until = NULL WHERE id = (SELECT conversation_id FROM finished)
    """
)


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
