"""The composer's `inference_options` through ChatKit: a server-defined composer tool makes the model call its task
tool first (the offline model and a real provider alike), a model from the allow-list answers when picked, and
anything else is refused in words with nothing stored."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from agents.testing import assistant_message, function_call
from chatkit.types import ThreadAddUserMessageParams, ThreadCreateParams, ThreadsAddUserMessageReq, ThreadsCreateReq
from sqlmodel import func, select

from functions.chat.agent.composer import COMPOSER_TOOLS
from functions.chat.agent.offline_model import OfflineModel
from functions.chat.agent.providers import provider_model
from functions.chat.settings import ChatSettings
from tests.support.chat import chat_app
from tests.support.chatkit import chatkit_client, done_items, over_socket, user_input
from tests.support.factories import seed_tasks
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, Message, Task
from todo_common.web import Services

ALICE = "user_alice"


def counts(database: Database) -> tuple[int, int]:
    def work(session: Any) -> tuple[int, int]:
        conversations = session.exec(select(func.count()).select_from(Conversation)).one()
        messages = session.exec(select(func.count()).select_from(Message)).one()
        return int(conversations), int(messages)

    return database.read(work)


def test_a_composer_tool_calls_its_task_tool_first(services: Services, database: Database, tokens: Tokens) -> None:
    walk, _ = seed_tasks(database, ALICE, "walk dog", "water plants")
    seed_tasks(database, ALICE, "old chore", completed=True)
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        thread_id, left = chatkit.create("anything for me?", tool_choice="whats_left")
        added = chatkit.send(thread_id, "buy oat milk", tool_choice="add_task")
        items = chatkit.items(thread_id)

    (workflow,) = done_items(left, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"] == "list_tasks: Success"
    (answer,) = done_items(left, "assistant_message")
    assert answer["content"][0]["text"].startswith("You have 2 tasks:")  # the pending ones only
    assert "old chore" not in answer["content"][0]["text"]
    assert done_items(added, "workflow")[0]["workflow"]["tasks"][0]["title"] == "add_task: Success"
    titles = database.read(lambda s: sorted(t.title for t in s.exec(select(Task))))
    assert titles == ["buy oat milk", "old chore", "walk dog", "water plants"]
    # A reload shows the messages with the options they were sent with.
    sent = [item for item in items if item["type"] == "user_message"]
    assert [m["inference_options"]["tool_choice"]["id"] for m in sent] == ["whats_left", "add_task"]
    assert f"#{walk}" in answer["content"][0]["text"]


@pytest.mark.parametrize(
    ("options", "code", "says"),
    [
        ({"tool_choice": "web_search"}, "unknown_tool_choice", "plan_my_day, whats_left, add_task"),
        ({"model": "gpt-huge"}, "model_not_allowed", "gpt-5-mini"),
    ],
)
def test_anything_else_is_refused_in_words_and_stores_nothing(
    services: Services, database: Database, tokens: Tokens, options: dict[str, str], code: str, says: str
) -> None:
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        thread_id, _ = chatkit.create("list")
        before = counts(database)
        new_thread = chatkit.post(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list", **options))))
        params = ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("list", **options))
        in_thread = chatkit.post(ThreadsAddUserMessageReq(params=params))

    for refused in (new_thread, in_thread):
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == code
        assert says in refused.json()["error"]["message"]
    assert counts(database) == before


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    steps = [
        [function_call("list_tasks", {"status": "pending"}, call_id="call_plan")],
        [assistant_message("Start with walk dog, then water plants.")],
        [assistant_message("Today's plan")],
    ]
    fake = FakeOpenAI(steps)
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


def test_a_real_provider_gets_the_forced_tool_and_the_picked_model(
    fake: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens
) -> None:
    server, base_url = fake
    seed_tasks(database, ALICE, "walk dog", "water plants")
    settings = dataclasses.replace(
        ChatSettings.from_environ({}),
        openai_api_key="sk-test-fake",
        openai_base_url=base_url,
        chat_model="gpt-test",
        chat_models=("gpt-test", "gpt-big"),
    )
    app = chat_app(services, provider_model(settings, settings.chat_model), **dataclasses.asdict(settings))
    with Server(app) as base, over_socket(base, tokens, ALICE) as chatkit:
        _, events = chatkit.create("what now?", tool_choice="plan_my_day", model="gpt-big")

    assert done_items(events, "assistant_message")[0]["content"][0]["text"] == "Start with walk dog, then water plants."
    planned, answered, _title = server.requests
    assert planned["model"] == answered["model"] == "gpt-big"
    assert planned["tool_choice"] == {"type": "function", "name": "list_tasks"}
    assert answered.get("tool_choice") in (None, "auto")  # after its call the model is free again
    told = json.dumps(planned["input"], ensure_ascii=False)
    assert COMPOSER_TOOLS["plan_my_day"].instruction in told and "Plan my day" in told
