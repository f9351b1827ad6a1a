"""The real OpenAI model path (Agents SDK + `openai` client over HTTP) against a local fake of the API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from agents.testing import assistant_message, function_call
from fastapi.testclient import TestClient
from sqlmodel import select

from functions.chat.agent.providers import select_model
from functions.chat.http.routes import router
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services, build_app


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(
        [
            [function_call("add_task", {"title": "buy milk"}, call_id="call_abc")],
            [assistant_message("I added “buy milk” to your list.")],
        ]
    )
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


def test_responses_api_turn_end_to_end(
    fake_openai: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens
) -> None:
    fake, base_url = fake_openai
    settings = dataclasses.replace(
        ChatSettings.from_environ({}), openai_api_key="sk-test-fake", openai_base_url=base_url, chat_model="gpt-test"
    )
    app = build_app("chat", services, [router])
    app.state.chat = ChatRuntime.build(services, settings, select_model(settings), build_task_server())

    with TestClient(app) as client:
        response = client.post(
            "/api/user_alice/chat", json={"message": "add buy milk"}, headers=tokens.headers("user_alice")
        )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "I added “buy milk” to your list."
    assert body["tool_calls"][0]["status"] == "success"
    assert [t.title for t in database.read(lambda s: list(s.exec(select(Task))))] == ["buy milk"]
    first, second = fake.requests
    assert first["model"] == "gpt-test"
    assert [tool["name"] for tool in first["tools"]] == [
        "add_task",
        "list_tasks",
        "complete_task",
        "reopen_task",
        "delete_task",
        "update_task",
    ]
    outputs = [item for item in second["input"] if item.get("type") == "function_call_output"]
    assert outputs[0]["call_id"] == "call_abc"
    assert '"status": "created"' in outputs[0]["output"]


def test_agent_tracing_is_off_unless_asked_for() -> None:
    from agents.tracing import get_trace_provider

    base = ChatSettings.from_environ({})
    for settings, traced in (
        (dataclasses.replace(base, openai_api_key="sk-test"), False),
        (dataclasses.replace(base, openai_api_key="sk-test", agent_tracing=True), True),
        (dataclasses.replace(base, openai_api_key="sk-test", agent_tracing=True, openai_base_url="http://x/v1"), False),
        (dataclasses.replace(base, agent_tracing=True), False),
    ):
        select_model(settings)
        assert get_trace_provider()._disabled is not traced  # type: ignore[attr-defined]
    select_model(base)
    assert ChatSettings.from_environ({"CHAT_AGENT_TRACING": "true"}).agent_tracing is True


@pytest.mark.parametrize(
    ("key", "reachable", "says"),
    [("sk-wrong", True, "OPENAI_API_KEY"), ("sk-test-fake", False, "OPENAI_BASE_URL and the network")],
)
def test_a_bad_key_or_an_unreachable_provider_says_what_to_check(
    fake_openai: tuple[FakeOpenAI, str], services: Services, tokens: Tokens, key: str, reachable: bool, says: str
) -> None:
    _, base_url = fake_openai
    url = base_url if reachable else "http://127.0.0.1:9/v1"  # the discard port: nothing listens there
    settings = dataclasses.replace(ChatSettings.from_environ({}), openai_api_key=key, openai_base_url=url)
    app = build_app("chat", services, [router])
    app.state.chat = ChatRuntime.build(services, settings, select_model(settings), build_task_server())
    with TestClient(app) as client:
        response = client.post("/api/user_alice/chat", json={"message": "hi"}, headers=tokens.headers("user_alice"))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "model_error"
    assert says in error["message"]
