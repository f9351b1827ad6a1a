"""Every statement of a turn is an index probe on PostgreSQL, however long the conversation: the plans of a real
claim, progress save, heartbeat, stop check and finish (plain and ChatKit paths), taken over a conversation of
thousands of messages after ANALYZE, read no message row by a sequential scan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from functions.chat.turn.store import TurnStore
from functions.chat.turn.types import TurnStart
from tests.support.factories import add_message, fill_conversation, seed_conversation
from todo_common.db import Database
from todo_common.models import Conversation, utcnow

USER = "user_long"
MESSAGES = 5_000

pytestmark = pytest.mark.parametrize("backend", ["postgres"])  # the plans are PostgreSQL's


@pytest.fixture
def long_conversation(database: Database) -> str:
    """A conversation of MESSAGES finished messages whose last answer died `streaming` (its lease ran out)."""
    conversation = seed_conversation(database, USER)
    fill_conversation(database.engine.url.render_as_string(hide_password=False), conversation.id, USER, MESSAGES)
    add_message(database, conversation.id, "half an answer", role="assistant", status="streaming")
    expired = utcnow() - timedelta(minutes=5)

    def expire(session: Any) -> None:
        held = session.get(Conversation, conversation.id)
        held.turn_lease_until, held.turn_owner = expired, "turn_dead"

    database.write(expire)
    return conversation.id


def statements_of(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SQL the database was sent meanwhile, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if not executemany:
            sent.append((statement, parameters))

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


def message_scans(database: Database, statement: str, parameters: Any) -> list[str]:
    """The plan nodes of `statement` that read the message table without an index."""
    with database.engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        explained = cursor.fetchone()
        assert explained is not None
        plan = explained[0][0]["Plan"]
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "message":
            found.append(f"{node['Node Type']} on message, filter {node.get('Filter')}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found


def assert_all_indexed(database: Database, sent: list[tuple[str, Any]]) -> None:
    on_messages = [(sql, values) for sql, values in sent if "message" in sql]
    assert on_messages, "the turn sent no statement on message"
    scans = {sql: message_scans(database, sql, values) for sql, values in on_messages}
    assert {sql: found for sql, found in scans.items() if found} == {}


def test_a_plain_turn_reads_messages_through_indexes_only(database: Database, long_conversation: str) -> None:
    store = TurnStore(database, history_limit=12, rate_limit_per_minute=100, lease_seconds=30)
    for sent in statements_of(database):
        start = store.leases.claim(USER, long_conversation, "what is left?")
        assert isinstance(start, TurnStart) and start.lease.repaired == 1
        assert store.save_progress(start.lease, start.assistant_message_id, "Two", []) is False
        store.leases.renew(start.lease)
        assert store.reads.stop_requested(start.assistant_message_id) is False
        assert store.finish(start.lease, start.assistant_message_id, content="Two things.", calls=[], status="complete")
        assert_all_indexed(database, sent)


def test_a_chatkit_turn_reads_messages_through_indexes_only(database: Database, long_conversation: str) -> None:
    store = TurnStore(database, history_limit=12, rate_limit_per_minute=100, lease_seconds=30)
    for sent in statements_of(database):
        lease = store.leases.take_lease(USER, long_conversation, counts_as_message=True)
        assert lease.repaired == 1
        start = store.start_reply(lease, USER)
        assert store.finish(lease, start.assistant_message_id, content="Done.", calls=[], status="complete")
        assert_all_indexed(database, sent)
