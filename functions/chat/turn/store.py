"""The SQL of a chat turn, on both databases: claim (lease, rate limit, messages, repair), progress, finish.

A turn owns its conversation through a lease: `turn_lease_until` (short, renewed by the turn's heartbeat) and
`turn_owner` (a token of the turn's own, set by the claim). Every write of the turn names its owner, so a turn
whose lease was taken over (it was presumed dead) or whose conversation was deleted changes nothing, and only the
owner releases. The lease lives in columns, not in a session-level lock, because production talks to PgBouncer in
transaction mode.

Whoever takes an expired lease repairs the turn that held it: that turn's `streaming` answer becomes `error` /
`interrupted`, its partial text kept, in the same statement as the claim. On PostgreSQL the claim of a turn, its
two messages, the repair and the agent's context are one statement; SQLite runs the same steps in one
transaction. The rules themselves (lease free, under the rate limit) are written once, below, for both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, col, select

from functions.chat.agent.messages import ContextMessage
from functions.chat.turn.events import UsageReported
from functions.chat.turn.thoughts import ThoughtRecord, stored_thoughts
from todo_common import conversations
from todo_common.clip import clip
from todo_common.db import Database, DatabaseUnavailable
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message, UTCDateTime, new_id, utcnow
from todo_common.tool_calls import ToolCallRecord, stored

TITLE_FROM_MESSAGE_CHARS = 60
# What this store's calls raise when the database cannot be reached (or refuses a statement).
DATABASE_ERRORS = (DatabaseUnavailable, DBAPIError)
STOP_REQUESTED = "stop_requested"  # the error_code of a `streaming` answer whose user asked it to stop


class ConversationBusy(Exception):
    """Another turn holds the conversation's lease."""


class TurnLost(Exception):
    """The turn no longer owns its conversation: it was deleted, or the lease was taken over."""


class _NotClaimed(Exception):
    """The claim matched no row: roll back whatever the transaction did so far."""


@dataclass(frozen=True)
class Lease:
    conversation_id: str
    owner: str
    repaired: int = field(default=0, compare=False)  # answers of dead turns this lease's claim marked interrupted


@dataclass(frozen=True)
class TurnStart:
    lease: Lease
    user_message_id: str
    assistant_message_id: str
    context: tuple[ContextMessage, ...]  # the conversation before this answer, oldest first, the user's new one last
    new_title: str | None = None  # set when this turn gave the conversation its title

    @property
    def conversation_id(self) -> str:
        return self.lease.conversation_id


@dataclass(frozen=True)
class StoredTurn:
    """A turn found again through its `client_message_id`, its answer as reads show it."""

    conversation_id: str
    user_message: Message
    answer: Message | None


# -- the rules, once --------------------------------------------------------------------------------------------

LEASE_FREE = "(turn_lease_until IS NULL OR turn_lease_until < :now)"
RECENT_MESSAGES = "FROM message WHERE user_id = :uid AND role = 'user' AND created_at > :since"
UNDER_RATE = f"(SELECT count(*) {RECENT_MESSAGES}) < :rate"
OWNED_BY_TURN = "EXISTS (SELECT 1 FROM conversation c WHERE c.id = :cid AND c.turn_owner = :owner)"
REPAIR = (
    "UPDATE message SET status = 'error', error_code = 'interrupted', updated_at = :now "
    "WHERE conversation_id = :cid AND status = 'streaming'"
)
# What the agent's context reads: chat messages, and ChatKit's hidden context items (never shown, but for the model).
_IN_CONTEXT = "item_type IN ('message', 'hidden_context_item', 'sdk_hidden_context')"
_COLUMNS = "id, role, item_type, content, tool_calls, status, error_code, chatkit_item"  # ContextMessage, in order


def _context_sql(*, before_answer: bool = False) -> str:
    """The agent's context, the one select of it: the newest `:limit` context rows of conversation `:cid`, newest
    first (only those before seq `:seq`, the answer a rerun writes again, with `before_answer`)."""
    before = " AND seq < :seq" if before_answer else ""
    return (
        f"SELECT {_COLUMNS} FROM message WHERE conversation_id = :cid AND {_IN_CONTEXT}{before} "
        "ORDER BY seq DESC LIMIT :limit"
    )


