"""A ChatKit client for tests: requests built from the SDK's own request types, posted to the chat app (in process
through a `TestClient`, or over a real socket through an `httpx.Client`), its SSE answers read back as events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import httpx2
from agents.models.interface import Model
from chatkit.types import (
    InferenceOptions,
    ItemsListParams,
    ItemsListReq,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadGetByIdParams,
    ThreadListParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ToolChoice,
    UserMessageInput,
    UserMessageTextContent,
)
from pydantic import BaseModel

from functions.chat.chatkit.task_widgets import WIDGET_ITEM, ListedTask, TaskListState, stored_state
from tests.support.chat import chat_app, parse_sse
from tests.support.factories import seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.web import Services


def user_input(text: str, *, tool_choice: str | None = None, model: str | None = None) -> UserMessageInput:
    """A user message's input, with what its composer picked (a composer tool's id, a model)."""
    options = InferenceOptions(tool_choice=ToolChoice(id=tool_choice) if tool_choice else None, model=model)
    return UserMessageInput(content=[UserMessageTextContent(text=text)], attachments=[], inference_options=options)


def body(request: BaseModel | dict[str, Any]) -> bytes:
    """A request's body: from the SDK's own types, or raw JSON for what the types would refuse."""
    return request.model_dump_json().encode() if isinstance(request, BaseModel) else json.dumps(request).encode()


def streamed_events(response: httpx.Response | httpx2.Response) -> list[tuple[str, Any]]:
    """A ChatKit stream's events as (type, event), as the browser's ChatKit reads them."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return [(data["type"], data) for _, data in parse_sse(response.text.splitlines())]


class ChatKitClient:
    def __init__(self, client: httpx.Client | httpx2.Client, tokens: Tokens, user: str) -> None:
        self.client, self.tokens, self.user = client, tokens, user

    def post(self, request: BaseModel | dict[str, Any], as_user: str | None = None) -> httpx.Response | httpx2.Response:
        return self.client.post(
            f"/api/{self.user}/chatkit",
            content=body(request),
            headers={**self.tokens.headers(as_user or self.user), "Content-Type": "application/json"},
        )

    def stream(self, request: BaseModel) -> list[tuple[str, Any]]:
        """The stream's events as (type, event)."""
        return streamed_events(self.post(request))

    def events(self, request: BaseModel) -> list[dict[str, Any]]:
        """The stream's events but its options."""
        return [data for kind, data in self.stream(request) if kind != "stream_options"]

    def create(self, text: str, **options: Any) -> tuple[str, list[dict[str, Any]]]:
        """A new thread with its first message: the thread's id and the stream's events."""
        events = self.events(ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text, **options))))
        assert events[0]["type"] == "thread.created", events[0]
        return str(events[0]["thread"]["id"]), events

    def send(self, thread_id: str, text: str, **options: Any) -> list[dict[str, Any]]:
        params = ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(text, **options))
        return self.events(ThreadsAddUserMessageReq(params=params))

    def thread(self, thread_id: str) -> dict[str, Any]:
        response = self.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id)))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def items(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's items after a reload, checked to be the same through both of ChatKit's reads."""
        page = self.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, order="asc"))).json()
        assert self.thread(thread_id)["items"]["data"] == page["data"]  # both reloads show the same items
        return list(page["data"])

    def thread_ids(self, limit: int = 50) -> list[str]:
        listed = self.post(ThreadsListReq(params=ThreadListParams(limit=limit, order="desc"))).json()
        return [thread["id"] for thread in listed["data"]]


@contextmanager
def over_socket(base: str, tokens: Tokens, user: str) -> Iterator[ChatKitClient]:
    """A ChatKit client of `user` for the chat app served at `base`."""
    with httpx.Client(base_url=base, timeout=60) as http:
        yield ChatKitClient(http, tokens, user)


@contextmanager
def chatkit_client(
    services: Services, model: Model, tokens: Tokens, user: str, **settings: Any
) -> Iterator[ChatKitClient]:
    """The chat app around `model` (and `settings`), served on a real socket, with a ChatKit client of `user`."""
    with Server(chat_app(services, model, **settings)) as base, over_socket(base, tokens, user) as client:
        yield client


def events_of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == item_type]


def widget_row(database: Database, thread_id: str, user: str, task_ids: list[int]) -> str:
    def work(session: Any) -> str:
        state = TaskListState(heading="Your tasks", tasks=[ListedTask(id=i, title="t") for i in task_ids])
        row = Message(
            conversation_id=thread_id,
            user_id=user,
            seq=100,
            role="assistant",
            item_type=WIDGET_ITEM,
            content="",
            chatkit_item=stored_state(state),
        )
        session.add(row)
        session.flush()
        return row.id

    return database.write(work)


def task_with_widget(
    database: Database, user: str, title: str, state_of: Callable[[int], dict[str, Any]]
) -> tuple[str, str, int]:
    """A new conversation of `user` with a new task `title` and a widget row whose stored state `state_of` makes
    from the task's id: (thread id, widget item id, task id)."""
    conversation = seed_conversation(database, user)

    def work(session: Any) -> tuple[str, int]:
        task = Task(user_id=user, title=title)
        session.add(task)
        session.flush()
        assert task.id is not None
        row = Message(
            conversation_id=conversation.id,
            user_id=user,
            seq=100,
            role="assistant",
            item_type=WIDGET_ITEM,
            content="",
            chatkit_item={"state": state_of(task.id)},
        )
        session.add(row)
        session.flush()
        return row.id, task.id

    item_id, task_id = database.write(work)
    return conversation.id, item_id, task_id
