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
        *(
            sa.bindparam(name, type_=UTCDateTime())
            for name in ("now", "lease", "since", "created", "day")
            if f":{name}" in sql
        )
    )


SPENT_TODAY = f"""
    SELECT coalesce(sum(CASE WHEN role = 'user' THEN 1 ELSE 0 END), 0) AS turns,
           coalesce(sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)), 0) AS tokens
      FROM message WHERE user_id = :uid AND created_at >= :day AND item_type = '{conversations.CHAT_ITEM}'
"""


def allocate_seqs(count: int, *, messages: int) -> str:
    """The one seq allocation: the next `count` ordering keys of a conversation, `messages` of them chat messages
    (counted in its `message_count`). A SET clause of an UPDATE of the conversation that returns `last_seq`."""
    return f"last_seq = last_seq + {count}, message_count = message_count + {messages}"


CLAIM_SQL = f"""
    UPDATE conversation
       SET {allocate_seqs(2, messages=2)}, updated_at = :now,
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

MESSAGE_COLUMNS = (
    "id, conversation_id, user_id, seq, role, item_type, content, tool_calls, status, client_message_id, "
    "chatkit_item, created_at, updated_at"
)
# The conversation after its seqs were allocated (its `id`, its new `last_seq`): what message rows are selected from.
NO_TOOL_CALLS = "'[]'"
ALLOCATED = "claimed AS (SELECT id, last_seq FROM conversation WHERE id = :cid)"


def json_value(expression: str, *, postgres: bool) -> str:
    """A JSON column's value: PostgreSQL takes it cast, SQLite as text."""
    return f"CAST({expression} AS json)" if postgres else expression


def message_row(
    *,
    message: str,
    seq: str,
    role: str,
    status: str,
    postgres: bool,
    content: str = "''",
    item_type: str = f"'{conversations.CHAT_ITEM}'",
    client_id: str = "NULL",
    chatkit_item: str = "NULL",
    created: str = ":now",
) -> str:
    """The one shape of a message row the turn writes: a SELECT of `MESSAGE_COLUMNS`, in order, from `claimed` (the
    conversation's `id` and `last_seq` after the allocation); every argument an SQL expression."""
    return (
        f"SELECT CAST({message} AS varchar), id, CAST(:uid AS varchar), {seq}, '{role}', {item_type}, {content}, "
        f"{json_value(NO_TOOL_CALLS, postgres=postgres)}, '{status}', {client_id}, "
        f"{json_value(chatkit_item, postgres=postgres)}, {created}, {created} FROM claimed"
    )


def insert_messages(*rows: str) -> str:
    return f"INSERT INTO message ({MESSAGE_COLUMNS}) {' UNION ALL '.join(rows)} RETURNING seq"


def question_and_answer(*, postgres: bool) -> str:
    """The claim's two rows: the user's message (seq `last_seq - 1`) and its empty `streaming` answer."""
    return insert_messages(
        message_row(
            message=":user_msg",
            seq="last_seq - 1",
            role="user",
            status="complete",
            content="CAST(:text AS text)",
            client_id="CAST(:client_id AS varchar)",
            postgres=postgres,
        ),
        empty_answer(seq="last_seq", postgres=postgres),
    )


def empty_answer(*, seq: str, postgres: bool) -> str:
    return message_row(message=":assistant_msg", seq=seq, role="assistant", status="streaming", postgres=postgres)


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
        f"WITH claimed AS ({claim}), inserted AS ({question_and_answer(postgres=True)}){repair} "
        f"SELECT claimed.last_seq, {repaired} AS repaired, {context} FROM claimed {lateral}"
    )


def changed(session: Session, statement: sa.Executable, values: dict[str, Any]) -> int:
    result = cast(CursorResult[Any], session.execute(statement, values))  # a statement, not an ORM query
    return int(result.rowcount)


def typed(statement: sa.TextClause) -> sa.TextualSelect:
    """A raw select of context columns whose JSON columns come back decoded, as the table model has them."""
    return statement.columns(tool_calls=sa.JSON(), chatkit_item=sa.JSON())
