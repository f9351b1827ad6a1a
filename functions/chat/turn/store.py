"""The turn store: the one writer of a turn's rows, on both databases. The lease and the claim are in
`turn.leases`, the reads in `turn.reads`, the items ChatKit stores (its question) and the widgets a turn shows in
`turn.items`, the SQL in `turn.sql`; this is their one entry, and the answer's writes (started for ChatKit, saved
while it streams, finished), a retry's drop of what followed its question, a generated title, and a stop (of an
answer or of a thread). Every row goes through `sql.message_row` and every seq through `sql.allocate_seqs`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from functions.chat.agent.titles import clean_clip
from functions.chat.turn import reads, sql
from functions.chat.turn.events import UsageReported
from functions.chat.turn.items import TurnItems
from functions.chat.turn.leases import TurnLeases
from functions.chat.turn.reads import TurnReads
from functions.chat.turn.thoughts import ThoughtRecord, stored_thoughts
from functions.chat.turn.types import STOP_REQUESTED, Lease, TurnLost, TurnStart
from todo_common import conversations
from todo_common.db import Database
from todo_common.models import new_id, utcnow
from todo_common.tool_calls import ToolCallRecord, stored


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
        self.postgres = database.dialect == "postgresql"
        self.leases = TurnLeases(
            database,
            history_limit=history_limit,
            rate_limit_per_minute=rate_limit_per_minute,
            lease_seconds=lease_seconds,
            daily_turns=daily_turns,
            daily_tokens=daily_tokens,
        )
        self.reads = TurnReads(database)
        self.items = TurnItems(database)
        self.calls_json = sql.json_value(":calls", postgres=self.postgres)
        self.thoughts_json = sql.json_value(":thoughts", postgres=self.postgres)

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
            owned = sql.changed(
                session,
                sa.text(
                    "UPDATE conversation SET message_count = message_count - (SELECT count(*) FROM message WHERE "
                    f"{after} AND item_type = '{conversations.CHAT_ITEM}') WHERE id = :cid AND turn_owner = :owner"
                ),
                values,
            )
            if owned != 1:
                raise TurnLost(lease.conversation_id)
            return sql.changed(session, sa.text(f"DELETE FROM message WHERE {after}"), values)

        return self.database.write(work)

    def start_reply(self, lease: Lease, user_id: str) -> TurnStart:
        """For ChatKit, whose store saved the user's item: the empty `streaming` answer and the context."""
        values = self.leases.values(user_id, lease.conversation_id, owner=lease.owner)
        values["assistant_msg"] = new_id("msg")

        def work(session: Session) -> TurnStart:
            allocate = (
                f"UPDATE conversation SET {sql.allocate_seqs(1, messages=1)} WHERE id = :cid AND turn_owner = :owner"
            )
            if sql.changed(session, sa.text(allocate), values) != 1:
                raise TurnLost(lease.conversation_id)
            context = reads.context_rows(session, lease.conversation_id, self.history_limit)
            answer = sql.insert_messages(sql.empty_answer(seq="last_seq", postgres=self.postgres))
            session.execute(sql.statement(f"WITH {sql.ALLOCATED} {answer}"), values)
            messages = reads.context_of(context, self.history_limit)
            last_user = next((m for m in reversed(messages) if m.role == "user"), None)
            title = clean_clip(last_user.content) if last_user else ""
            set_title = sa.text("UPDATE conversation SET title = :title WHERE id = :cid AND title IS NULL")
            # A title set meanwhile (a rename) is kept.
            titled = (
                bool(title) and sql.changed(session, set_title, {"title": title, "cid": lease.conversation_id}) == 1
            )
            return TurnStart(
                lease, last_user.id if last_user else "", values["assistant_msg"], messages, title if titled else None
            )

        return self.database.write(work)

    def retitle(self, user_id: str, conversation_id: str, provisional: str, title: str) -> bool:
        """Replace the title a turn gave the conversation (`provisional`) with `title`, unless the user renamed it
        meanwhile (or it is not theirs, or gone): whether it was written."""
        query = sql.statement(
            "UPDATE conversation SET title = :title, updated_at = :now "
            "WHERE id = :cid AND user_id = :uid AND title = :provisional"
        )
        values = {"title": title, "now": utcnow(), "cid": conversation_id, "uid": user_id, "provisional": provisional}
        return self.database.execute(query, values).rowcount == 1

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
        values = _progress_values(lease, message_id, content, calls, thoughts)
        query = sql.statement(
            f"UPDATE message SET content = :content, tool_calls = {self.calls_json}, "
            f"reasoning = {self.thoughts_json}, updated_at = :now "
            f"WHERE id = :mid AND status = 'streaming' AND {sql.OWNED_BY_TURN} RETURNING error_code"
        )
        rows = self.database.execute(query, values).rows
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
        values = _progress_values(lease, message_id, content, calls, thoughts)
        values |= {"status": status, "code": error_code}
        values |= {
            "input": None if usage is None else usage.input_tokens,
            "output": None if usage is None else usage.output_tokens,
        }
        update = (
            f"UPDATE message SET content = :content, tool_calls = {self.calls_json}, "
            f"reasoning = {self.thoughts_json}, status = :status, error_code = :code, input_tokens = :input, "
            f"output_tokens = :output, created_at = :now, updated_at = :now WHERE id = :mid AND {sql.OWNED_BY_TURN}"
        )
        if self.postgres and release:
            query = f"WITH finished AS ({update} RETURNING id) {sql.RELEASE_SQL} AND EXISTS (SELECT 1 FROM finished)"
            return bool(self.database.execute(sql.statement(query + " RETURNING id"), values).rows)

        def work(session: Session) -> bool:
            written = sql.changed(session, sql.statement(update), values) == 1
            if written and release:
                session.execute(sa.text(sql.RELEASE_SQL), values)
            return written

        return self.database.write(work)

    def request_stop(self, user_id: str, message_id: str) -> bool:
        """Mark the user's answer being written as asked to stop (its turn sees it within a poll); False if there
        is no such answer: not the user's, finished, or its turn's lease ran out (the turn died)."""
        query = sql.statement(
            "UPDATE message SET error_code = :code WHERE id = :mid AND user_id = :uid AND status = 'streaming' "
            "AND EXISTS (SELECT 1 FROM conversation c WHERE c.id = message.conversation_id "
            "AND c.turn_lease_until > :now)"
        )
        values = {"code": STOP_REQUESTED, "mid": message_id, "uid": user_id, "now": utcnow()}
        return self.database.execute(query, values).rowcount == 1

    def request_thread_stop(self, user_id: str, conversation_id: str) -> bool | None:
        """Mark the answer being written in the user's conversation (its lease held) as asked to stop: True if
        there is one, False if the conversation is the user's but no answer runs, None if it is not the user's."""
        values = {"code": STOP_REQUESTED, "cid": conversation_id, "uid": user_id, "now": utcnow()}
        query = sql.statement(
            "UPDATE message SET error_code = :code WHERE conversation_id = :cid AND user_id = :uid "
            "AND role = 'assistant' AND status = 'streaming' AND EXISTS (SELECT 1 FROM conversation c "
            "WHERE c.id = :cid AND c.user_id = :uid AND c.turn_lease_until >= :now)"
        )

        def work(session: Session) -> bool | None:
            if sql.changed(session, query, values) > 0:
                return True
            owned = sa.text("SELECT 1 FROM conversation WHERE id = :cid AND user_id = :uid")
            return False if session.execute(owned, values).first() is not None else None

        return self.database.write(work)


def _progress_values(
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
