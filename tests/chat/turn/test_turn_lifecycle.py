"""Turns that do not end cleanly: a killed server, a database outage, a silent model, a busy conversation, a
retry while the turn runs, a reused idempotency key, a crashing tool. Real sockets, real databases."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from fastapi.testclient import TestClient
from sqlmodel import col, select

from functions.chat.agent.offline_model import HELP, OfflineModel
from functions.chat.tasks import operations as tasks
from functions.history.routes import router as history_router
from tests.support.chat import SilentModel, SlowModel, chat_app, parse_sse
from tests.support.factories import add_message, seed_conversation
from tests.support.server import Server, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, Message, Task
from todo_common.web import Services, build_app

pytestmark = pytest.mark.long

ALICE = "user_alice"


def rows(database: Database, conversation_id: str) -> list[Message]:
    return database.read(
        lambda s: list(
            s.exec(select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.seq)))
        )
    )


def conversation(database: Database, conversation_id: str) -> Conversation | None:
    return database.read(lambda s: s.get(Conversation, conversation_id))


def stream_events(
    base: str, tokens: Tokens, payload: dict[str, Any], *, stop_after: int | None = None, into: list[Any] | None = None
) -> list[Any]:
    """The SSE events of one plain chat turn over a real socket (only the first `stop_after`, if given), also
    appended to `into` as they arrive."""
    events: list[Any] = [] if into is None else into
    headers = {**tokens.headers(ALICE), "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{base}/api/{ALICE}/chat", json=payload, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        lines: list[str] = []
        for line in response.iter_lines():
            lines.append(line)
            if line == "":
                events.extend(parse_sse(lines))
                lines = []
                if stop_after is not None and len(events) >= stop_after:
                    break
    return events


class ChatProcess:
    """The chat app in a process of its own (`tests.support.chat_server`), which a test may SIGKILL."""

    def __init__(self, database: Database, model: str, **environment: str) -> None:
        self.port = free_port()
        url = database.engine.url.render_as_string(hide_password=False)
        env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "ERROR", **environment}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.chat_server", str(self.port), model], env=env
        )
        self.base = f"http://127.0.0.1:{self.port}"
        # A fresh process imports the whole agent stack (about 3 s of CPU): on a busy 2-core machine that took
        # 40 s of wall time, so the start waits long; the tests' own timings start after it.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the chat server did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def test_a_turn_killed_mid_answer_is_repaired_and_its_retry_runs_the_model_again(
    services: Services, database: Database, tokens: Tokens
) -> None:
    lease = "3"
    server = ChatProcess(database, "slow", CHAT_LEASE_SECONDS=lease)
    try:
        started = stream_events(server.base, tokens, {"message": "hello", "client_message_id": "k1"}, stop_after=4)
        assert [name for name, _ in started[:2]] == ["conversation", "text_delta"]
        cid, answer_id = started[0][1]["conversation_id"], started[0][1]["message_id"]
        time.sleep(1.0)  # a progress save happens
        server.kill()
        crashed_at = time.monotonic()
    finally:
        server.stop()

    answer = next(m for m in rows(database, cid) if m.id == answer_id)
    assert answer.status == "streaming" and answer.content  # the row as the crash left it, partial text saved
    history = TestClient(build_app("history", services, [history_router]))
    url = f"/api/{ALICE}/conversations/{cid}/messages"
    while True:  # reads call it interrupted as soon as its lease is gone
        shown = history.get(url, headers=tokens.headers(ALICE)).json()["items"][-1]
        if shown["status"] != "streaming" or time.monotonic() - crashed_at > float(lease) + 2:
            break
        time.sleep(0.2)
    assert (shown["status"], shown["error_code"]) == ("error", "interrupted")
    assert shown["content"] == answer.content

    restarted = ChatProcess(database, "offline", CHAT_LEASE_SECONDS=lease)
    try:
        follow_up = httpx.post(
            f"{restarted.base}/api/{ALICE}/chat",
            json={"message": "list", "conversation_id": cid},
            headers=tokens.headers(ALICE),
            timeout=30,
        )
        assert follow_up.status_code == 200, follow_up.text
        assert time.monotonic() - crashed_at < 60  # usable again well within the bound
        repaired = next(m for m in rows(database, cid) if m.id == answer_id)
        assert (repaired.status, repaired.error_code) == ("error", "interrupted")

        retried = httpx.post(
            f"{restarted.base}/api/{ALICE}/chat",
            json={"message": "hello", "client_message_id": "k1"},
            headers=tokens.headers(ALICE),
            timeout=30,
        )
    finally:
        restarted.stop()
    assert retried.status_code == 200, retried.text
    assert retried.json()["message_id"] == answer_id
    assert retried.json()["response"] == HELP  # the model ran again: the whole answer, not the partial one
    stored = [(m.role, m.status) for m in rows(database, cid)]
    assert stored == [("user", "complete"), ("assistant", "complete")] * 2


@pytest.mark.parametrize("backend", ["postgres"])  # a connection can be cut on the wire only to a server
def test_a_database_outage_mid_stream_ends_every_stream_and_the_conversations_recover(
    services: Services, database: Database, tokens: Tokens
) -> None:
    url = database.engine.url.render_as_string(hide_password=False)
    with TcpProxy(url) as proxy:
        through_proxy = Database.from_url(proxy.url)
        proxied = dataclasses.replace(services, database=through_proxy)
        app = chat_app(proxied, SlowModel(OfflineModel(), 0.15), lease_seconds=3, turn_deadline_seconds=20)
        finals: dict[int, Any] = {}
        with Server(app) as base:

            def turn(index: int) -> None:
                events = stream_events(base, tokens, {"message": f"add task {index}"})
                finals[index] = events[-1]

            threads = [threading.Thread(target=turn, args=(i,)) for i in range(5)]
            for thread in threads:
                thread.start()
            time.sleep(0.8)
            proxy.cut()
            time.sleep(2.5)
            proxy.restore()
            for thread in threads:
                thread.join(60)
            assert sorted(finals) == list(range(5))
            assert {name for name, _ in finals.values()} <= {"done", "error"}
            for name, data in finals.values():
                if name == "error":
                    assert data["code"] == "database_unavailable"
            conversations = {data["conversation_id"] for _, data in finals.values()}
            assert len(conversations) == 5
            for cid in conversations:  # nothing is left streaming, and each conversation takes a new message
                assert all(m.status != "streaming" for m in rows(database, cid))
                again = httpx.post(
                    f"{base}/api/{ALICE}/chat",
                    json={"message": "list", "conversation_id": cid},
                    headers=tokens.headers(ALICE),
                    timeout=30,
                )
                assert again.status_code == 200, again.text
        through_proxy.dispose()


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_request_answered_503_stores_nothing(services: Services, database: Database, tokens: Tokens) -> None:
    existing = seed_conversation(database, ALICE, messages=2)
    url = database.engine.url.render_as_string(hide_password=False)
    with TcpProxy(url) as proxy:
        through_proxy = Database.from_url(proxy.url)
        client = TestClient(chat_app(dataclasses.replace(services, database=through_proxy), OfflineModel()))
        proxy.cut()
        for payload in ({"message": "add milk"}, {"message": "add milk", "conversation_id": existing.id}):
            response = client.post(f"/api/{ALICE}/chat", json=payload, headers=tokens.headers(ALICE))
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "database_unavailable"
        proxy.restore()
        through_proxy.dispose()
    assert database.read(lambda s: len(s.exec(select(Conversation)).all())) == 1
    assert len(rows(database, existing.id)) == 2
    assert conversation(database, existing.id).turn_owner is None  # type: ignore[union-attr]


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An OpenAI-compatible address that accepts connections and requests and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join(2)
    for connection in held:
        connection.close()
    listener.close()


def test_a_model_that_never_answers_ends_at_the_deadline(
    services: Services, database: Database, tokens: Tokens, silent_endpoint: str
) -> None:
    from functions.chat.agent.providers import select_model
    from functions.chat.settings import ChatSettings

    settings = dataclasses.replace(
        ChatSettings.from_environ({}), openai_api_key="sk-test", openai_base_url=silent_endpoint
    )
    app = chat_app(services, select_model(settings), turn_deadline_seconds=2)
    started = time.monotonic()
    with TestClient(app) as client:
        response = client.post(f"/api/{ALICE}/chat", json={"message": "hello"}, headers=tokens.headers(ALICE))
    assert time.monotonic() - started < 10
    assert response.status_code == 504, response.text
    error = response.json()["error"]
    assert error["code"] == "timeout"
    answer = next(m for m in rows(database, error["conversation_id"]) if m.role == "assistant")
    assert (answer.status, answer.error_code) == ("error", "timeout")
    assert conversation(database, error["conversation_id"]).turn_owner is None  # type: ignore[union-attr]


def test_a_silent_model_in_process_ends_at_the_deadline_as_an_sse_error(
    services: Services, database: Database, tokens: Tokens
) -> None:
    with Server(chat_app(services, SilentModel(), turn_deadline_seconds=1)) as base:
        events = stream_events(base, tokens, {"message": "hello"})
    assert [name for name, _ in events] == ["conversation", "error"]
    assert events[-1][1]["code"] == "timeout"


def test_a_message_to_a_busy_conversation_waits_and_turns_never_interleave(
    services: Services, database: Database, tokens: Tokens
) -> None:
    existing = seed_conversation(database, ALICE)
    app = chat_app(services, SlowModel(OfflineModel(), 0.1), lease_seconds=1)
    with Server(app) as base:
        first: list[Any] = []
        runner = threading.Thread(
            target=lambda: first.extend(
                stream_events(base, tokens, {"message": "hello", "conversation_id": existing.id})
            )
        )
        runner.start()
        # The second message is sent once the first turn holds the conversation (its answer is streaming).
        deadline = time.monotonic() + 30
        while not any(m.status == "streaming" for m in rows(database, existing.id)):
            assert time.monotonic() < deadline, "the first turn never started"
            time.sleep(0.02)
        second = httpx.post(
            f"{base}/api/{ALICE}/chat",
            json={"message": "list", "conversation_id": existing.id},
            headers=tokens.headers(ALICE),
            timeout=60,
        )
        runner.join(60)
    assert second.status_code == 200, second.text
    assert first[-1][0] == "done"
    stored = [(m.role, m.content if m.role == "user" else m.status) for m in rows(database, existing.id)]
    assert stored == [("user", "hello"), ("assistant", "complete"), ("user", "list"), ("assistant", "complete")]


def test_a_retry_while_the_turn_runs_follows_it_to_the_end(services: Services, tokens: Tokens) -> None:
    with Server(chat_app(services, SlowModel(OfflineModel(), 0.15))) as base:
        payload = {"message": "hello", "client_message_id": "k-reload"}
        original: list[Any] = []
        runner = threading.Thread(target=lambda: original.extend(stream_events(base, tokens, payload)))
        runner.start()
        time.sleep(1.0)
        retried = stream_events(base, tokens, payload)
        runner.join(30)
    assert original[-1][0] == "done" and retried[-1][0] == "done"
    assert retried[0][1]["message_id"] == original[0][1]["message_id"]
    assert "".join(d["delta"] for name, d in retried if name == "text_delta") == HELP
    assert retried[-1][1]["response"] == original[-1][1]["response"] == HELP


def test_the_follow_endpoint_streams_an_answer_in_progress(services: Services, tokens: Tokens) -> None:
    with Server(chat_app(services, SlowModel(OfflineModel(), 0.15))) as base:
        original: list[Any] = []
        runner = threading.Thread(target=lambda: stream_events(base, tokens, {"message": "hi"}, into=original))
        runner.start()
        while not original and runner.is_alive():
            time.sleep(0.05)
        time.sleep(0.5)
        cid = original[0][1]["conversation_id"] if original else ""
        with httpx.Client(timeout=30) as client:
            followed = client.get(f"{base}/api/{ALICE}/chat/{cid}/stream", headers=tokens.headers(ALICE))
        runner.join(30)
        with httpx.Client(timeout=30) as client:
            after = client.get(f"{base}/api/{ALICE}/chat/{cid}/stream", headers=tokens.headers(ALICE))
            other = client.get(f"{base}/api/user_bob/chat/{cid}/stream", headers=tokens.headers("user_bob"))
    events = parse_sse(followed.text.splitlines())
    assert events[0][0] == "conversation" and events[-1][0] == "done"
    assert events[-1][1]["response"] == HELP
    assert after.status_code == 204
    assert other.status_code == 403


def test_a_reused_idempotency_key_with_another_request_is_refused(
    services: Services, database: Database, tokens: Tokens
) -> None:
    client = TestClient(chat_app(services, OfflineModel()))
    headers = tokens.headers(ALICE)
    first = client.post(
        f"/api/{ALICE}/chat", json={"message": "add buy milk", "client_message_id": "k"}, headers=headers
    )
    assert first.status_code == 200
    cid = first.json()["conversation_id"]
    other = seed_conversation(database, ALICE)
    for payload in (
        {"message": "delete 1", "client_message_id": "k"},
        {"message": "delete 1", "client_message_id": "k", "conversation_id": cid},
        {"message": "add buy milk", "client_message_id": "k", "conversation_id": other.id},
    ):
        refused = client.post(f"/api/{ALICE}/chat", json=payload, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "idempotency_key_reused"
    same = client.post(
        f"/api/{ALICE}/chat", json={"message": "add buy milk", "client_message_id": "k"}, headers=headers
    )
    assert same.json()["message_id"] == first.json()["message_id"]
    assert len(rows(database, cid)) == 2
    assert rows(database, other.id) == []
    assert [t.title for t in database.read(lambda s: list(s.exec(select(Task))))] == ["buy milk"]


def test_two_concurrent_requests_with_one_key_and_different_texts(
    services: Services, database: Database, tokens: Tokens
) -> None:
    with Server(chat_app(services, SlowModel(OfflineModel(), 0.05))) as base:
        answers: list[httpx.Response] = []

        def send(text: str) -> None:
            answers.append(
                httpx.post(
                    f"{base}/api/{ALICE}/chat",
                    json={"message": text, "client_message_id": "same-key"},
                    headers=tokens.headers(ALICE),
                    timeout=30,
                )
            )

        threads = [threading.Thread(target=send, args=(text,)) for text in ("add one", "add two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
    users = database.read(lambda s: list(s.exec(select(Message).where(Message.role == "user"))))
    assert len(users) == 1


def test_a_crashing_tool_is_reported_as_an_internal_failure(
    services: Services, database: Database, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> tasks.TaskList:
        raise RuntimeError("a bug in the task list")

    monkeypatch.setattr(tasks, "list_tasks", broken)
    model = ScriptedModel([[function_call("list_tasks", {}, call_id="call_1")], [assistant_message("Sorry.")]])
    client = TestClient(chat_app(services, model))
    response = client.post(f"/api/{ALICE}/chat", json={"message": "list"}, headers=tokens.headers(ALICE))
    call = response.json()["tool_calls"][0]
    assert call["status"] == "failure"
    assert call["result"]["error"]["code"] == "internal_error"
    told_the_model = model.calls[1].input[-1]
    assert "internal_error" in str(told_the_model) and "invalid_arguments" not in str(told_the_model)


def test_the_context_is_capped_in_characters_and_leaves_out_unfinished_answers(
    services: Services, database: Database, tokens: Tokens
) -> None:
    existing = seed_conversation(database, ALICE)
    for index in range(8):
        add_message(database, existing.id, f"old question {index} " + "x" * 1000)
        add_message(database, existing.id, f"old answer {index}", role="assistant")
    add_message(database, existing.id, "the failed question")
    add_message(database, existing.id, "half an answer", role="assistant", status="error")
    model = ScriptedModel([[assistant_message("ok")]])
    client = TestClient(chat_app(services, model, context_max_chars=3000))
    response = client.post(
        f"/api/{ALICE}/chat", json={"message": "newest", "conversation_id": existing.id}, headers=tokens.headers(ALICE)
    )
    assert response.status_code == 200, response.text
    given = str(model.calls[0].input)
    assert len(given) < 3000 + 500
    assert "newest" in given and "the failed question" in given
    assert "half an answer" not in given
    assert "old question 0" not in given


def test_the_model_gets_the_default_context_window_of_the_last_messages(
    services: Services, database: Database, tokens: Tokens
) -> None:
    from functions.chat.settings import ChatSettings

    window = ChatSettings.from_environ({}).history_limit
    assert 10 <= window <= 15  # the plan's window
    existing = seed_conversation(database, ALICE)
    for index in range(20):
        add_message(database, existing.id, f"question {index}")
        add_message(database, existing.id, f"answer {index}", role="assistant")
    model = ScriptedModel([[assistant_message("ok")]])
    client = TestClient(chat_app(services, model, history_limit=window, rate_limit_per_minute=100))
    response = client.post(
        f"/api/{ALICE}/chat", json={"message": "newest", "conversation_id": existing.id}, headers=tokens.headers(ALICE)
    )
    assert response.status_code == 200, response.text
    given = [item["content"] for item in model.calls[0].input if isinstance(item, dict) and "content" in item]
    assert len(given) == window
    assert given[-1] == "newest" and given[0] == f"answer {20 - (window - 1) // 2 - 1}"


def test_a_message_of_only_spaces_is_refused_and_stores_nothing(
    services: Services, database: Database, tokens: Tokens
) -> None:
    client = TestClient(chat_app(services, OfflineModel()))
    response = client.post(f"/api/{ALICE}/chat", json={"message": "   \n "}, headers=tokens.headers(ALICE))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert database.read(lambda s: s.exec(select(Conversation)).all()) == []


def test_an_answer_is_timed_when_it_was_given(services: Services, database: Database, tokens: Tokens) -> None:
    client = TestClient(chat_app(services, SlowModel(OfflineModel(), 0.05)))
    answer = client.post(f"/api/{ALICE}/chat", json={"message": "hello"}, headers=tokens.headers(ALICE)).json()
    question, reply = rows(database, answer["conversation_id"])
    assert reply.created_at > question.created_at
    assert conversation(database, answer["conversation_id"]).created_at == question.created_at  # type: ignore[union-attr]
