"""Faults: the database restarting between invocations, and a tool failing in the middle of a turn."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from agents.testing import ScriptedModel, assistant_message, function_call
from fastapi.testclient import TestClient

from functions.history.routes import router as history_router
from tests.support.chat import chat_app
from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services, build_app

ALICE = "user_alice"


def kill_pooled_connections(database: Database) -> int:
    """What a database restart (or Neon scaling to zero) does to the connections a warm container holds."""
    admin = sa.create_engine(database.engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    return int(killed)


@pytest.mark.parametrize("backend", ["postgres"])  # connections can only be killed on PostgreSQL
def test_next_request_succeeds_after_the_database_dropped_every_connection(
    services: Services, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE, messages=2)
    history = TestClient(build_app("history", services, [history_router]))
    chat = TestClient(chat_app(services, ScriptedModel([[assistant_message("still here")]])))
    url = f"/api/{ALICE}/conversations/{conversation.id}/messages"
    assert history.get(url, headers=tokens.headers(ALICE)).status_code == 200

    assert kill_pooled_connections(database) >= 1
    assert history.get(url, headers=tokens.headers(ALICE)).status_code == 200

    kill_pooled_connections(database)
    turn = chat.post(
        f"/api/{ALICE}/chat",
        json={"message": "hello", "conversation_id": conversation.id},
        headers=tokens.headers(ALICE),
    )
    assert turn.status_code == 200, turn.text
    assert turn.json()["response"] == "still here"
    history.close()
    chat.close()


def test_a_failing_tool_is_reported_and_the_turn_still_ends(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = ScriptedModel(
        [
            [function_call("complete_task", {"task_id": "not a number"}, call_id="c1")],
            [assistant_message("That task id looks wrong.")],
        ]
    )
    with TestClient(chat_app(services, model)) as client:
        response = client.post(f"/api/{ALICE}/chat", json={"message": "done abc"}, headers=tokens.headers(ALICE))
    body = response.json()
    assert response.status_code == 200
    assert body["tool_calls"][0]["status"] == "failure"
    assert body["tool_calls"][0]["result"]["error"]["code"] == "invalid_arguments"
    assert body["response"] == "That task id looks wrong."
