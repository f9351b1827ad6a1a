"""Streaming over a real socket: the chat app served by uvicorn, read as a browser would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from functions.history.routes import router as history_router
from tests.support.chat import PausingModel, chat_app, parse_sse
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services, build_app

ALICE = "user_alice"
PAUSE = 1.0


@pytest.fixture
def slow_server(services: Services) -> Iterator[str]:
    answer = [assistant_message("Here is a thoughtful answer.")]
    model = PausingModel(ScriptedModel([answer, answer]), PAUSE)  # a test may warm the app up with a first turn
    with Server(chat_app(services, model)) as url:
        yield url


def test_first_event_arrives_before_the_model_answers(slow_server: str, tokens: Tokens) -> None:
    headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
    with httpx.Client(base_url=slow_server, timeout=10) as http:
        # A first turn of this app, untimed: what one process pays once (its first statements, a collection of the
        # suite's heap) is not what this test measures.
        assert http.post(f"/api/{ALICE}/chat", json={"message": "warm up"}, headers=tokens.headers(ALICE)).is_success
    started = time.perf_counter()
    with (
        httpx.Client(base_url=slow_server, timeout=10) as http,
        http.stream("POST", f"/api/{ALICE}/chat", json={"message": "think"}, headers=headers) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        first_line = next(lines)
        first_at = time.perf_counter() - started
        rest = list(lines)
        done_at = time.perf_counter() - started

    assert first_line == "event: conversation"
    assert first_at < PAUSE / 2
    assert done_at >= PAUSE
    events = parse_sse([first_line, *rest])
    assert [name for name, _ in events][-1] == "done"


def test_the_stream_parses_with_a_standard_sse_client(slow_server: str, tokens: Tokens) -> None:
    headers = tokens.headers(ALICE)
    with (
        httpx.Client(base_url=slow_server, timeout=10) as http,
        connect_sse(http, "POST", f"/api/{ALICE}/chat", json={"message": "think"}, headers=headers) as source,
    ):
        events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
    assert events[0][0] == "conversation"
    assert events[-1][0] == "done"
    assert "".join(data["delta"] for name, data in events if name == "text_delta") == events[-1][1]["response"]


def test_answer_is_stored_when_the_client_disconnects(
    slow_server: str, services: Services, database: Database, tokens: Tokens
) -> None:
    headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
    with (
        httpx.Client(base_url=slow_server, timeout=10) as http,
        http.stream("POST", f"/api/{ALICE}/chat", json={"message": "think"}, headers=headers) as response,
    ):
        lines = response.iter_lines()
        conversation_id = parse_sse([next(lines), next(lines), ""])[0][1]["conversation_id"]
    # The client is gone (the stream was closed); the history function shows the finished answer once it lands.
    with TestClient(build_app("history", services, [history_router])) as history:
        deadline = time.monotonic() + PAUSE + 5
        while True:
            messages = history.get(
                f"/api/{ALICE}/conversations/{conversation_id}/messages", headers=tokens.headers(ALICE)
            ).json()["items"]
            if messages[-1]["status"] != "streaming" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "complete")]
    assert messages[-1]["content"] == "Here is a thoughtful answer."
