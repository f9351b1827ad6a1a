"""The thread stop: what the app in front of a Lambda Function URL calls when the browser aborts ChatKit's stream
(the abort itself never reaches the function). It stops the running answer of the caller's thread, which keeps its
partial text as `stopped`; ChatKit's stream then ends with that answer and the reason."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from agents.testing import ScriptedModel, assistant_message
from chatkit.types import ThreadAddUserMessageParams, ThreadCreateParams, ThreadsAddUserMessageReq, ThreadsCreateReq
from fastapi.testclient import TestClient
from sqlmodel import select

from functions.chat.agent.agent import STOPPED_NOTE
from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import ChatSettings
from tests.support.chat import SlowModel, chat_app, parse_sse
from tests.support.chatkit import user_input
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"
LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "chat"}


WORDS = [f"word{i} " for i in range(40)]


def long_answer() -> ScriptedModel:
    """An answer of 40 message parts: with `SlowModel` each arrives a while after the last."""
    return ScriptedModel([[assistant_message(word) for word in WORDS], [assistant_message("Sure.")]])


def answers(database: Database) -> list[Message]:
    return database.read(lambda s: list(s.exec(select(Message).where(Message.role == "assistant"))))


class ChatKitStreamReader:
    """A ChatKit client reading one streamed request to its end on a thread of its own (a browser whose abort is
    never seen by the function: the stream goes on)."""

    def __init__(self, base: str, headers: dict[str, str], request: ThreadsCreateReq) -> None:
        self.lines: list[str] = []
        self.thread_id = ""
        self.reader = threading.Thread(target=self._read, args=(base, headers, request))
        self.reader.start()

    def _read(self, base: str, headers: dict[str, str], request: ThreadsCreateReq) -> None:
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"{base}/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers
            ) as response,
        ):
            for line in response.iter_lines():
                if '"thread.created"' in line:
                    self.thread_id = line.split('"id":"', 1)[1].split('"', 1)[0]
                self.lines.append(line)

    def wait_for_text(self) -> None:
        deadline = time.monotonic() + 10
        while not any('"assistant_message.content_part.text_delta"' in line for line in self.lines):
            assert time.monotonic() < deadline, self.lines
            time.sleep(0.05)

    def events(self) -> list[dict[str, Any]]:
        self.reader.join(15)
        return [data for _, data in parse_sse([*self.lines, ""])]


def test_the_thread_stop_stops_the_running_answer_of_that_thread(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = long_answer()
    settings = ChatSettings.from_environ(LAMBDA)
    assert settings.allow_cancel is False  # the abort does not reach this function: only the stop endpoint can
    with Server(chat_app(services, SlowModel(model, 0.1), allow_cancel=False)) as base:
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("tell me a story")))
        reader = ChatKitStreamReader(base, headers, request)
        reader.wait_for_text()
        thread_id = reader.thread_id

        other = httpx.post(f"{base}/api/{BOB}/chatkit/threads/{thread_id}/stop", headers=tokens.headers(BOB))
        assert other.status_code == 404  # not Bob's thread: nothing is stopped, nothing told
        assert other.json()["error"]["code"] == "not_found"
        assert answers(database)[0].error_code is None

        stopped_at = time.monotonic()
        stop = httpx.post(f"{base}/api/{ALICE}/chatkit/threads/{thread_id}/stop", headers=tokens.headers(ALICE))
        assert stop.status_code == 202
        events = reader.events()
        assert time.monotonic() - stopped_at < 2.5  # seen within a poll, long before the 40 words are written

        stored = answers(database)[0]
        assert (stored.status, stored.error_code) == ("error", "stopped")
        assert stored.content.startswith("word0") and len(stored.content) < len("".join(WORDS)) / 2
        done = [
            e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        ]
        assert done and done[-1]["content"][0]["text"] == stored.content  # the stopped answer, as stored
        assert events[-1]["type"] == "error" and "stopped" in events[-1]["message"]

        again = httpx.post(f"{base}/api/{ALICE}/chatkit/threads/{thread_id}/stop", headers=tokens.headers(ALICE))
        assert again.status_code == 409  # nothing runs there any more
        assert again.json()["error"]["code"] == "nothing_to_stop"

        follow_up = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("and now?"))
        )
        answered = httpx.post(f"{base}/api/{ALICE}/chatkit", content=follow_up.model_dump_json(), headers=headers)
    assert answered.status_code == 200
    assert STOPPED_NOTE in str(model.calls[-1].input)  # the model is told, as for every stop


def test_the_thread_stop_of_an_unknown_thread_is_404(services: Services, tokens: Tokens) -> None:
    with TestClient(chat_app(services, OfflineModel())) as client:
        response = client.post(f"/api/{ALICE}/chatkit/threads/thr_nope/stop", headers=tokens.headers(ALICE))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        forged = client.post(f"/api/{BOB}/chatkit/threads/thr_nope/stop", headers=tokens.headers(ALICE))
        assert forged.status_code == 403  # the path's user must be the token's


def test_chatkit_offers_stop_on_lambda_when_the_deployment_relays_the_abort(services: Services, tokens: Tokens) -> None:
    assert ChatSettings.from_environ({**LAMBDA, "CHAT_ABORT_RELAYED": "true"}).allow_cancel is True
    assert ChatSettings.from_environ({**LAMBDA, "CHAT_ABORT_RELAYED": "false"}).allow_cancel is False
    assert (
        ChatSettings.from_environ({**LAMBDA, "CHAT_ABORT_RELAYED": "true", "CHAT_ALLOW_CANCEL": "no"}).allow_cancel
        is False
    )
    for relayed in ("true", "false"):
        settings = ChatSettings.from_environ({**LAMBDA, "CHAT_ABORT_RELAYED": relayed})
        with TestClient(chat_app(services, OfflineModel(), allow_cancel=settings.allow_cancel)) as client:
            response = client.post(
                f"/api/{ALICE}/chatkit",
                content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list"))).model_dump_json(),
                headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
            )
        options = next(d for _, d in parse_sse(response.text.splitlines()) if d["type"] == "stream_options")
        assert options["stream_options"]["allow_cancel"] is (relayed == "true")
