"""What the model receives of a message's attachments, through the real OpenAI model path (Agents SDK + `openai`
client over HTTP) against the local fake of the API: images as `input_image` (a data URL of the stored bytes), text
files as `input_text` ("Attached file <name>:" and the text, bounded), beside the message's own text."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from agents.testing import assistant_message
from chatkit.types import ThreadAddUserMessageParams, ThreadCreateParams, ThreadsAddUserMessageReq, ThreadsCreateReq
from fastapi.testclient import TestClient

from functions.chat.agent.agent import history_to_input
from functions.chat.agent.messages import ContextMessage
from functions.chat.agent.providers import select_model
from functions.chat.attachments.content import ATTACHED_TEXT_MAX_CHARS
from functions.chat.settings import ChatSettings
from tests.support.attachments import PNG, carrying, uploaded
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.web import Services

ALICE = "user_alice"


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI([[assistant_message("A dot and a list.")], [assistant_message("Still a dot.")]])
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
def alice(fake_openai: tuple[FakeOpenAI, str], services: Services, tokens: Tokens) -> Iterator[ChatKitClient]:
    _, base_url = fake_openai
    settings = dataclasses.replace(
        ChatSettings.from_environ({}), openai_api_key="sk-test-fake", openai_base_url=base_url, chat_model="gpt-test"
    )
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    with TestClient(chat_app(services, select_model(settings), **fields), raise_server_exceptions=False) as client:
        yield ChatKitClient(client, tokens, ALICE)


def turn_inputs(fake: FakeOpenAI) -> list[list[dict[str, Any]]]:
    """The input of each streamed request (a turn's; a title is asked for without streaming)."""
    return [request["input"] for request in fake.requests if request.get("stream")]


def last_user_content(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    user = [item for item in items if item.get("role") == "user"]
    content = user[-1]["content"]
    assert isinstance(content, list), content
    return content


def test_images_and_text_files_reach_the_model_as_their_own_parts(
    alice: ChatKitClient, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_openai
    image = uploaded(alice, "dot.png", "image/png", PNG)
    text = uploaded(alice, "list.csv", "text/csv", b"title\nbuy milk\nwalk dog\n")
    events = alice.events(
        ThreadsCreateReq(params=ThreadCreateParams(input=carrying("what is this?", image["id"], text["id"])))
    )
    assert events[0]["type"] == "thread.created"
    content = last_user_content(turn_inputs(fake)[0])
    assert content[0] == {"type": "input_text", "text": "what is this?"}
    assert content[1]["type"] == "input_image"
    assert content[1]["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert content[2] == {"type": "input_text", "text": "Attached file list.csv:\ntitle\nbuy milk\nwalk dog\n"}

    thread_id = events[0]["thread"]["id"]
    alice.events(
        ThreadsAddUserMessageReq(params=ThreadAddUserMessageParams(thread_id=thread_id, input=carrying("and now?")))
    )
    second = turn_inputs(fake)[1]
    earlier = next(item for item in second if item.get("role") == "user")["content"]
    assert [part["type"] for part in earlier] == ["input_text", "input_image", "input_text"]  # still in context
    assert [item for item in second if item.get("role") == "user"][-1]["content"] == "and now?"


def test_a_long_text_file_reaches_the_model_cut_to_its_bound(
    alice: ChatKitClient, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, _ = fake_openai
    lines = "".join(f"task number {n}\n" for n in range(20_000))[: 200 * 1024]
    text = uploaded(alice, "long.txt", "text/plain", lines.encode())
    alice.events(ThreadsCreateReq(params=ThreadCreateParams(input=carrying("read it", text["id"]))))
    attached = last_user_content(turn_inputs(fake)[0])[1]["text"]
    assert attached.startswith("Attached file long.txt:\ntask number 0\n")
    assert len(attached) <= ATTACHED_TEXT_MAX_CHARS + 200
    assert attached.endswith("[The file is longer; the rest is not shown.]")


def test_an_image_counts_a_fixed_share_of_the_context_budget() -> None:
    older = [
        ContextMessage(f"msg_{n}", "user", "message", f"earlier message {n}", [], "complete", None, None)
        for n in range(5)
    ]
    carrying_image = ContextMessage(
        "msg_new",
        "user",
        "message",
        "look",
        [],
        "complete",
        None,
        {"type": "user_message", "content": [{"type": "input_text", "text": "look"}], "attachments": []},
    )
    image = {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 7_000_000}
    rebuilt = history_to_input([*older, carrying_image], 3_000, {"msg_new": [image]})
    assert [item.get("content") for item in rebuilt[:-1]] == [f"earlier message {n}" for n in range(5)]
    assert rebuilt[-1]["content"] == [{"type": "input_text", "text": "look"}, image]  # type: ignore[typeddict-item]
