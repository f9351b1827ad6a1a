"""Stop: ChatKit's Stop (the client aborts the stream) ends the turn where the abort reaches the app; the plain
endpoint stops on an explicit request (a dropped connection is no stop); on Lambda no Stop button is offered."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.types import ThreadAddUserMessageParams, ThreadCreateParams, ThreadsAddUserMessageReq, ThreadsCreateReq
from fastapi.testclient import TestClient
from sqlmodel import col, select

from functions.chat.agent.agent import STOPPED_NOTE
from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import ChatSettings
from tests.support.chat import SlowModel, chat_app, parse_sse
from tests.support.chatkit import user_input
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.web import Services

pytestmark = pytest.mark.long

ALICE, BOB = "user_alice", "user_bob"


def two_tools_then_text() -> ScriptedModel:
    return ScriptedModel(
        [
            [function_call("add_task", {"title": "first"}, call_id="c1")],
            [function_call("add_task", {"title": "second"}, call_id="c2")],
            [assistant_message("Added both.")],
            [assistant_message("Next answer.")],
        ]
    )


def answers(database: Database) -> list[Message]:
    return database.read(
        lambda s: list(s.exec(select(Message).where(Message.role == "assistant").order_by(col(Message.created_at))))
    )


def test_chatkit_stop_mid_tool_stops_the_turn_and_tells_the_next_one(
    services: Services, database: Database, tokens: Tokens
) -> None:
    scripted = two_tools_then_text()
    with Server(chat_app(services, SlowModel(scripted, 0.4))) as base:
        request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add first and second")))
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        thread_id = ""
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"{base}/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers
            ) as response,
        ):
            for line in response.iter_lines():
                if '"thread.created"' in line:
                    thread_id = line.split('"id":"', 1)[1].split('"', 1)[0]
                if '"type":"workflow"' in line:
                    break  # the first tool call has started: the user presses Stop
        stopped_at = time.monotonic()
        while time.monotonic() - stopped_at < 3 and (
            not answers(database) or answers(database)[0].status == "streaming"
        ):
            time.sleep(0.1)
        stopped = answers(database)[0]
        assert (stopped.status, stopped.error_code) == ("error", "stopped")
        assert time.monotonic() - stopped_at < 2
        time.sleep(1.0)
        assert [t.title for t in database.read(lambda s: list(s.exec(select(Task))))] in ([], ["first"])

        follow_up = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("and now?"))
        )
        answered = httpx.post(
            f"{base}/api/{ALICE}/chatkit", content=follow_up.model_dump_json(), headers=headers, timeout=30
        )
    assert answered.status_code == 200
    assert STOPPED_NOTE in str(scripted.calls[-1].input)  # the next turn's model input says the answer was stopped


def test_the_next_turn_in_the_conversation_is_told_the_answer_was_stopped(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = ScriptedModel([[assistant_message("A long answer that ...")], [assistant_message("Sure.")]])
    with Server(chat_app(services, SlowModel(model, 0.5))) as base:
        started: list[Any] = []

        def turn() -> None:
            with (
                httpx.Client(timeout=30) as client,
                client.stream(
                    "POST",
                    f"{base}/api/{ALICE}/chat",
                    json={"message": "tell me"},
                    headers={**tokens.headers(ALICE), "Accept": "text/event-stream"},
                ) as response,
            ):
                for line in response.iter_lines():
                    started.append(line)

        runner = threading.Thread(target=turn)
        runner.start()
        while not any(line.startswith("data:") for line in started):
            time.sleep(0.05)
        first = parse_sse([*started, ""])[0][1]
        other = httpx.post(
            f"{base}/api/{BOB}/chat/messages/{first['message_id']}/stop", headers=tokens.headers(BOB), timeout=10
        )
        assert other.status_code == 404  # not Bob's answer
        stop = httpx.post(
            f"{base}/api/{ALICE}/chat/messages/{first['message_id']}/stop", headers=tokens.headers(ALICE), timeout=10
        )
        assert stop.status_code == 202
        runner.join(10)
        events = parse_sse(started)
        assert events[-1][0] == "error" and events[-1][1]["code"] == "stopped"
        again = httpx.post(
            f"{base}/api/{ALICE}/chat",
            json={"message": "go on", "conversation_id": first["conversation_id"]},
            headers=tokens.headers(ALICE),
            timeout=30,
        )
    assert again.status_code == 200
    assert STOPPED_NOTE in str(model.calls[1].input)
    assert (answers(database)[0].status, answers(database)[0].error_code) == ("error", "stopped")


def test_a_finished_answer_cannot_be_stopped(services: Services, tokens: Tokens) -> None:
    client = TestClient(chat_app(services, OfflineModel()))
    answer = client.post(f"/api/{ALICE}/chat", json={"message": "list"}, headers=tokens.headers(ALICE)).json()
    stop = client.post(f"/api/{ALICE}/chat/messages/{answer['message_id']}/stop", headers=tokens.headers(ALICE))
    assert stop.status_code == 404
    assert stop.json()["error"]["code"] == "not_found"


def test_no_stop_button_where_a_stop_cannot_reach_the_function(services: Services, tokens: Tokens) -> None:
    assert ChatSettings.from_environ({"AWS_LAMBDA_FUNCTION_NAME": "chat"}).allow_cancel is False
    assert ChatSettings.from_environ({}).allow_cancel is True
    assert ChatSettings.from_environ({"AWS_LAMBDA_FUNCTION_NAME": "chat", "CHAT_ALLOW_CANCEL": "true"}).allow_cancel
    with TestClient(chat_app(services, OfflineModel(), allow_cancel=False)) as client:
        response = client.post(
            f"/api/{ALICE}/chatkit",
            content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list"))).model_dump_json(),
            headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
        )
    options = next(d for _, d in parse_sse(response.text.splitlines()) if d["type"] == "stream_options")
    assert options["stream_options"]["allow_cancel"] is False