def _statement(sql: str) -> sa.TextClause:
    """Raw SQL with the turn's datetimes bound as UTC columns (SQLite keeps naive UTC)."""
    return sa.text(sql).bindparams(
        *(
            sa.bindparam(name, type_=UTCDateTime())
            for name in ("now", "lease", "since", "created", "day")
            if f":{name}" in sql
        )
    )


class TurnStore:
    def __init__(
        self,
        database: Database,
        *,
        history_limit: int,
        rate_limit_per_minute: int,
        lease_seconds: float = 30,
        daily_turns: int = 500,
        daily_tokens: int = 2_000_000,
    ) -> None:
        self.database = database
        self.history_limit = history_limit
        self.rate_limit_per_minute = rate_limit_per_minute
        self.lease_seconds = lease_seconds
        self.daily_turns = daily_turns
        self.daily_tokens = daily_tokens
        self.postgres = database.dialect == "postgresql"

    # -- claiming -------------------------------------------------------------------------------------------

    def claim(
        self, user_id: str, conversation_id: str | None, text: str, *, client_message_id: str | None = None
    ) -> TurnStart | StoredTurn:
        """Take the lease, store the user's message and an empty `streaming` answer, repair a dead turn, and load
        the agent's context. A `client_message_id` seen before gives its stored turn instead (409 if it came with
        another message); raises `ConversationBusy` while another turn runs, 403/404/429 as `ApiError`."""
        values = self._values(user_id, conversation_id or new_id("thr"), owner=new_id("turn"))
        values.update(user_msg=new_id("msg"), assistant_msg=new_id("msg"), text=text, client_id=client_message_id)
        if conversation_id is None:
            values["title"] = clip(text, TITLE_FROM_MESSAGE_CHARS)
        try:
            rows = self._claim_rows(values, new=conversation_id is None)
        except IntegrityError:
            rows = None  # the client_message_id is taken: the diagnosis finds its turn
        if rows is None:
            return self._refusal(user_id, conversation_id, client_message_id, text)
        user_message = ContextMessage(
            values["user_msg"], "user", conversations.CHAT_ITEM, text, (), "complete", None, None
        )
        repaired = int(values.get("repaired") or (rows[0].repaired if rows and "repaired" in rows[0]._mapping else 0))
        return TurnStart(
            Lease(values["cid"], values["owner"], repaired),
            values["user_msg"],
            values["assistant_msg"],
            (*self._context(rows), user_message),
        )

    def _claim_rows(self, values: dict[str, Any], *, new: bool) -> list[Row[Any]] | None:
        if self.postgres:
            claimed = self.database.execute(
                _typed(_statement(_claim_postgres(new))), values | {"limit": self.history_limit}
            )
            return claimed.rows or None

        def work(session: Session) -> list[Row[Any]]:
            claimed = session.execute(_statement(_CREATE_SQL if new else _CLAIM_SQL), values).first()
            if claimed is None:
                raise _NotClaimed
            seq = int(claimed.last_seq)
            context = [] if new else self._context_sqlite(session, values["cid"])
            values["repaired"] = _changed(session, _statement(REPAIR), values)
            session.execute(
                sa.insert(Message),
                [
                    _new_message_row(values, values["user_msg"], seq - 1, "user", values["text"], "complete"),
                    _new_message_row(values, values["assistant_msg"], seq, "assistant", "", "streaming"),
                ],
            )
            return context

        try:
            return self.database.write(work)
        except _NotClaimed:
            return None

    def _context_sqlite(self, session: Session, conversation_id: str) -> list[Row[Any]]:
        statement = sa.text(_context_sql())
        return list(session.execute(_typed(statement), {"cid": conversation_id, "limit": self.history_limit}))

    def _context(self, rows: list[Row[Any]]) -> tuple[ContextMessage, ...]:
        """The context rows (newest first, as selected) as messages, oldest first; the rows of an interrupted
        turn read as interrupted, since the claim just repaired them."""
        now = utcnow()
        messages = [_context_message(row, now) for row in rows if row.id is not None]
        keep = max(0, self.history_limit - 1)  # the user's new message takes the last place
        return tuple(reversed(messages[:keep]))

    def _refusal(
        self, user_id: str, conversation_id: str | None, client_message_id: str | None, text: str
    ) -> StoredTurn:
        """Why a turn could not start: the stored turn of a retried client_message_id, or an error."""

        def diagnose(session: Session) -> StoredTurn:
            if client_message_id:
                if conversation_id is not None:
                    conversations.check_owned(session, user_id, conversation_id)
                found = _stored_turn(session, user_id, client_message_id)
                if found is not None:
                    _same_request(found, conversation_id, text)
                    return found
            self._refuse(session, user_id, conversation_id)

        return self.database.read(diagnose)

    def _refuse(self, session: Session, user_id: str, conversation_id: str | None) -> NoReturn:
        """403/404 for a conversation not the user's, 429 over the rate limit, else busy."""
        if conversation_id is not None:
            conversations.check_owned(session, user_id, conversation_id)
        self._check_rate(session, user_id)
        raise ConversationBusy(conversation_id or "new conversation")

    def claim_rerun(self, user_id: str, turn: StoredTurn) -> TurnStart:
        """Answer a stored user message again (its answer failed or was interrupted): take the lease, reset the
        answer to an empty `streaming` row, and load the context up to that message."""
        assert turn.answer is not None
        values = self._values(user_id, turn.conversation_id, owner=new_id("turn"))
        values["mid"] = turn.answer.id

        def work(session: Session) -> list[Row[Any]]:
            if session.execute(_statement(_lease_sql(counts_as_message=False)), values).first() is None:
                raise _NotClaimed
            session.execute(_statement(REPAIR), values)
            session.execute(
                _statement(
                    "UPDATE message SET content = '', tool_calls = :calls, reasoning = :calls, status = 'streaming', "
                    "error_code = NULL, updated_at = :now WHERE id = :mid"
                ),
                values | {"calls": "[]"},
            )
            statement = sa.text(_context_sql(before_answer=True))
            assert turn.answer is not None
            bounds = {"cid": turn.conversation_id, "seq": turn.answer.seq, "limit": self.history_limit}
            return list(session.execute(_typed(statement), bounds))

        try:
            rows = self.database.write(work)
        except _NotClaimed:
            self.database.read(lambda session: self._refuse(session, user_id, turn.conversation_id))
        now = utcnow()
        context = tuple(reversed([_context_message(row, now) for row in rows]))
        return TurnStart(Lease(turn.conversation_id, values["owner"]), turn.user_message.id, turn.answer.id, context)

    def take_lease(self, user_id: str, conversation_id: str, *, counts_as_message: bool) -> Lease:
        """The lease alone, for a ChatKit request on an existing thread (ChatKit stores the user's item itself)."""
        values = self._values(user_id, conversation_id, owner=new_id("turn"))
        sql = _lease_sql(counts_as_message=counts_as_message)

        def work(session: Session) -> int:
            if session.execute(_statement(sql), values).first() is None:
                raise _NotClaimed
            return _changed(session, _statement(REPAIR), values)

        try:
            repaired = self.database.write(work)
        except _NotClaimed:
            self.database.read(lambda session: self._refuse(session, user_id, conversation_id))
        return Lease(conversation_id, values["owner"], repaired)

    def create_leased(self, user_id: str) -> Lease:
        """A new, empty conversation whose lease the caller holds (ChatKit's `threads.create`)."""
        values = self._values(user_id, new_id("thr"), owner=new_id("turn"))
        values["title"] = None
        sql = _create_sql(0)  # ChatKit stores the question itself
        if self.database.write(lambda s: s.execute(_statement(sql), values).first()) is None:
            self.database.read(lambda s: self._check_rate(s, user_id))
            raise ConversationBusy("new conversation")  # pragma: no cover - the rate check raised
        return Lease(values["cid"], values["owner"])

    def drop_items_after(self, lease: Lease, user_id: str, message_id: str) -> int:
        """A retry: delete every item after the user's message `message_id`, in one statement, while the turn owns
        the conversation (`TurnLost` otherwise, and nothing is deleted); how many went. One statement however long
        the thread is, where ChatKit's own retry deletes item by item."""
        values = {"cid": lease.conversation_id, "owner": lease.owner, "mid": message_id, "uid": user_id}
        after = (
            "conversation_id = :cid AND seq > (SELECT seq FROM message WHERE id = :mid AND conversation_id = :cid "
            "AND user_id = :uid AND role = 'user')"
        )

        def work(session: Session) -> int:
            owned = _changed(
                session,
                sa.text(
                    "UPDATE conversation SET message_count = message_count - (SELECT count(*) FROM message WHERE "
                    f"{after} AND item_type = '{conversations.CHAT_ITEM}') WHERE id = :cid AND turn_owner = :owner"
                ),
                values,
            )
            if owned != 1:
                raise TurnLost(lease.conversation_id)
            return _changed(session, sa.text(f"DELETE FROM message WHERE {after}"), values)

        return self.database.write(work)

    def start_reply(self, lease: Lease, user_id: str) -> TurnStart:
        """For ChatKit, whose store saved the user's item: the empty `streaming` answer and the context."""
        values = self._values(user_id, lease.conversation_id, owner=lease.owner)
        values["assistant_msg"] = new_id("msg")

        def work(session: Session) -> TurnStart:
            seq = session.execute(
                sa.text(
                    "UPDATE conversation SET last_seq = last_seq + 1, message_count = message_count + 1 "
                    "WHERE id = :cid AND turn_owner = :owner RETURNING last_seq"
                ),
                values,
            ).scalar_one_or_none()
            if seq is None:
                raise TurnLost(lease.conversation_id)
            context = self._context_sqlite(session, lease.conversation_id)
            session.execute(
                sa.insert(Message),
                [_new_message_row(values, values["assistant_msg"], seq, "assistant", "", "streaming")],
            )
            messages = self._context(context)
            last_user = next((m for m in reversed(messages) if m.role == "user"), None)
            title = clip(last_user.content, TITLE_FROM_MESSAGE_CHARS) if last_user else ""
            set_title = sa.text("UPDATE conversation SET title = :title WHERE id = :cid AND title IS NULL")
            # A title set meanwhile (a rename) is kept.
            titled = bool(title) and _changed(session, set_title, {"title": title, "cid": lease.conversation_id}) == 1
            return TurnStart(
                lease, last_user.id if last_user else "", values["assistant_msg"], messages, title if titled else None
            )

        return self.database.write(work)

    def retitle(self, user_id: str, conversation_id: str, provisional: str, title: str) -> bool:
        """Replace the title a turn gave the conversation (`provisional`) with `title`, unless the user renamed it
        meanwhile (or it is not theirs, or gone): whether it was written."""
        statement = _statement(
            "UPDATE conversation SET title = :title, updated_at = :now "
            "WHERE id = :cid AND user_id = :uid AND title = :provisional"
        )
        values = {"title": title, "now": utcnow(), "cid": conversation_id, "uid": user_id, "provisional": provisional}
        return self.database.execute(statement, values).rowcount == 1

    # -- while it runs and at its end -----------------------------------------------------------------------

    def renew(self, lease: Lease) -> None:
        """The heartbeat: push the lease's end forward; `TurnLost` if it is no longer this turn's."""
        values = {"cid": lease.conversation_id, "owner": lease.owner, "lease": self._lease_end()}
        statement = _statement(
            "UPDATE conversation SET turn_lease_until = :lease WHERE id = :cid AND turn_owner = :owner"
        )
        if self.database.execute(statement, values).rowcount != 1:
            raise TurnLost(lease.conversation_id)

    def save_progress(
        self,
        lease: Lease,
        message_id: str,
        content: str,
        calls: Sequence[ToolCallRecord],
        thoughts: Sequence[ThoughtRecord] = (),
    ) -> bool | None:
        """Save what the answer has said so far; whether its user asked it to stop meanwhile (None: not saved, the
        turn does not own it any more)."""
        values = self._progress_values(lease, message_id, content, calls, thoughts)
        statement = _statement(
            f"UPDATE message SET content = :content, tool_calls = {self._json(':calls')}, "
            f"reasoning = {self._json(':thoughts')}, updated_at = :now "
            f"WHERE id = :mid AND status = 'streaming' AND {OWNED_BY_TURN} RETURNING error_code"
        )
        rows = self.database.execute(statement, values).rows
        return rows[0].error_code == STOP_REQUESTED if rows else None

    def finish(
        self,
        lease: Lease,
        message_id: str,
        *,
        content: str,
        calls: Sequence[ToolCallRecord],
        status: str,
        thoughts: Sequence[ThoughtRecord] = (),
        error_code: str | None = None,
        release: bool = True,
        usage: UsageReported | None = None,
    ) -> bool:
        """Store the answer with its final status (and release the lease), only while the turn owns its
        conversation: False if it does not any more (deleted, or taken over), and then nothing was written. An
        answer's time is when it was given: its end."""
        values = self._progress_values(lease, message_id, content, calls, thoughts)
        values |= {"status": status, "code": error_code}
        values |= {
            "input": None if usage is None else usage.input_tokens,
            "output": None if usage is None else usage.output_tokens,
        }
        update = (
            f"UPDATE message SET content = :content, tool_calls = {self._json(':calls')}, "
            f"reasoning = {self._json(':thoughts')}, status = :status, error_code = :code, input_tokens = :input, "
            f"output_tokens = :output, created_at = :now, updated_at = :now WHERE id = :mid AND {OWNED_BY_TURN}"
        )
        if self.postgres and release:
            sql = f"WITH finished AS ({update} RETURNING id) {_RELEASE_SQL} AND EXISTS (SELECT 1 FROM finished)"
            sql += " RETURNING id"
            return bool(self.database.execute(_statement(sql), values).rows)

        def work(session: Session) -> bool:
            written = _changed(session, _statement(update), values) == 1
            if written and release:
                session.execute(sa.text(_RELEASE_SQL), values)
            return written

        return self.database.write(work)

    def release(self, lease: Lease) -> None:
        """Give the lease up, if it is still this turn's (never someone else's)."""
        values = {"cid": lease.conversation_id, "owner": lease.owner}
        self.database.execute(sa.text(_RELEASE_SQL), values)

    def request_stop(self, user_id: str, message_id: str) -> bool:
        """Mark the user's answer being written as asked to stop (its turn sees it within a poll); False if there
        is no such answer: not the user's, finished, or its turn's lease ran out (the turn died)."""
        statement = _statement(
            "UPDATE message SET error_code = :code WHERE id = :mid AND user_id = :uid AND status = 'streaming' "
            "AND EXISTS (SELECT 1 FROM conversation c WHERE c.id = message.conversation_id "
            "AND c.turn_lease_until > :now)"
        )
        values = {"code": STOP_REQUESTED, "mid": message_id, "uid": user_id, "now": utcnow()}
        return self.database.execute(statement, values).rowcount == 1

    def request_thread_stop(self, user_id: str, conversation_id: str) -> bool | None:
        """Mark the answer being written in the user's conversation (its lease held) as asked to stop: True if
        there is one, False if the conversation is the user's but no answer runs, None if it is not the user's."""
        values = {"code": STOP_REQUESTED, "cid": conversation_id, "uid": user_id, "now": utcnow()}
        statement = _statement(
            "UPDATE message SET error_code = :code WHERE conversation_id = :cid AND user_id = :uid "
            "AND role = 'assistant' AND status = 'streaming' AND EXISTS (SELECT 1 FROM conversation c "
            "WHERE c.id = :cid AND c.user_id = :uid AND c.turn_lease_until >= :now)"
        )

        def work(session: Session) -> bool | None:
            if _changed(session, statement, values) > 0:
                return True
            owned = sa.text("SELECT 1 FROM conversation WHERE id = :cid AND user_id = :uid")
            return False if session.execute(owned, values).first() is not None else None

        return self.database.write(work)

    def check_rate(self, user_id: str) -> None:
        """429 when the user is over the message rate limit (for requests that store no message, as dictation)."""
        self.database.read(lambda s: self._check_rate(s, user_id))

    def stop_requested(self, message_id: str) -> bool:
        statement = sa.text("SELECT 1 FROM message WHERE id = :mid AND error_code = :code")
        values = {"mid": message_id, "code": STOP_REQUESTED}
        return self.database.read(lambda s: s.execute(statement, values).first() is not None)

    # -- reading turns back ---------------------------------------------------------------------------------

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

    # -- plumbing -------------------------------------------------------------------------------------------

    def _values(self, user_id: str, conversation_id: str, *, owner: str) -> dict[str, Any]:
        now = utcnow()
        return {
            "cid": conversation_id,
            "uid": user_id,
            "owner": owner,
            "now": now,
            "lease": self._lease_end(now),
            "since": now - timedelta(minutes=1),
            "rate": self.rate_limit_per_minute,
        }

    def _lease_end(self, now: datetime | None = None) -> datetime:
        return (now or utcnow()) + timedelta(seconds=self.lease_seconds)

    def _progress_values(
        self,
        lease: Lease,
        message_id: str,
        content: str,
        calls: Sequence[ToolCallRecord],
        thoughts: Sequence[ThoughtRecord],
    ) -> dict[str, Any]:
        return {
            "cid": lease.conversation_id,
            "owner": lease.owner,
            "mid": message_id,
            "content": content,
            "calls": json.dumps(stored(list(calls))),
            "thoughts": json.dumps(stored_thoughts(thoughts)),
            "now": utcnow(),
        }

    def _json(self, placeholder: str) -> str:
        return f"CAST({placeholder} AS json)" if self.postgres else placeholder

    def check_budget(self, user_id: str) -> None:
        """The user's daily budget (UTC day) of turns and of model tokens: 429 `daily_budget_spent`, with
        `Retry-After` until the day rolls over, once either is spent."""
        now = utcnow()
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        spent = _statement(_SPENT_TODAY)
        turns, tokens = self.database.read(lambda s: s.execute(spent, {"uid": user_id, "day": day}).one())
        if int(turns or 0) < self.daily_turns and int(tokens or 0) < self.daily_tokens:
            return
        what = f"{self.daily_turns} messages" if int(turns or 0) >= self.daily_turns else "its model budget"
        wait = max(1, int((day + timedelta(days=1) - now).total_seconds()))
        raise ApiError(
            429,
            "daily_budget_spent",
            f"Today's assistant budget is spent ({what} a day); it renews at midnight UTC, in {wait // 3600} h "
            f"{wait % 3600 // 60} min.",
            headers={"Retry-After": str(wait)},
        )

    def _check_rate(self, session: Session, user_id: str) -> None:
        """The rate rule of the claim, for its refusal: 429 with how long until the oldest message ages out."""
        counted = _statement(f"SELECT count(*) AS sent, min(created_at) AS oldest {RECENT_MESSAGES}").columns(
            oldest=UTCDateTime()
        )
        values = {"uid": user_id, "since": utcnow() - timedelta(minutes=1)}
        sent, oldest = session.execute(counted, values).one()
        if sent >= self.rate_limit_per_minute:
            wait = 60 if oldest is None else max(1, int((oldest + timedelta(minutes=1) - utcnow()).total_seconds()) + 1)
            raise ApiError(
                429,
                "rate_limited",
                f"You can send {self.rate_limit_per_minute} messages a minute; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
            )


