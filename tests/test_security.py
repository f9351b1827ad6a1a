"""Security evidence: forged tokens on every route and ChatKit request type, one user against another's data
through every door (routes, ChatKit, MCP tools, the model's own tool calls), and injection attempts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import col, select

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from functions.history.routes import router as history_router
from functions.session.routes import router as session_router
from tests.support.attacks import attack_tokens
from tests.support.chat import chat_app
from tests.support.factories import seed_conversation
from tests.support.jwks import JwksServer
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.settings import Settings
from todo_common.web import Services, build_app

ALICE, BOB = "user_alice", "user_bob"
CONVERSATION = "thr_00000000000000000000000000000000"
CHATKIT_TYPES = {
    "threads.create": {
        "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
    },
    "threads.add_user_message": {
        "thread_id": CONVERSATION,
        "input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}},
    },
    "threads.get_by_id": {"thread_id": CONVERSATION},
    "threads.list": {"limit": 5},
    "items.list": {"thread_id": CONVERSATION},
    "threads.update": {"thread_id": CONVERSATION, "title": "x"},
    "threads.delete": {"thread_id": CONVERSATION},
    "threads.retry_after_item": {"thread_id": CONVERSATION, "item_id": "msg_x"},
    "items.feedback": {"thread_id": CONVERSATION, "item_ids": ["msg_x"], "kind": "positive"},
    "threads.add_client_tool_output": {"thread_id": CONVERSATION, "result": {}},
    "threads.custom_action": {"thread_id": CONVERSATION, "action": {"type": "x"}},
    "threads.sync_custom_action": {"thread_id": CONVERSATION, "action": {"type": "x"}},
}
ROUTES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("session", "POST", "/api/{user}/chatkit/session", {}),
    ("history", "GET", "/api/{user}/conversations", None),
    ("history", "GET", f"/api/{{user}}/conversations/{CONVERSATION}", None),
    ("history", "GET", f"/api/{{user}}/conversations/{CONVERSATION}/messages", None),
    ("history", "GET", f"/api/{{user}}/conversations/{CONVERSATION}/export", None),
    ("history", "PATCH", f"/api/{{user}}/conversations/{CONVERSATION}", {"title": "x"}),
    ("history", "DELETE", f"/api/{{user}}/conversations/{CONVERSATION}", None),
    ("chat", "POST", "/api/{user}/chat", {"message": "add buy milk"}),
    *[
        ("chat", "POST", "/api/{user}/chatkit", {"type": kind, "params": params})
        for kind, params in CHATKIT_TYPES.items()
    ],
]


@pytest.fixture
def apps(services: Services) -> Iterator[dict[str, TestClient]]:
    chat = chat_app(services, ScriptedModel([[assistant_message("never")]] * 50))
    mount_mcp(chat, services, ChatSettings.from_environ({}))
    built: dict[str, FastAPI] = {
        "session": build_app("session", services, [session_router]),
        "history": build_app("history", services, [history_router]),
        "chat": chat,
    }
    clients = {name: TestClient(app, raise_server_exceptions=False) for name, app in built.items()}
    yield clients
    for client in clients.values():
        client.close()


def send(client: TestClient, method: str, path: str, body: dict[str, Any] | None, token: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return client.request(method, path, json=body, headers=headers)


def everything_of(database: Database) -> tuple[list[Any], list[Any]]:
    messages = database.read(lambda s: [(m.id, m.content, m.status) for m in s.exec(select(Message))])
    tasks = database.read(lambda s: [(t.id, t.user_id, t.title, t.completed) for t in s.exec(select(Task))])
    return sorted(messages), sorted(tasks)


def seed_alices_world(database: Database) -> None:
    seed_conversation(database, ALICE, title="Alice's", messages=2)
    database.write(lambda s: s.add(Task(user_id=ALICE, title="alice's task")))


def test_every_route_and_chatkit_request_refuses_forged_tokens(
    apps: dict[str, TestClient], database: Database, settings: Settings, jwks: JwksServer, tokens: Tokens
) -> None:
    seed_alices_world(database)
    before = everything_of(database)
    attacks = attack_tokens(ALICE, settings, jwks, tokens)
    for function, method, template, body in ROUTES:
        for name, token in attacks.items():
            response = send(apps[function], method, template.format(user=ALICE), body, token)
            assert response.status_code == 401, (template, body and body.get("type"), name, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["error"]["code"] == "unauthorized"
    assert everything_of(database) == before


def test_the_wrong_kind_of_token_is_refused_where_it_does_not_belong(
    apps: dict[str, TestClient], tokens: Tokens
) -> None:
    response = send(apps["session"], "POST", f"/api/{ALICE}/chatkit/session", {}, tokens.chat(ALICE))
    assert response.status_code == 401


def test_one_user_never_reaches_anothers_data_through_any_route(
    apps: dict[str, TestClient], database: Database, tokens: Tokens
) -> None:
    bobs = seed_conversation(database, BOB, title="Bob's secret plans", messages=2)
    database.write(lambda s: s.add(Task(user_id=BOB, title="bob's task")))
    before = everything_of(database)
    alice = tokens.chat(ALICE)
    for function, method, template, body in ROUTES:
        path = template.format(user=ALICE).replace(CONVERSATION, bobs.id)
        payload = json.loads(json.dumps(body).replace(CONVERSATION, bobs.id)) if body else body
        response = send(apps[function], method, path, payload, tokens.hs256(ALICE) if function == "session" else alice)
        text = response.text
        assert "Bob's secret plans" not in text
        assert "bob's task" not in text
        if bobs.id in json.dumps(payload or {}) + path:
            assert response.status_code == 403, (path, payload)
        # Alice's own path with Bob's token is refused as well.
        as_bob = send(apps[function], method, template.format(user=ALICE), body, tokens.chat(BOB))
        assert as_bob.status_code == (401 if function == "session" else 403), (template, body)
    messages, tasks = everything_of(database)
    assert [m for m in messages if m in before[0]] == before[0]
    assert [t for t in tasks if t[1] == BOB] == [t for t in before[1] if t[1] == BOB]


def test_the_model_cannot_reach_another_users_tasks(services: Services, database: Database, tokens: Tokens) -> None:
    database.write(lambda s: s.add(Task(user_id=BOB, title="bob's task")))
    bobs_task = database.read(lambda s: s.exec(select(Task).where(Task.user_id == BOB)).one())
    model = ScriptedModel(
        [
            [
                function_call("list_tasks", {"status": "all", "user_id": BOB}, call_id="c1"),
                function_call("complete_task", {"task_id": bobs_task.id}, call_id="c2"),
                function_call("delete_task", {"task_id": bobs_task.id, "user_id": BOB}, call_id="c3"),
                function_call("update_task", {"task_id": bobs_task.id, "title": "pwned"}, call_id="c4"),
            ],
            [assistant_message("I tried.")],
        ]
    )
    with TestClient(chat_app(services, model)) as client:
        body = client.post(
            f"/api/{ALICE}/chat", json={"message": "mess with bob"}, headers=tokens.headers(ALICE)
        ).json()

    listed, *changes = body["tool_calls"]
    assert listed["result"]["tasks"] == []
    assert [c["status"] for c in changes] == ["failure", "failure", "failure"]
    assert all(c["result"]["error"]["code"] == "task_not_found" for c in changes)
    after = database.read(lambda s: s.exec(select(Task).where(Task.user_id == BOB)).one())
    assert (after.title, after.completed) == ("bob's task", False)


INJECTIONS = [
    "'; DROP TABLE message; --",
    "%' OR '1'='1",
    "<script>alert(1)</script>",
    "{{7*7}} ${7*7} \\x00",
    'Robert"); DELETE FROM task;--',
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_attempts_are_stored_and_returned_verbatim(
    services: Services, database: Database, tokens: Tokens, payload: str
) -> None:
    headers = tokens.headers(ALICE)
    model = ScriptedModel([[function_call("add_task", {"title": payload}, call_id="c1")], [assistant_message(payload)]])
    with TestClient(chat_app(services, model)) as chat:
        turn = chat.post(f"/api/{ALICE}/chat", json={"message": payload}, headers=headers).json()
    with TestClient(build_app("history", services, [history_router])) as history:
        conversation = f"/api/{ALICE}/conversations/{turn['conversation_id']}"
        assert history.patch(conversation, json={"title": payload[:200]}, headers=headers).json()["title"] == payload
        found = history.get(f"/api/{ALICE}/conversations", params={"q": payload}, headers=headers).json()["items"]
        messages = history.get(f"{conversation}/messages", headers=headers).json()["items"]
    assert [c["id"] for c in found] == [turn["conversation_id"]]
    assert [m["content"] for m in messages] == [payload, payload]
    titles = database.read(lambda s: [t.title for t in s.exec(select(Task).order_by(col(Task.id)))])
    assert titles == [" ".join(payload.split())]
