"""ChatKit turns under pressure, over a real socket: concurrent messages to one thread, a delete or a rename while
an answer streams, a host that is not in UTC, and senders that are not widgets."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.actions import Action
from chatkit.types import (
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsSyncCustomActionReq,
)
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import col, select

from functions.chat.agent.offline_model import OfflineModel
from functions.history.routes import router as history_router
from tests.support.chat import SlowModel, chat_app, parse_sse
from tests.support.chatkit import user_input
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Conversation, Message, Task, utcnow
from todo_common.web import Services, build_app

pytestmark = pytest.mark.long

ALICE = "user_alice"


def post(base: str, tokens: Tokens, request: BaseModel) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{base}/api/{ALICE}/chatkit",
        content=request.model_dump_json(),
        headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return [data for _, data in parse_sse(response.text.splitlines())]


def chat_rows(database: Database, thread_id: str) -> list[Message]:
    return database.read(
        lambda s: list(
            s.exec(
                select(Message)
                .where(Message.conversation_id == thread_id, Message.item_type == "message")
                .order_by(col(Message.seq))
            )
        )
    )


def new_thread(base: str, tokens: Tokens, text: str) -> str:
    events = post(base, tokens, ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text))))
    return str(events[0]["thread"]["id"])


def test_five_concurrent_messages_to_one_thread_make_five_ordered_pairs(
    services: Services, database: Database, tokens: Tokens
) -> None:
    with Server(chat_app(services, SlowModel(OfflineModel(), 0.02))) as base:
        thread_id = new_thread(base, tokens, "list")
        done: list[list[dict[str, Any]]] = []

        def send(index: int) -> None:
            request = ThreadsAddUserMessageReq(
                params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(f"add burst{index}"))
            )
            done.append(post(base, tokens, request))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(done) == 5
    assert all(not any(e["type"] == "error" for e in events) for events in done)
    stored = chat_rows(database, thread_id)[2:]
    assert [m.role for m in stored] == ["user", "assistant"] * 5
    for question, answer in zip(stored[::2], stored[1::2], strict=True):
        word = question.content.removeprefix("add ")
        assert word in answer.content and answer.status == "complete"
    titles = sorted(t.title for t in database.read(lambda s: list(s.exec(select(Task)))))
    assert titles == [f"burst{i}" for i in range(5)]


def test_a_thread_deleted_while_its_answer_streams_stays_deleted(
    services: Services, database: Database, tokens: Tokens
) -> None:
    app = chat_app(services, SlowModel(OfflineModel(), 0.2), lease_seconds=1.5)
    history = TestClient(build_app("history", services, [history_router]))
    with Server(app) as base:
        thread_id = new_thread(base, tokens, "list")
        events: list[dict[str, Any]] = []
        request = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("hi"))
        )
        runner = threading.Thread(target=lambda: events.extend(post(base, tokens, request)))
        runner.start()
        time.sleep(0.6)
        deleted = history.delete(f"/api/{ALICE}/conversations/{thread_id}", headers=tokens.headers(ALICE))
        assert deleted.status_code == 204
        runner.join(30)
    assert events[-1]["type"] == "error"
    assert database.read(lambda s: s.get(Conversation, thread_id)) is None
    assert chat_rows(database, thread_id) == []


def test_a_rename_while_the_first_answer_streams_is_kept(
    services: Services, database: Database, tokens: Tokens
) -> None:
    history = TestClient(build_app("history", services, [history_router]))
    with Server(chat_app(services, SlowModel(OfflineModel(), 0.15))) as base:
        events: list[dict[str, Any]] = []
        request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hello there")))
        runner = threading.Thread(target=lambda: events.extend(post(base, tokens, request)))
        runner.start()
        thread_id = ""
        while not thread_id:
            found = database.read(lambda s: s.exec(select(Conversation)).first())
            thread_id = found.id if found and found.title else ""
            time.sleep(0.05)
        renamed = history.patch(
            f"/api/{ALICE}/conversations/{thread_id}", json={"title": "Mine"}, headers=tokens.headers(ALICE)
        )
        assert renamed.status_code == 200
        runner.join(30)
    assert events[-1]["type"] != "error"
    assert database.read(lambda s: s.get(Conversation, thread_id)).title == "Mine"  # type: ignore[union-attr]


@pytest.fixture
def host_ahead_of_utc() -> Iterator[None]:
    """A host whose local time is 5 h 45 min ahead of UTC, as ChatKit's naive `datetime.now()` sees it."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kathmandu"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.mark.usefixtures("host_ahead_of_utc")
