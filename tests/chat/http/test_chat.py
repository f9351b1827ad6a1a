"""The plain chat endpoint and the turn's lifecycle, through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from fastapi.testclient import TestClient
from sqlmodel import col, select

from tests.support.chat import BreakingModel, PausingModel, chat_app, parse_sse
from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, Message, Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def add_milk_script() -> ScriptedModel:
    return ScriptedModel(
        [
            [function_call("add_task", {"title": "buy milk"}, call_id="call_1")],
            [assistant_message("Added “buy milk” to your list.")],
        ]
    )


@pytest.fixture
def model() -> ScriptedModel:
    return add_milk_script()


@pytest.fixture
def client(services: Services, model: ScriptedModel) -> Iterator[TestClient]:
    with TestClient(chat_app(services, model), raise_server_exceptions=False) as test_client:
        yield test_client


def messages_of(database: Database, conversation_id: str) -> list[Message]:
    return database.read(
        lambda s: list(
            s.exec(select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.seq)))
        )
    )


def test_json_turn_calls_the_tool_and_stores_both_messages(
    client: TestClient, database: Database, tokens: Tokens
) -> None:
    response = client.post(f"/api/{ALICE}/chat", json={"message": "add buy milk"}, headers=tokens.headers(ALICE))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "Added “buy milk” to your list."
    assert [(c["name"], c["status"]) for c in body["tool_calls"]] == [("add_task", "success")]
    assert body["tool_calls"][0]["result"]["status"] == "created"
    stored = messages_of(database, body["conversation_id"])
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[1].id == body["message_id"]
    assert stored[1].tool_calls[0]["name"] == "add_task"
    tasks = database.read(lambda s: list(s.exec(select(Task))))
    assert [(t.user_id, t.title) for t in tasks] == [(ALICE, "buy milk")]


def test_sse_stream_events_in_documented_order(client: TestClient, tokens: Tokens) -> None:
    headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
    with client.stream("POST", f"/api/{ALICE}/chat", json={"message": "add buy milk"}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache, no-transform"
        events = parse_sse(response.iter_lines())

    names = [name for name, _ in events]
    assert names[0] == "conversation"
    assert names[-1] == "done"
    assert names.index("tool_call_started") < names.index("tool_call_finished") < names.index("text_delta")
    finished = dict(events)["tool_call_finished"]
    assert finished["status"] == "success"
    assert finished["name"] == "add_task"
    text = "".join(data["delta"] for name, data in events if name == "text_delta")
    assert text == dict(events)["done"]["response"]


def test_context_is_rebuilt_from_the_database(services: Services, database: Database, tokens: Tokens) -> None:
    model = ScriptedModel([[assistant_message("first answer")], [assistant_message("second answer")]])
    with TestClient(chat_app(services, model)) as client:
        first = client.post(f"/api/{ALICE}/chat", json={"message": "hello"}, headers=tokens.headers(ALICE)).json()
    # A new app (a new container) continues the same conversation from what is stored.
    with TestClient(chat_app(services, model)) as client:
        client.post(
            f"/api/{ALICE}/chat",
            json={"message": "and again", "conversation_id": first["conversation_id"]},
            headers=tokens.headers(ALICE),
        )
    sent = json.dumps(model.last_call.input if model.last_call else None, default=str)
    assert "hello" in sent
    assert "first answer" in sent
    assert "and again" in sent


def test_failing_model_keeps_the_partial_answer_with_status_error(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = BreakingModel(ScriptedModel([[assistant_message("The first half of an answer")]]), after=1)
    with TestClient(chat_app(services, model)) as client:
        response = client.post(f"/api/{ALICE}/chat", json={"message": "hello there"}, headers=tokens.headers(ALICE))

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "model_error"
    stored = messages_of(database, error["conversation_id"])
    assert stored[-1].status == "error"
    assert stored[-1].content == error["partial_response"]
    assert stored[-1].content != ""


def test_retry_with_the_same_client_message_id_returns_the_same_turn(
    client: TestClient, database: Database, tokens: Tokens
) -> None:
    payload = {"message": "add buy milk", "client_message_id": "c-123"}
    first = client.post(f"/api/{ALICE}/chat", json=payload, headers=tokens.headers(ALICE)).json()
    again = client.post(f"/api/{ALICE}/chat", json=payload, headers=tokens.headers(ALICE)).json()

    assert again == first
    assert len(messages_of(database, first["conversation_id"])) == 2
    assert len(database.read(lambda s: list(s.exec(select(Task))))) == 1


def test_rate_limit_answers_429_with_retry_after(services: Services, database: Database, tokens: Tokens) -> None:
    model = ScriptedModel([[assistant_message("ok")], [assistant_message("ok")]])
    with TestClient(chat_app(services, model, rate_limit_per_minute=2)) as client:
        codes = [
            client.post(f"/api/{ALICE}/chat", json={"message": f"hi {i}"}, headers=tokens.headers(ALICE)).status_code
            for i in range(2)
        ]
        limited = client.post(f"/api/{ALICE}/chat", json={"message": "one more"}, headers=tokens.headers(ALICE))
    assert codes == [200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    conversations = database.read(lambda s: list(s.exec(select(Conversation))))
    assert len(conversations) == 2, "a refused turn leaves no empty conversation behind"


def test_message_length_limit(services: Services, tokens: Tokens) -> None:
    with TestClient(chat_app(services, ScriptedModel([]), max_message_chars=10)) as client:
        response = client.post(f"/api/{ALICE}/chat", json={"message": "x" * 11}, headers=tokens.headers(ALICE))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "message_too_long"


@pytest.mark.parametrize(
    "body",
    [{}, {"message": ""}, {"message": 5}, {"message": "hi", "conversation_id": ""}, {"message": "hi", "extra": 1}],
)
def test_bad_bodies_are_422(client: TestClient, tokens: Tokens, body: dict[str, object]) -> None:
    response = client.post(f"/api/{ALICE}/chat", json=body, headers=tokens.headers(ALICE))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_another_users_conversation_is_forbidden_and_unchanged(
    client: TestClient, database: Database, tokens: Tokens
) -> None:
    bobs = seed_conversation(database, BOB, messages=2)
    response = client.post(
        f"/api/{ALICE}/chat", json={"message": "hi", "conversation_id": bobs.id}, headers=tokens.headers(ALICE)
    )
    assert response.status_code == 403
    assert len(messages_of(database, bobs.id)) == 2
    wrong_path = client.post(f"/api/{BOB}/chat", json={"message": "hi"}, headers=tokens.headers(ALICE))
    assert wrong_path.status_code == 403


def test_two_turns_at_once_are_serialized(services: Services, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE)
    model = PausingModel(ScriptedModel([[assistant_message("answer one")], [assistant_message("answer two")]]), 0.3)
    app = chat_app(services, model)

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            return list(
                await asyncio.gather(
                    *(
                        http.post(
                            f"/api/{ALICE}/chat",
                            json={"message": text, "conversation_id": conversation.id},
                            headers=tokens.headers(ALICE),
                        )
                        for text in ("question one", "question two")
                    )
                )
            )

    responses = asyncio.run(both())
    assert [r.status_code for r in responses] == [200, 200]
    roles = [(m.role, m.status) for m in messages_of(database, conversation.id)]
    assert roles == [("user", "complete"), ("assistant", "complete")] * 2
    stored = messages_of(database, conversation.id)
    assert {stored[1].content, stored[3].content} == {"answer one", "answer two"}
