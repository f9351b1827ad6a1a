"""The lease of a conversation, which a turn holds while it writes: claimed with the turn's first rows (the question
and an empty `streaming` answer, and the repair of a dead turn), taken alone, renewed, released.

A turn owns its conversation through a lease: `turn_lease_until` (short, renewed by the turn's heartbeat) and
`turn_owner` (a token of the turn's own, set by the claim). Every write of the turn names its owner, so a turn
whose lease was taken over (it was presumed dead) or whose conversation was deleted changes nothing, and only the
owner releases. The lease lives in columns, not in a session-level lock, because production talks to PgBouncer in
transaction mode.

Whoever takes an expired lease repairs the turn that held it: that turn's `streaming` answer becomes `error` /
`interrupted`, its partial text kept, in the same statement as the claim. On PostgreSQL the claim of a turn, its
two messages, the repair and the agent's context are one statement; SQLite runs the same steps in one
transaction. The rules themselves (lease free, under the rate limit) are written once, in `turn.sql`. The checks
before a turn stores a row (the rate limit, the daily budget) are asked here too; `turn.refusals` has their rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from functions.chat.agent.messages import ContextMessage
from functions.chat.agent.titles import clean_clip
from functions.chat.turn import reads, refusals, sql
from functions.chat.turn.types import ConversationBusy, Lease, StoredTurn, TurnLost, TurnStart
from todo_common import conversations
from todo_common.db import Database
from todo_common.models import new_id, utcnow


class NotClaimed(Exception):
    """The claim matched no row: roll back whatever the transaction did so far."""


class TurnLeases:
    def __init__(
        self,
        database: Database,
        *,
        history_limit: int,
        rate_limit_per_minute: int,
        lease_seconds: float,
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

    def claim(
        self, user_id: str, conversation_id: str | None, text: str, *, client_message_id: str | None = None
    ) -> TurnStart | StoredTurn:
        """Take the lease, store the user's message and an empty `streaming` answer, repair a dead turn, and load
        the agent's context. A `client_message_id` seen before gives its stored turn instead (409 if it came with
        another message); raises `ConversationBusy` while another turn runs, 403/404/429 as `ApiError`."""
        values = self.values(user_id, conversation_id or new_id("thr"), owner=new_id("turn"))
        values.update(user_msg=new_id("msg"), assistant_msg=new_id("msg"), text=text, client_id=client_message_id)
        if conversation_id is None:
            values["title"] = clean_clip(text) or None  # nothing visible: untitled, as in ChatKit
        try:
            rows = self._claim_rows(values, new=conversation_id is None)
        except IntegrityError:
            rows = None  # the client_message_id is taken: the diagnosis finds its turn
        if rows is None:
            return refusals.refusal(
                self.database, self.rate_limit_per_minute, user_id, conversation_id, client_message_id, text
            )
        user_message = ContextMessage(
            values["user_msg"], "user", conversations.CHAT_ITEM, text, (), "complete", None, None
        )
        repaired = int(values.get("repaired") or (rows[0].repaired if rows and "repaired" in rows[0]._mapping else 0))
        return TurnStart(
            Lease(values["cid"], values["owner"], repaired),
            values["user_msg"],
            values["assistant_msg"],
            (*reads.context_of(rows, self.history_limit), user_message),
        )

    def _claim_rows(self, values: dict[str, Any], *, new: bool) -> list[Row[Any]] | None:
        if self.postgres:
            claimed = self.database.execute(
                sql.typed(sql.statement(sql.claim_postgres(new))), values | {"limit": self.history_limit}
            )
            return claimed.rows or None

        def work(session: Session) -> list[Row[Any]]:
            claimed = session.execute(sql.statement(sql.CREATE_SQL if new else sql.CLAIM_SQL), values).first()
            if claimed is None:
                raise NotClaimed
            context = [] if new else reads.context_rows(session, values["cid"], self.history_limit)
            values["repaired"] = sql.changed(session, sql.statement(sql.REPAIR), values)
            insert = f"WITH {sql.ALLOCATED} {sql.question_and_answer(postgres=False)}"
            session.execute(sql.statement(insert), values)
            return context

        try:
            return self.database.write(work)
        except NotClaimed:
            return None

    def claim_rerun(self, user_id: str, turn: StoredTurn) -> TurnStart:
        """Answer a stored user message again (its answer failed or was interrupted): take the lease, reset the
        answer to an empty `streaming` row, and load the context up to that message."""
        assert turn.answer is not None
        values = self.values(user_id, turn.conversation_id, owner=new_id("turn"))
        values["mid"] = turn.answer.id

        def work(session: Session) -> list[Row[Any]]:
            if session.execute(sql.statement(sql.lease_sql(counts_as_message=False)), values).first() is None:
                raise NotClaimed
            session.execute(sql.statement(sql.REPAIR), values)
            session.execute(
                sql.statement(
                    "UPDATE message SET content = '', tool_calls = :calls, reasoning = :calls, status = 'streaming', "
                    "error_code = NULL, updated_at = :now WHERE id = :mid"
                ),
                values | {"calls": "[]"},
            )
            query = sa.text(sql.context_sql(before_answer=True))
            assert turn.answer is not None
            bounds = {"cid": turn.conversation_id, "seq": turn.answer.seq, "limit": self.history_limit}
            return list(session.execute(sql.typed(query), bounds))

        try:
            rows = self.database.write(work)
        except NotClaimed:
            self.database.read(lambda session: self._refuse(session, user_id, turn.conversation_id))
        now = utcnow()
        context = tuple(reversed([reads.context_message(row, now) for row in rows]))
        return TurnStart(Lease(turn.conversation_id, values["owner"]), turn.user_message.id, turn.answer.id, context)

    def take_lease(self, user_id: str, conversation_id: str, *, counts_as_message: bool) -> Lease:
        """The lease alone, for a ChatKit request on an existing thread (ChatKit stores the user's item itself)."""
        values = self.values(user_id, conversation_id, owner=new_id("turn"))
        query = sql.lease_sql(counts_as_message=counts_as_message)

        def work(session: Session) -> int:
            if session.execute(sql.statement(query), values).first() is None:
                raise NotClaimed
            return sql.changed(session, sql.statement(sql.REPAIR), values)

        try:
            repaired = self.database.write(work)
        except NotClaimed:
            self.database.read(lambda session: self._refuse(session, user_id, conversation_id))
        return Lease(conversation_id, values["owner"], repaired)

    def create_leased(self, user_id: str) -> Lease:
        """A new, empty conversation whose lease the caller holds (ChatKit's `threads.create`)."""
        values = self.values(user_id, new_id("thr"), owner=new_id("turn"))
        values["title"] = None
        query = sql.create_sql(0)  # ChatKit stores the question itself
        if self.database.write(lambda s: s.execute(sql.statement(query), values).first()) is None:
            self.database.read(lambda s: refusals.check_rate(s, self.rate_limit_per_minute, user_id))
            raise ConversationBusy("new conversation")  # pragma: no cover - the rate check raised
        return Lease(values["cid"], values["owner"])

    def renew(self, lease: Lease) -> None:
        """The heartbeat: push the lease's end forward; `TurnLost` if it is no longer this turn's."""
        values = {"cid": lease.conversation_id, "owner": lease.owner, "lease": self._lease_end()}
        query = sql.statement(
            "UPDATE conversation SET turn_lease_until = :lease WHERE id = :cid AND turn_owner = :owner"
        )
        if self.database.execute(query, values).rowcount != 1:
            raise TurnLost(lease.conversation_id)

    def release(self, lease: Lease) -> None:
        """Give the lease up, if it is still this turn's (never someone else's)."""
        values = {"cid": lease.conversation_id, "owner": lease.owner}
        self.database.execute(sa.text(sql.RELEASE_SQL), values)

    def check_rate(self, user_id: str) -> None:
        """429 when the user is over the message rate limit (for requests that store no message, as dictation)."""
        self.database.read(lambda s: refusals.check_rate(s, self.rate_limit_per_minute, user_id))

    def check_budget(self, user_id: str) -> None:
        """429 `daily_budget_spent` once the user's turns or model tokens of the UTC day are spent."""
        budget = {"daily_turns": self.daily_turns, "daily_tokens": self.daily_tokens}
        self.database.read(lambda s: refusals.check_budget(s, user_id, **budget))

    def values(self, user_id: str, conversation_id: str, *, owner: str) -> dict[str, Any]:
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

    def _refuse(self, session: Session, user_id: str, conversation_id: str | None) -> NoReturn:
        refusals.refuse(session, self.rate_limit_per_minute, user_id, conversation_id)
