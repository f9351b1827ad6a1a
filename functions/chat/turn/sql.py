"""The SQL of a turn, each rule once: the lease (free, renewed, released), the rate limit, the repair of a dead
turn, the agent's context, and the claim that does them in one statement on PostgreSQL."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlmodel import Session

from todo_common import conversations
from todo_common.models import UTCDateTime

# -- the rules --------------------------------------------------------------------------------------------

LEASE_FREE = "(turn_lease_until IS NULL OR turn_lease_until < :now)"
RECENT_MESSAGES = "FROM message WHERE user_id = :uid AND role = 'user' AND created_at > :since"
UNDER_RATE = f"(SELECT count(*) {RECENT_MESSAGES}) < :rate"
OWNED_BY_TURN = "EXISTS (SELECT 1 FROM conversation c WHERE c.id = :cid AND c.turn_owner = :owner)"
REPAIR = (
    "UPDATE message SET status = 'error', error_code = 'interrupted', updated_at = :now "
    "WHERE conversation_id = :cid AND status = 'streaming'"
)
# What the agent's context reads: chat messages, and ChatKit's hidden context items (never shown, but for the model).
IN_CONTEXT = "item_type IN ('message', 'hidden_context_item', 'sdk_hidden_context')"
CONTEXT_COLUMNS = (
    "id, role, item_type, content, tool_calls, status, error_code, chatkit_item"  # ContextMessage, in order
)


def context_sql(*, before_answer: bool = False) -> str:
    """The agent's context, the one select of it: the newest `:limit` context rows of conversation `:cid`, newest
    first (only those before seq `:seq`, the answer a rerun writes again, with `before_answer`)."""
    before = " AND seq < :seq" if before_answer else ""
    return (
        f"SELECT {CONTEXT_COLUMNS} FROM message WHERE conversation_id = :cid AND {IN_CONTEXT}{before} "
        "ORDER BY seq DESC LIMIT :limit"
    )


def statement(sql: str) -> sa.TextClause:
    """Raw SQL with the turn's datetimes bound as UTC columns (SQLite keeps naive UTC)."""
    return sa.text(sql).bindparams(
        *(sa.bindparam(name, type_=UTCDateTime()) for name in ("now", "lease", "since", "created") if f":{name}" in sql)
    )


CLAIM_SQL = f"""
    UPDATE conversation
       SET last_seq = last_seq + 2, message_count = message_count + 2, updated_at = :now,
           turn_lease_until = :lease, turn_owner = :owner
     WHERE id = :cid AND user_id = :uid AND {LEASE_FREE} AND {UNDER_RATE}
    RETURNING id, last_seq
"""


def create_sql(messages: int) -> str:
    """A new conversation under the claim's lease, its first `messages` seqs handed out, under the rate limit."""
    return f"""
    INSERT INTO conversation (id, user_id, title, message_count, last_seq, turn_lease_until, turn_owner,
                              created_at, updated_at)
    SELECT CAST(:cid AS varchar), CAST(:uid AS varchar), CAST(:title AS varchar), {messages}, {messages}, :lease,
           CAST(:owner AS varchar), :now, :now
     WHERE {UNDER_RATE}
    RETURNING id, last_seq
"""


CREATE_SQL = create_sql(2)  # the question and its answer


def lease_sql(*, counts_as_message: bool) -> str:
    rate = f" AND {UNDER_RATE}" if counts_as_message else ""
    return (
        "UPDATE conversation SET turn_lease_until = :lease, turn_owner = :owner "
        f"WHERE id = :cid AND user_id = :uid AND {LEASE_FREE}{rate} RETURNING id"
    )


RELEASE_SQL = (
    "UPDATE conversation SET turn_lease_until = NULL, turn_owner = NULL WHERE id = :cid AND turn_owner = :owner"
)

INSERT_MESSAGES = """
    INSERT INTO message (id, conversation_id, user_id, seq, role, item_type, content, tool_calls, status,
                         client_message_id, created_at, updated_at)
    SELECT CAST(:user_msg AS varchar), id, CAST(:uid AS varchar), last_seq - 1, 'user', 'message',
           CAST(:text AS text), CAST('[]' AS json), 'complete', CAST(:client_id AS varchar), :now, :now FROM claimed
    UNION ALL
    SELECT CAST(:assistant_msg AS varchar), id, CAST(:uid AS varchar), last_seq, 'assistant', 'message', '',
           CAST('[]' AS json), 'streaming', NULL, :now, :now FROM claimed
    RETURNING seq
"""


def claim_postgres(new: bool) -> str:
    """Claim, repair, both messages and the context in one statement (PostgreSQL runs data-modifying CTEs; the
    final select sees the rows as they were before the statement, so the context is the conversation before this
    turn, with the repaired rows still `streaming`)."""
    claim = CREATE_SQL if new else CLAIM_SQL
    context = "NULL::text AS id" if new else f"m.{', m.'.join(CONTEXT_COLUMNS.split(', '))}"
    lateral = "" if new else f"LEFT JOIN LATERAL ({context_sql()}) m ON true"
    repair = "" if new else f", repaired AS ({REPAIR} AND EXISTS (SELECT 1 FROM claimed) RETURNING id)"
    repaired = "0" if new else "(SELECT count(*) FROM repaired)"
    return (
        f"WITH claimed AS ({claim}), inserted AS ({INSERT_MESSAGES}){repair} "
        f"SELECT claimed.last_seq, {repaired} AS repaired, {context} FROM claimed {lateral}"
    )


def changed(session: Session, statement: sa.Executable, values: dict[str, Any]) -> int:
    result = cast(CursorResult[Any], session.execute(statement, values))  # a statement, not an ORM query
    return int(result.rowcount)


def typed(statement: sa.TextClause) -> sa.TextualSelect:
    """A raw select of context columns whose JSON columns come back decoded, as the table model has them."""
    return statement.columns(tool_calls=sa.JSON(), chatkit_item=sa.JSON())


def message_row(
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