_SPENT_TODAY = f"""
    SELECT coalesce(sum(CASE WHEN role = 'user' THEN 1 ELSE 0 END), 0) AS turns,
           coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0) AS tokens
      FROM message WHERE user_id = :uid AND created_at >= :day AND item_type = '{conversations.CHAT_ITEM}'
"""

_CLAIM_SQL = f"""
    UPDATE conversation
       SET last_seq = last_seq + 2, message_count = message_count + 2, updated_at = :now,
           turn_lease_until = :lease, turn_owner = :owner
     WHERE id = :cid AND user_id = :uid AND {LEASE_FREE} AND {UNDER_RATE}
    RETURNING id, last_seq
"""


def _create_sql(messages: int) -> str:
    """A new conversation under the claim's lease, its first `messages` seqs handed out, under the rate limit."""
    return f"""
    INSERT INTO conversation (id, user_id, title, message_count, last_seq, turn_lease_until, turn_owner,
                              created_at, updated_at)
    SELECT CAST(:cid AS varchar), CAST(:uid AS varchar), CAST(:title AS varchar), {messages}, {messages}, :lease,
           CAST(:owner AS varchar), :now, :now
     WHERE {UNDER_RATE}
    RETURNING id, last_seq
"""


_CREATE_SQL = _create_sql(2)  # the question and its answer


