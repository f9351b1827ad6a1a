"""Reasoning summaries through ChatKit: a reasoning model's summaries (streamed by the local fake of the OpenAI API)
show as `ThoughtTask`s in the answer's workflow, between its tool calls where they came, live and after a reload in
the same order; they are stored with the answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import assistant_message, function_call

from functions.chat.agent.providers import provider_model
from functions.chat.settings import ChatSettings
from tests.support.chat import chat_app, parse_sse
from tests.support.chatkit import done_items, over_socket
from tests.support.factories import seed_tasks
from tests.support.fake_openai import FakeOpenAI, reasoning_step
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE = "user_alice"
FIRST = "The user wants their list; list_tasks shows it."
SECOND = "Two tasks are pending; name both."


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    steps = [
        reasoning_step([FIRST], [function_call("list_tasks", {"status": "pending"}, call_id="call_list")]),
        reasoning_step([SECOND], [assistant_message("You have walk dog and water plants.")]),
        [assistant_message("Pending tasks")],
    ]
    fake = FakeOpenAI(steps)
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


def tasks_of(workflow: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(task["type"], task.get("content") or task.get("title")) for task in workflow["workflow"]["tasks"]]


def test_summaries_show_as_thoughts_in_the_workflow_live_and_after_a_reload(
    fake: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens
) -> None:
    server, base_url = fake
    seed_tasks(database, ALICE, "walk dog", "water plants")
    settings = dataclasses.replace(
        ChatSettings.from_environ({}),
        openai_api_key="sk-test-fake",
        openai_base_url=base_url,
        chat_model="gpt-test",
        reasoning_summary="auto",
    )
    app = chat_app(services, provider_model(settings, settings.chat_model), **dataclasses.asdict(settings))
    with Server(app) as base, over_socket(base, tokens, ALICE) as chatkit:
        thread_id, events = chatkit.create("what is left?")
        items = chatkit.items(thread_id)

    expected = [("thought", FIRST), ("custom", "list_tasks: Success"), ("thought", SECOND)]
    (workflow,) = done_items(events, "workflow")
    assert tasks_of(workflow) == expected
    added = [e for e in events if e["type"] == "thread.item.added" and e["item"]["type"] == "workflow"]
    assert tasks_of(added[0]["item"]) == [("thought", FIRST)]  # the first thought opened the workflow, live
    kinds = [e["item"]["type"] for e in events if e["type"] == "thread.item.done"]
    assert kinds[1:3] == ["workflow", "assistant_message"]  # the thought came before any text

    assert [i["type"] for i in items] == ["user_message", "workflow", "assistant_message", "widget"]
    assert items[1]["workflow"] == workflow["workflow"]  # a reload shows the same thoughts in the same order
    answer = database.read(lambda s: s.get(Message, items[2]["id"]))
    assert answer is not None
    assert [(t["text"], t["step"]) for t in answer.reasoning] == [(FIRST, 0), (SECOND, 1)]
    assert server.requests[0]["reasoning"] == {"summary": "auto"}


def test_the_plain_stream_sends_the_summaries(
    fake: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens
) -> None:
    _, base_url = fake
    settings = dataclasses.replace(
        ChatSettings.from_environ({}), openai_api_key="sk-test-fake", openai_base_url=base_url, chat_model="gpt-test"
    )
    app = chat_app(services, provider_model(settings, settings.chat_model), **dataclasses.asdict(settings))
    headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
    with Server(app) as base:
        response = httpx.post(
            f"{base}/api/{ALICE}/chat", json={"message": "what is left?"}, headers=headers, timeout=30
        )

    events = parse_sse(response.text.splitlines())
    names = [name for name, _ in events]
    assert [data["text"] for name, data in events if name == "reasoning"] == [FIRST, SECOND]
    assert names.index("reasoning") < names.index("tool_call_started")
    assert names[-1] == "done"
