"""The ChatKit endpoint with requests built from the SDK's own request types, through the real ASGI app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agents.testing import ScriptedModel, assistant_message, function_call
from chatkit.actions import Action
from chatkit.types import (
    InputTranscribeParams,
    InputTranscribeReq,
    ItemFeedbackParams,
    ItemsFeedbackReq,
    ItemsListParams,
    ItemsListReq,
    ThreadAddClientToolOutputParams,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadDeleteParams,
    ThreadGetByIdParams,
    ThreadListParams,
    ThreadRetryAfterItemParams,
    ThreadsAddClientToolOutputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    ThreadUpdateParams,
)
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import select

from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, user_input
from tests.support.factories import add_message, seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel(
        [
            [function_call("add_task", {"title": "buy milk"}, call_id="call_1")],
            [assistant_message("Added buy milk.")],
            [assistant_message("Your list has buy milk.")],
            [assistant_message("Your list still has buy milk.")],
        ]
    )


@pytest.fixture
def chatkit(services: Services, model: ScriptedModel, tokens: Tokens) -> Iterator[ChatKitClient]:
    with TestClient(chat_app(services, model), raise_server_exceptions=False) as client:
        yield ChatKitClient(client, tokens, ALICE)


def test_a_whole_conversation(chatkit: ChatKitClient, database: Database) -> None:
    created = chatkit.stream(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add buy milk"))))
    types = [t for t, _ in created]
    assert types[0] == "thread.created"
    thread_id = created[0][1]["thread"]["id"]
    assert thread_id.startswith("thr_")
    assert len(thread_id) >= 4 + 24
    workflow_done = [d["item"] for t, d in created if t == "thread.item.done" and d["item"]["type"] == "workflow"]
    assert workflow_done[0]["workflow"]["tasks"][0]["title"] == "add_task: Success"
    assert any(t == "thread.item.updated" and d["update"]["type"].endswith("text_delta") for t, d in created)
    assert database.read(lambda s: s.exec(select(Task)).one()).title == "buy milk"

    chatkit.stream(
        ThreadsAddUserMessageReq(
            params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input("what is on my list?"))
        )
    )

    thread = chatkit.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id))).json()
    assert thread["title"] == "Add buy milk"  # the question, clipped cleanly once the first answer is out
    kinds = [i["type"] for i in thread["items"]["data"]]
    assert kinds == ["user_message", "workflow", "assistant_message", "widget", "user_message", "assistant_message"]

    listed = chatkit.post(ThreadsListReq(params=ThreadListParams(limit=10))).json()
    assert [t["id"] for t in listed["data"]] == [thread_id]

    renamed = chatkit.post(ThreadsUpdateReq(params=ThreadUpdateParams(thread_id=thread_id, title="Groceries"))).json()
    assert renamed["title"] == "Groceries"

    first_user_item = thread["items"]["data"][4]["id"]
    retried = chatkit.stream(
        ThreadsRetryAfterItemReq(params=ThreadRetryAfterItemParams(thread_id=thread_id, item_id=first_user_item))
    )
    assert any(t == "thread.item.done" and d["item"]["type"] == "assistant_message" for t, d in retried)
    after_retry = chatkit.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id))).json()
    texts = [i["content"][0]["text"] for i in after_retry["items"]["data"] if i["type"] == "assistant_message"]
    assert texts == ["Added buy milk.", "Your list still has buy milk."]

    assistant_id = after_retry["items"]["data"][-1]["id"]
    assert (
        chatkit.post(
            ItemsFeedbackReq(params=ItemFeedbackParams(thread_id=thread_id, item_ids=[assistant_id], kind="positive"))
        ).status_code
        == 200
    )
    rated = database.read(lambda s: s.get(Message, assistant_id))
    assert rated is not None
    assert rated.feedback == "positive"

    assert chatkit.post(ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id))).status_code == 200
    gone = chatkit.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id)))
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


def test_items_list_pages_with_cursor_and_order(chatkit: ChatKitClient, database: Database) -> None:
    conversation = seed_conversation(database, ALICE, messages=7)
    seen: list[str] = []
    after = None
    while True:
        page = chatkit.post(
            ItemsListReq(params=ItemsListParams(thread_id=conversation.id, limit=3, after=after, order="asc"))
        ).json()
        seen += [item["content"][0]["text"] for item in page["data"]]
        if not page["has_more"]:
            break
        after = page["after"]
    assert seen == [f"message {i}" for i in range(7)]
    newest = chatkit.post(ItemsListReq(params=ItemsListParams(thread_id=conversation.id, limit=2, order="desc"))).json()
    assert [i["content"][0]["text"] for i in newest["data"]] == ["message 6", "message 5"]


def test_another_users_thread_is_403_on_every_request_type(chatkit: ChatKitClient, database: Database) -> None:
    bobs = seed_conversation(database, BOB, title="Bob's", messages=2)
    requests: list[BaseModel] = [
        ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=bobs.id)),
        ItemsListReq(params=ItemsListParams(thread_id=bobs.id)),
        ThreadsUpdateReq(params=ThreadUpdateParams(thread_id=bobs.id, title="mine")),
        ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=bobs.id)),
        ThreadsAddUserMessageReq(params=ThreadAddUserMessageParams(thread_id=bobs.id, input=user_input("hi"))),
        ThreadsRetryAfterItemReq(params=ThreadRetryAfterItemParams(thread_id=bobs.id, item_id="msg_x")),
        ItemsFeedbackReq(params=ItemFeedbackParams(thread_id=bobs.id, item_ids=["msg_x"], kind="negative")),
        ThreadsAddClientToolOutputReq(params=ThreadAddClientToolOutputParams(thread_id=bobs.id, result={"ok": 1})),
        ThreadsCustomActionReq(params=ThreadCustomActionParams(thread_id=bobs.id, action=Action(type="x"))),
        ThreadsSyncCustomActionReq(params=ThreadCustomActionParams(thread_id=bobs.id, action=Action(type="x"))),
    ]
    for request in requests:
        response = chatkit.post(request)
        assert response.status_code == 403, request
        assert response.json()["error"]["code"] == "forbidden"
    stored = database.read(lambda s: list(s.exec(select(Message).where(Message.conversation_id == bobs.id))))
    assert len(stored) == 2
    listed = chatkit.post(ThreadsListReq(params=ThreadListParams(limit=50))).json()
    assert bobs.id not in [t["id"] for t in listed["data"]]


def test_dictation_needs_a_provider(chatkit: ChatKitClient) -> None:
    dictate = chatkit.post(
        InputTranscribeReq(params=InputTranscribeParams(audio_base64="AAAA", mime_type="audio/webm"))
    )
    assert dictate.status_code == 400
    assert dictate.json()["error"]["code"] == "dictation_unavailable"  # no OpenAI key here


def test_unknown_and_malformed_requests(chatkit: ChatKitClient, tokens: Tokens) -> None:
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    unknown = chatkit.client.post(
        f"/api/{ALICE}/chatkit", content=json.dumps({"type": "threads.explode"}), headers=headers
    )
    broken = chatkit.client.post(f"/api/{ALICE}/chatkit", content=b"{nope", headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "invalid_chatkit_request"
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "malformed_json"


def test_actions_and_client_tool_outputs_are_answered_clearly(chatkit: ChatKitClient, database: Database) -> None:
    mine = seed_conversation(database, ALICE, messages=2)
    output = chatkit.post(
        ThreadsAddClientToolOutputReq(params=ThreadAddClientToolOutputParams(thread_id=mine.id, result={"ok": 1}))
    )
    assert output.status_code == 409
    assert output.json()["error"]["code"] == "no_pending_tool_call"
    sync = chatkit.post(
        ThreadsSyncCustomActionReq(params=ThreadCustomActionParams(thread_id=mine.id, action=Action(type="x")))
    )
    streamed = chatkit.post(
        ThreadsCustomActionReq(params=ThreadCustomActionParams(thread_id=mine.id, action=Action(type="x")))
    )
    for refused in (sync, streamed):
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "unknown_action"
    assert len(database.read(lambda s: list(s.exec(select(Message).where(Message.conversation_id == mine.id))))) == 2


def test_two_tool_calls_make_one_workflow_with_two_tasks(services: Services, tokens: Tokens) -> None:
    model = ScriptedModel(
        [
            [function_call("add_task", {"title": "milk"}, call_id="c1")],
            [function_call("complete_task", {"task_id": 10**9}, call_id="c2")],
            [assistant_message("Added milk; the other task was not found.")],
        ]
    )
    with TestClient(chat_app(services, model)) as client:
        events = ChatKitClient(client, tokens, ALICE).stream(
            ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add milk and finish 1000000000")))
        )
    done = [d["item"] for t, d in events if t == "thread.item.done" and d["item"]["type"] == "workflow"]
    titles = [task["title"] for task in done[0]["workflow"]["tasks"]]
    assert titles == ["add_task: Success", "complete_task: Failed"]
    assert done[0]["workflow"]["summary"]["title"] == "Used 2 tools, 1 failed"


def test_a_deeply_nested_chatkit_body_is_a_documented_400(chatkit: ChatKitClient, tokens: Tokens) -> None:
    nested = b'{"type":"threads.create","params":' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = chatkit.client.post(
        f"/api/{ALICE}/chatkit", content=nested, headers={**tokens.headers(ALICE), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "json_too_deep"


def seed_tool_turns(database: Database) -> str:
    """A thread of three turns whose answers each ran a tool: nine ChatKit items (question, workflow, answer)."""
    conversation = seed_conversation(database, ALICE)
    call = {"call_id": "c", "name": "list_tasks", "arguments": {}, "result": {"count": 0}, "status": "success"}
    for index in range(3):
        add_message(database, conversation.id, f"question {index}")
        add_message(database, conversation.id, f"answer {index}", role="assistant", tool_calls=[call])
    return conversation.id


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_list_pages_by_items_and_every_item_id_is_a_cursor(
    chatkit: ChatKitClient, database: Database, order: str
) -> None:
    thread_id = seed_tool_turns(database)
    whole = chatkit.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, order=order))).json()
    ids = [item["id"] for item in whole["data"]]
    assert len(ids) == 9 and not whole["has_more"]
    for limit in (1, 2, 3, 4):
        page = chatkit.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=limit, order=order))).json()
        assert [item["id"] for item in page["data"]] == ids[:limit]
    for position, item_id in enumerate(ids):
        rest = chatkit.post(
            ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, after=item_id, order=order))
        ).json()
        assert [item["id"] for item in rest["data"]] == ids[position + 1 :]


def test_feedback_is_kept_per_item(chatkit: ChatKitClient, database: Database) -> None:
    thread_id = seed_tool_turns(database)
    items = chatkit.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50))).json()["data"]
    answer = next(i for i in items if i["type"] == "assistant_message")
    workflow = next(i for i in items if i["type"] == "workflow")
    for item_id, kind in ((answer["id"], "positive"), (workflow["id"], "negative")):
        request = ItemsFeedbackReq(params=ItemFeedbackParams(thread_id=thread_id, item_ids=[item_id], kind=kind))
        assert chatkit.post(request).status_code == 200
    assert database.read(lambda s: s.get(Message, answer["id"])).feedback == "positive"  # type: ignore[union-attr]


def test_retry_on_an_answer_retries_from_the_question_before_it(chatkit: ChatKitClient, database: Database) -> None:
    created = chatkit.stream(ThreadsCreateReq(params=ThreadCreateParams(input=user_input("add buy milk"))))
    thread_id = created[0][1]["thread"]["id"]

    def items() -> list[Any]:
        listed = chatkit.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, order="asc")))
        return list(listed.json()["data"])

    for pick in ("workflow", "assistant_message"):
        target = next(i["id"] for i in items() if i["type"] == pick)
        request = ThreadsRetryAfterItemReq(params=ThreadRetryAfterItemParams(thread_id=thread_id, item_id=target))
        retried = chatkit.stream(request)
        assert "error" not in [kind for kind, _ in retried]
        assert [i["type"] for i in items()] == ["user_message", "assistant_message"]