def _lease_sql(*, counts_as_message: bool) -> str:
    rate = f" AND {UNDER_RATE}" if counts_as_message else ""
    return (
        "UPDATE conversation SET turn_lease_until = :lease, turn_owner = :owner "
        f"WHERE id = :cid AND user_id = :uid AND {LEASE_FREE}{rate} RETURNING id"
    )


_RELEASE_SQL = (
    "UPDATE conversation SET turn_lease_until = NULL, turn_owner = NULL WHERE id = :cid AND turn_owner = :owner"
)

_INSERT_MESSAGES = """
    INSERT INTO message (id, conversation_id, user_id, seq, role, item_type, content, tool_calls, status,
                         client_message_id, created_at, updated_at)
    SELECT CAST(:user_msg AS varchar), id, CAST(:uid AS varchar), last_seq - 1, 'user', 'message',
           CAST(:text AS text), CAST('[]' AS json), 'complete', CAST(:client_id AS varchar), :now, :now FROM claimed
    UNION ALL
    SELECT CAST(:assistant_msg AS varchar), id, CAST(:uid AS varchar), last_seq, 'assistant', 'message', '',
           CAST('[]' AS json), 'streaming', NULL, :now, :now FROM claimed
    RETURNING seq
"""


def _claim_postgres(new: bool) -> str:
    """Claim, repair, both messages and the context in one statement (PostgreSQL runs data-modifying CTEs; the
    final select sees the rows as they were before the statement, so the context is the conversation before this
    turn, with the repaired rows still `streaming`)."""
    claim = _CREATE_SQL if new else _CLAIM_SQL
    context = "NULL::text AS id" if new else f"m.{', m.'.join(_COLUMNS.split(', '))}"
    lateral = "" if new else f"LEFT JOIN LATERAL ({_context_sql()}) m ON true"
    repair = "" if new else f", repaired AS ({REPAIR} AND EXISTS (SELECT 1 FROM claimed) RETURNING id)"
    repaired = "0" if new else "(SELECT count(*) FROM repaired)"
    return (
        f"WITH claimed AS ({claim}), inserted AS ({_INSERT_MESSAGES}){repair} "
        f"SELECT claimed.last_seq, {repaired} AS repaired, {context} FROM claimed {lateral}"
    )