def test_item_times_are_true_on_a_host_that_is_not_in_utc(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = ScriptedModel([[assistant_message("one")], [assistant_message("two")]])
    with TestClient(chat_app(services, model, rate_limit_per_minute=1)) as client:
        request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hello")))
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        first = client.post(f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers)
        assert first.status_code == 200
        again = client.post(f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers)
    question = database.read(lambda s: s.exec(select(Message).where(Message.role == "user")).one())
    assert abs(question.created_at - utcnow()) < timedelta(minutes=1)
    refusal = [d for _, d in parse_sse(again.text.splitlines())]  # the rate limit counts the message at its true time
    assert [e["type"] for e in refusal] == ["error"] and "try again in" in refusal[0]["message"]


def test_actions_need_a_widget_sender(services: Services, database: Database, tokens: Tokens) -> None:
    model = ScriptedModel([[function_call("list_tasks", {}, call_id="c1")], [assistant_message("None yet.")]])
    with TestClient(chat_app(services, model)) as client:
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        created = client.post(
            f"/api/{ALICE}/chatkit",
            content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list"))).model_dump_json(),
            headers=headers,
        )
        thread_id = parse_sse(created.text.splitlines())[0][1]["thread"]["id"]
        user_item = chat_rows(database, thread_id)[0].id
        for item_id, status, code in ((user_item, 400, "invalid_sender"), ("msg_unknown", 404, "not_found")):
            request = ThreadsSyncCustomActionReq(
                params=ThreadCustomActionParams(thread_id=thread_id, item_id=item_id, action=Action(type="x"))
            )
            answer = client.post(f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers)
            assert answer.status_code == status, answer.text
            assert answer.json()["error"]["code"] == code


def test_every_streamed_item_time_carries_its_offset(services: Services, tokens: Tokens) -> None:
    with TestClient(chat_app(services, ScriptedModel([[assistant_message("hi")]]))) as client:
        request = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hello")))
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        events = [
            d
            for _, d in parse_sse(
                client.post(
                    f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers
                ).text.splitlines()
            )
        ]
    times = [e["item"]["created_at"] for e in events if e["type"] == "thread.item.done"]
    assert {e["item"]["type"] for e in events if e["type"] == "thread.item.done"} >= {
        "user_message",
        "assistant_message",
    }
    assert all(t.endswith(("Z", "+00:00")) for t in times), times


def test_a_closed_thread_takes_no_new_message_and_says_why(
    services: Services, database: Database, tokens: Tokens
) -> None:
    model = ScriptedModel([[assistant_message("one")], [assistant_message("two")]])
    with TestClient(chat_app(services, model)) as client:
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        created = client.post(
            f"/api/{ALICE}/chatkit",
            content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hi"))).model_dump_json(),
            headers=headers,
        )
        thread_id = parse_sse(created.text.splitlines())[0][1]["thread"]["id"]

        def close(session: Any) -> None:
            conversation = session.get(Conversation, thread_id)
            conversation.chatkit = {"status": {"type": "closed", "reason": "This chat was archived."}, "metadata": {}}
            session.add(conversation)

        database.write(close)
        before = chat_rows(database, thread_id)
        request = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("more"))
        )
        answer = client.post(f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers)
    events = [d for _, d in parse_sse(answer.text.splitlines())]
    assert [e["type"] for e in events] == ["error"]
    assert events[0]["message"] == "This chat was archived."
    assert chat_rows(database, thread_id) == before


def test_the_user_sees_thinking_before_the_first_text(services: Services, tokens: Tokens) -> None:
    with TestClient(chat_app(services, ScriptedModel([[assistant_message("hi")]]))) as client:
        response = client.post(
            f"/api/{ALICE}/chatkit",
            content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hello"))).model_dump_json(),
            headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
        )
    kinds = [d["type"] for _, d in parse_sse(response.text.splitlines())]
    assert kinds.index("progress_update") < kinds.index("thread.item.added")
    assert kinds.index("stream_options") < kinds.index("progress_update")


def test_hidden_context_reaches_the_model_and_never_the_user(
    services: Services, database: Database, tokens: Tokens
) -> None:
    from chatkit.types import HiddenContextItem, ItemsListParams, ItemsListReq

    from functions.chat.caller import Caller
    from functions.chat.chatkit.context import ChatKitContext
    from functions.chat.chatkit.store import ChatStore

    model = ScriptedModel([[assistant_message("one")], [assistant_message("two")]])
    with TestClient(chat_app(services, model)) as client:
        headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
        created = client.post(
            f"/api/{ALICE}/chatkit",
            content=ThreadsCreateReq(params=ThreadCreateParams(input=user_input("hi"))).model_dump_json(),
            headers=headers,
        )
        thread_id = parse_sse(created.text.splitlines())[0][1]["thread"]["id"]
        hidden = HiddenContextItem(
            id="itm_hidden", thread_id=thread_id, created_at=utcnow(), content="The user is vegan."
        )
        import asyncio

        store: ChatStore = client.app.state.chat.chatkit.server.chat_store  # type: ignore[attr-defined]
        asyncio.run(store.add_thread_item(thread_id, hidden, ChatKitContext(Caller(ALICE, database))))
        request = ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("food?"))
        )
        client.post(f"/api/{ALICE}/chatkit", content=request.model_dump_json(), headers=headers)
        from chatkit.types import ItemsListParams, ItemsListReq

        listed = client.post(
            f"/api/{ALICE}/chatkit",
            content=ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50)).model_dump_json(),
            headers=headers,
        ).json()
    assert "The user is vegan." in str(model.calls[1].input)
    assert "The user is vegan." not in str([i for i in listed["data"] if i["type"] != "hidden_context_item"])
