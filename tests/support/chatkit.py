"""A ChatKit client for tests: requests built from the SDK's own request types, sent to the chat app served on a
real socket, its SSE answers read back as events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
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

from tests.support.chat import chat_app, parse_sse
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services


def user_input(text: str, *, tool_choice: str | None = None, model: str | None = None) -> UserMessageInput:
    options = InferenceOptions(tool_choice=ToolChoice(id=tool_choice) if tool_choice else None, model=model)
    return UserMessageInput(content=[UserMessageTextContent(text=text)], attachments=[], inference_options=options)


class ChatKitClient:
    def __init__(self, base: str, tokens: Tokens, user: str) -> None:
        self.base, self.tokens, self.user = base, tokens, user

    def post(self, request: BaseModel) -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/{self.user}/chatkit",
            content=request.model_dump_json(),
            headers={**self.tokens.headers(self.user), "Content-Type": "application/json"},
            timeout=60,
        )

    def stream(self, request: BaseModel) -> list[dict[str, Any]]:
        """The events of a streamed answer (200, SSE), `stream_options` left out."""
        response = self.post(request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [data for _, data in parse_sse(response.text.splitlines())]
        return [event for event in events if event["type"] != "stream_options"]

    def create(self, text: str, **options: Any) -> tuple[str, list[dict[str, Any]]]:
        """A new thread with its first message: the thread's id and the stream's events."""
        events = self.stream(ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text, **options))))
        assert events[0]["type"] == "thread.created", events[0]
        return str(events[0]["thread"]["id"]), events

    def send(self, thread_id: str, text: str, **options: Any) -> list[dict[str, Any]]:
        params = ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(text, **options))
        return self.stream(ThreadsAddUserMessageReq(params=params))

    def thread(self, thread_id: str) -> dict[str, Any]:
        response = self.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id)))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def items(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's items after a reload, checked to be the same through both of ChatKit's reads."""
        page = self.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, order="asc"))).json()
        assert self.thread(thread_id)["items"]["data"] == page["data"]
        return list(page["data"])

    def thread_ids(self, limit: int = 50) -> list[str]:
        listed = self.post(ThreadsListReq(params=ThreadListParams(limit=limit, order="desc"))).json()
        return [thread["id"] for thread in listed["data"]]


@contextmanager
def chatkit_client(
    services: Services, model: Model, tokens: Tokens, user: str, **settings: Any
) -> Iterator[ChatKitClient]:
    """The chat app around `model` (and `settings`), served on a real socket, with a ChatKit client of `user`."""
    with Server(chat_app(services, model, **settings)) as base:
        yield ChatKitClient(base, tokens, user)


def seed_tasks(database: Database, user: str, *titles: str, completed: bool = False) -> list[int]:
    def work(session: Any) -> list[int]:
        tasks = [Task(user_id=user, title=title, completed=completed) for title in titles]
        session.add_all(tasks)
        session.flush()
        return [task.id for task in tasks if task.id is not None]

    return database.write(work)


def events_of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == item_type]
