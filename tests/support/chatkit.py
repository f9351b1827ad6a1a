"""A ChatKit client for tests: requests built from the SDK's own request types, posted to the chat app (in process
through a `TestClient`, or over a real socket through an `httpx.Client`)."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
from chatkit.types import (
    InferenceOptions,
    ItemsListParams,
    ItemsListReq,
    ThreadGetByIdParams,
    ThreadsGetByIdReq,
    UserMessageInput,
    UserMessageTextContent,
)
from pydantic import BaseModel

from functions.chat.chatkit.task_widgets import WIDGET_ITEM, ListedTask, TaskListState, stored_state
from tests.support.chat import parse_sse
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message


def user_input(text: str) -> UserMessageInput:
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)], attachments=[], inference_options=InferenceOptions()
    )


def body(request: BaseModel) -> bytes:
    return request.model_dump_json().encode()


class ChatKitClient:
    def __init__(self, client: httpx.Client | httpx2.Client, tokens: Tokens, user: str) -> None:
        self.client, self.tokens, self.user = client, tokens, user

    def post(self, request: BaseModel, as_user: str | None = None) -> httpx.Response | httpx2.Response:
        return self.client.post(
            f"/api/{self.user}/chatkit",
            content=body(request),
            headers={**self.tokens.headers(as_user or self.user), "Content-Type": "application/json"},
        )

    def stream(self, request: BaseModel) -> list[tuple[str, Any]]:
        """The stream's events as (type, event)."""
        response = self.post(request)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return [(data["type"], data) for _, data in parse_sse(response.text.splitlines())]

    def events(self, request: BaseModel) -> list[dict[str, Any]]:
        """The stream's events but its options."""
        return [data for kind, data in self.stream(request) if kind != "stream_options"]

    def items(self, thread_id: str) -> list[dict[str, Any]]:
        page = self.post(ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=50, order="asc"))).json()
        by_get = self.post(ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id))).json()
        assert by_get["items"]["data"] == page["data"]  # both reloads show the same items
        return list(page["data"])


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
