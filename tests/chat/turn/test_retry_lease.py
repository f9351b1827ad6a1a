"""A ChatKit retry on a long thread keeps its conversation: the items after the retried message go in one statement
under the request's lease, which is renewed while the request runs, so a plain /chat turn sent meanwhile waits for
the retry to end instead of taking the conversation over. Never both write."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import sqlalchemy as sa
from chatkit.types import ThreadRetryAfterItemParams, ThreadsRetryAfterItemReq
from sqlmodel import col, select

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import chat_app, parse_sse
from tests.support.factories import add_message, seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, Message, new_id, utcnow
from todo_common.web import Services

ALICE = "user_alice"
OLD_ROWS = 3000
LEASE_SECONDS = 3


def long_thread(database: Database) -> tuple[str, str]:
    """A thread whose first message is followed by OLD_ROWS answers (one executemany): (thread id, message id)."""
    conversation = seed_conversation(database, ALICE)
    question = add_message(database, conversation.id, "list my tasks")
    now = utcnow()
    rows = [
        {
            "id": new_id("msg"),
            "conversation_id": conversation.id,
            "user_id": ALICE,
            "seq": question.seq + 1 + index,
            "role": "assistant",
            "item_type": "message",
            "content": f"old answer {index}",
            "tool_calls": [],
            "status": "complete",
            "created_at": now,
            "updated_at": now,
        }
        for index in range(OLD_ROWS)
    ]

    def fill(session: Any) -> None:
        session.execute(sa.insert(Message), rows)
        session.execute(
            sa.update(Conversation)
            .where(col(Conversation.id) == conversation.id)
            .values(last_seq=question.seq + OLD_ROWS, message_count=1 + OLD_ROWS)
        )

    database.write(fill)
    return conversation.id, question.id


def test_a_retry_on_a_long_thread_is_never_overtaken_by_another_turn(
    services: Services, database: Database, tokens: Tokens
) -> None:
    thread_id, question_id = long_thread(database)
    app = chat_app(services, OfflineModel(), lease_seconds=LEASE_SECONDS)
    headers = tokens.headers(ALICE)
    results: dict[str, Any] = {}
    with Server(app) as base:

        def retry() -> None:
            request = ThreadsRetryAfterItemReq(
                params=ThreadRetryAfterItemParams(thread_id=thread_id, item_id=question_id)
            )
            response = httpx.post(
                f"{base}/api/{ALICE}/chatkit",
                content=request.model_dump_json(),
                headers={**headers, "Content-Type": "application/json"},
                timeout=120,
            )
            results["retry"] = (response.status_code, [data for _, data in parse_sse(response.text.splitlines())])

        retrying = threading.Thread(target=retry)
        started = time.monotonic()
        retrying.start()
        while database.read(lambda session: session.get_one(Conversation, thread_id)).turn_owner is None:
            assert time.monotonic() - started < 30
            time.sleep(0.02)  # until the retry holds the conversation
        plain = httpx.post(
            f"{base}/api/{ALICE}/chat",
            json={"message": "add buy milk", "conversation_id": thread_id},
            headers=headers,
            timeout=120,
        )
        retrying.join(120)
    status, events = results["retry"]
    assert status == 200
    assert [e for e in events if e["type"] == "error"] == []  # the retry kept its conversation to the end
    assert plain.status_code == 200, plain.text

    def rows(session: Any) -> list[Message]:
        return list(
            session.exec(select(Message).where(Message.conversation_id == thread_id).order_by(col(Message.seq)))
        )

    stored = database.read(rows)
    assert not [m for m in stored if m.content.startswith("old answer")]  # the retried items are gone
    chat_rows = [(m.role, m.status, m.content) for m in stored if m.item_type == "message"]
    assert [(role, status) for role, status, _ in chat_rows] == [
        ("user", "complete"),
        ("assistant", "complete"),  # the retry's answer, written whole before the plain turn began
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert chat_rows[2][2] == "add buy milk"
    conversation = database.read(lambda session: session.get_one(Conversation, thread_id))
    assert conversation.message_count == 4
    assert time.monotonic() - started < 60
