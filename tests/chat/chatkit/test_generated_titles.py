"""Generated titles through ChatKit: after the first answer (whose first byte never waits for it) the model names
the conversation through the configured provider (here the local fake of the OpenAI API), ChatKit gets a
`thread.updated`, and the title is stored; a rename meanwhile wins; offline, the question's clean clip, given at
once, stays."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import assistant_message
from chatkit.types import ThreadCreateParams, ThreadsCreateReq
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.agent.providers import provider_model
from functions.chat.agent.titles import INSTRUCTIONS
from functions.chat.settings import ChatSettings
from tests.support.chat import chat_app
from tests.support.chatkit import chatkit_client, over_socket, user_input
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation
from todo_common.web import Services

ALICE = "user_alice"
TITLE_DELAY = 1.0


def titles_of(events: list[dict[str, Any]]) -> list[str | None]:
    return [e["thread"]["title"] for e in events if e["type"] == "thread.updated"]


def stored_title(database: Database, thread_id: str) -> str | None:
    conversation = database.read(lambda s: s.get(Conversation, thread_id))
    assert conversation is not None
    return conversation.title


def test_offline_the_question_is_clipped_cleanly(services: Services, database: Database, tokens: Tokens) -> None:
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        thread_id, first = chatkit.create("  add buy milk please!  ")
        second = chatkit.send(thread_id, "list")
        listed = chatkit.thread(thread_id)

    # The clean clip at once; offline the title after the answer is that same clip, so nothing renames it.
    assert titles_of(first) == ["Add buy milk please"]
    titled = next(i for i, e in enumerate(first) if e["type"] == "thread.updated")
    assert titled < next(i for i, e in enumerate(first) if e.get("item", {}).get("type") == "assistant_message")
    assert titles_of(second) == []  # only the first answer names the conversation
    assert listed["title"] == stored_title(database, thread_id) == "Add buy milk please"


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    steps = [
        [assistant_message("Hi! I can add, list, complete and delete your tasks.")],
        [assistant_message('"Weekend chores."')],
    ]
    fake = FakeOpenAI(steps, whole_response_delay=TITLE_DELAY)
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


def provider_chat(services: Services, base_url: str) -> Any:
    settings = dataclasses.replace(
        ChatSettings.from_environ({}),
        openai_api_key="sk-test-fake",
        openai_base_url=base_url,
        chat_model="gpt-test",
        title_model="gpt-title",
    )
    return chat_app(services, provider_model(settings, settings.chat_model), **dataclasses.asdict(settings))


def timed_events(base: str, tokens: Tokens, text: str, on_answer: Any = None) -> list[tuple[float, dict[str, Any]]]:
    """The stream's events as they arrive, each with its time since the request; `on_answer` runs as soon as the
    answer's message is done (while the title is being written)."""
    request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text)))
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    started, events = time.monotonic(), []
    with httpx.stream(
        "POST", f"{base}/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            events.append((time.monotonic() - started, event))
            answered = event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
            if answered and on_answer is not None:
                on_answer(events[0][1]["thread"]["id"])
    return events


def test_the_model_names_the_conversation_after_the_answer(
    fake: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens
) -> None:
    server, base_url = fake
    with Server(provider_chat(services, base_url)) as base:
        timed = timed_events(base, tokens, "hi, what can you do?")
        thread_id = timed[0][1]["thread"]["id"]
        with over_socket(base, tokens, ALICE) as chatkit:
            reloaded = chatkit.thread(thread_id)

    events = [event for _, event in timed]
    assert titles_of(events) == ["Hi, what can you do", "Weekend chores"]  # the clean clip at once, then the title
    first_text = next(at for at, e in timed if e["type"] == "thread.item.updated")
    answered = next(
        at for at, e in timed if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    )
    titled = next(at for at, e in timed if e["type"] == "thread.updated" and e["thread"]["title"] == "Weekend chores")
    # The title is asked for once the whole answer is out (the fake provider takes TITLE_DELAY to answer it), so the
    # answer's first text and its end came that long before the title: neither waited for it.
    assert first_text < answered <= titled - TITLE_DELAY * 0.9
    assert reloaded["title"] == stored_title(database, thread_id) == "Weekend chores"

    answer_request, title_request = server.requests
    assert answer_request["stream"] is True and title_request.get("stream") in (None, False)
    assert title_request["model"] == "gpt-title"
    assert title_request["instructions"] == INSTRUCTIONS
    assert "hi, what can you do?" in json.dumps(title_request["input"])


def test_a_rename_while_the_title_is_written_is_kept(
    fake: tuple[FakeOpenAI, str], services: Services, database: Database, tokens: Tokens, history_client: TestClient
) -> None:
    _, base_url = fake
    renames: list[int] = []

    def rename(thread_id: str) -> None:
        response = history_client.patch(
            f"/api/{ALICE}/conversations/{thread_id}", json={"title": "My own name"}, headers=tokens.headers(ALICE)
        )
        renames.append(response.status_code)

    with Server(provider_chat(services, base_url)) as base:
        timed = timed_events(base, tokens, "hi, what can you do?", on_answer=rename)

    thread_id = timed[0][1]["thread"]["id"]
    assert renames == [200]
    assert "Weekend chores" not in titles_of([event for _, event in timed])
    assert stored_title(database, thread_id) == "My own name"