def _new_message_row(
    values: dict[str, Any], message_id: str, seq: int, role: str, content: str, status: str
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
        "client_message_id": values.get("client_id") if role == "user" else None,
        "created_at": values["now"],
        "updated_at": values["now"],
    }


def _changed(session: Session, statement: sa.Executable, values: dict[str, Any]) -> int:
    result = cast(CursorResult[Any], session.execute(statement, values))  # a statement, not an ORM query
    return int(result.rowcount)


def _typed(statement: sa.TextClause) -> sa.TextualSelect:
    """A raw select of context columns whose JSON columns come back decoded, as the table model has them."""
    return statement.columns(tool_calls=sa.JSON(), chatkit_item=sa.JSON())


def _context_message(row: Row[Any], now: datetime) -> ContextMessage:
    """A context row as the agent reads it, settled: a `streaming` answer in a turn's context is never a live one
    (the turn's own answer is not in it), so it reads as every read shows an answer without a live lease, `error` /
    `interrupted`, as the claim's repair just made it."""
    status, error_code = conversations.settled_state(row.status, row.error_code, None, now)
    return ContextMessage(
        row.id, row.role, row.item_type, row.content, row.tool_calls, status, error_code, row.chatkit_item
    )


def _stored_turn(session: Session, user_id: str, client_message_id: str) -> StoredTurn | None:
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


def _same_request(turn: StoredTurn, conversation_id: str | None, text: str) -> None:
    """An idempotency key stands for one request: reused with another message or conversation, it is refused."""
    if turn.user_message.content != text or conversation_id not in (None, turn.conversation_id):
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This client_message_id was already used for a different message; use a new id for a new message.",
        )
