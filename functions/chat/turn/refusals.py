"""Why a turn could not start, told from the database: another user's or an unknown conversation (403/404), over
the rate limit or the daily budget (429), a retried `client_message_id` (its stored turn, or 409 when it came with
another message), else busy."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from sqlmodel import Session, col, select

from functions.chat.turn import sql
from functions.chat.turn.types import ConversationBusy, StoredTurn
from todo_common import conversations
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message, UTCDateTime, utcnow


def refusal(
    database: Database,
    rate_limit_per_minute: int,
    user_id: str,
    conversation_id: str | None,
    client_message_id: str | None,
    text: str,
) -> StoredTurn:
    """Why a turn could not start: the stored turn of a retried client_message_id, or an error."""

    def diagnose(session: Session) -> StoredTurn:
        if client_message_id:
            if conversation_id is not None:
                conversations.check_owned(session, user_id, conversation_id)
            found = stored_turn(session, user_id, client_message_id)
            if found is not None:
                same_request(found, conversation_id, text)
                return found
        refuse(session, rate_limit_per_minute, user_id, conversation_id)

    return database.read(diagnose)


def refuse(session: Session, rate_limit_per_minute: int, user_id: str, conversation_id: str | None) -> NoReturn:
    """403/404 for a conversation not the user's, 429 over the rate limit, else busy."""
    if conversation_id is not None:
        conversations.check_owned(session, user_id, conversation_id)
    check_rate(session, rate_limit_per_minute, user_id)
    raise ConversationBusy(conversation_id or "new conversation")


def check_rate(session: Session, rate_limit_per_minute: int, user_id: str) -> None:
    """The rate rule of the claim, for its refusal: 429 with how long until the oldest message ages out."""
    counted = sql.statement(f"SELECT count(*) AS sent, min(created_at) AS oldest {sql.RECENT_MESSAGES}").columns(
        oldest=UTCDateTime()
    )
    values = {"uid": user_id, "since": utcnow() - timedelta(minutes=1)}
    sent, oldest = session.execute(counted, values).one()
    if sent >= rate_limit_per_minute:
        wait = 60 if oldest is None else max(1, int((oldest + timedelta(minutes=1) - utcnow()).total_seconds()) + 1)
        raise ApiError(
            429,
            "rate_limited",
            f"You can send {rate_limit_per_minute} messages a minute; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def check_budget(session: Session, user_id: str, *, daily_turns: int, daily_tokens: int) -> None:
    """The user's daily budget (UTC day) of turns and of model tokens: 429 `daily_budget_spent`, with
    `Retry-After` until the day rolls over, once either is spent."""
    now = utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    turns, tokens = session.execute(sql.statement(sql.SPENT_TODAY), {"uid": user_id, "day": day}).one()
    if int(turns or 0) < daily_turns and int(tokens or 0) < daily_tokens:
        return
    what = f"{daily_turns} messages" if int(turns or 0) >= daily_turns else "its model budget"
    wait = max(1, int((day + timedelta(days=1) - now).total_seconds()))
    raise ApiError(
        429,
        "daily_budget_spent",
        f"Today's assistant budget is spent ({what} a day); it renews at midnight UTC, in {wait // 3600} h "
        f"{wait % 3600 // 60} min.",
        headers={"Retry-After": str(wait)},
    )


def stored_turn(session: Session, user_id: str, client_message_id: str) -> StoredTurn | None:
    found = session.exec(
        select(Message, Conversation.turn_lease_until)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(Message.user_id == user_id, Message.client_message_id == client_message_id)
    ).first()
    if found is None:
        return None
    user_message, lease_until = found
    answer = session.exec(
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
    settled = conversations.settled(answer, lease_until) if answer else None
    return StoredTurn(user_message.conversation_id, user_message, settled)


def same_request(turn: StoredTurn, conversation_id: str | None, text: str) -> None:
    """An idempotency key stands for one request: reused with another message or conversation, it is refused."""
    if turn.user_message.content != text or conversation_id not in (None, turn.conversation_id):
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This client_message_id was already used for a different message; use a new id for a new message.",
        )
