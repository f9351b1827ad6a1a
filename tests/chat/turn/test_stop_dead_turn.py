"""Stop on a turn that died: no answer of the caller's is being written, so Stop says so (409 while the dead turn's
lease has not run out, 404 after), and the stop request, an internal marker, never shows in history or ChatKit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel
from chatkit.types import ItemsListParams, ItemsListReq

from functions.history.routes import router as history_router
from tests.support.chat import chat_app
from tests.support.factories import add_message, seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, utcnow
from todo_common.web import Services, build_app

ALICE = "user_alice"


@pytest.fixture
def bases(services: Services) -> Iterator[tuple[str, str]]:
    with (
        Server(chat_app(services, ScriptedModel([]))) as chat,
        Server(build_app("history", services, [history_router])) as history,
    ):
        yield chat, history


def dead_turn(database: Database, lease_left: timedelta) -> tuple[str, str]:
    """A conversation whose turn died mid-answer: its answer `streaming`, its lease ending after `lease_left`."""
    conversation = seed_conversation(database, ALICE)
    add_message(database, conversation.id, "tell me")
    answer = add_message(database, conversation.id, "Once upon", role="assistant", status="streaming")

    def lease(session: Any) -> None:
        row = session.get(Conversation, conversation.id)
        row.turn_lease_until, row.turn_owner = utcnow() + lease_left, "a turn whose process died"
        session.add(row)

    database.write(lease)
    return conversation.id, answer.id


def shown(chat: str, history: str, tokens: Tokens, conversation_id: str) -> tuple[Any, Any]:
    """The answer as history's page and ChatKit's items show it."""
    headers = tokens.headers(ALICE)
    page = httpx.get(f"{history}/api/{ALICE}/conversations/{conversation_id}/messages", headers=headers).json()
    items = httpx.post(
        f"{chat}/api/{ALICE}/chatkit",
        content=ItemsListReq(params=ItemsListParams(thread_id=conversation_id)).model_dump_json(),
        headers={**headers, "Content-Type": "application/json"},
    ).json()
    return page["items"][-1], items["data"][-1]


def test_stop_on_a_dead_turn_whose_lease_still_runs_is_409_and_leaks_no_marker(
    bases: tuple[str, str], database: Database, tokens: Tokens
) -> None:
    chat, history = bases
    conversation_id, answer_id = dead_turn(database, timedelta(seconds=30))
    started = time.monotonic()
    stop = httpx.post(f"{chat}/api/{ALICE}/chat/messages/{answer_id}/stop", headers=tokens.headers(ALICE), timeout=30)
    assert stop.status_code == 409, stop.text
    assert stop.json()["error"]["code"] == "turn_not_responding"
    assert "not being written" in stop.json()["error"]["message"]
    assert time.monotonic() - started < 10
    message, item = shown(chat, history, tokens, conversation_id)
    assert message["status"] == "streaming"
    assert message["error_code"] is None  # never the internal `stop_requested`
    assert "stop_requested" not in str(item)


def test_stop_on_a_dead_turn_whose_lease_ran_out_is_404(
    bases: tuple[str, str], database: Database, tokens: Tokens
) -> None:
    chat, history = bases
    conversation_id, answer_id = dead_turn(database, timedelta(seconds=-1))
    stop = httpx.post(f"{chat}/api/{ALICE}/chat/messages/{answer_id}/stop", headers=tokens.headers(ALICE), timeout=30)
    assert stop.status_code == 404
    assert stop.json()["error"] == {"code": "not_found", "message": "No answer of yours is being written with this id."}
    message, item = shown(chat, history, tokens, conversation_id)
    assert (message["status"], message["error_code"]) == ("error", "interrupted")
    assert "stop_requested" not in str(item)
