"""@-mentions of tasks: the composer's tag search, and a tagged task reaching the model by id."""

from __future__ import annotations

from typing import Any

from agents.testing import ScriptedModel, assistant_message
from chatkit.types import (
    InferenceOptions,
    ThreadCreateParams,
    ThreadsCreateReq,
    UserMessageInput,
    UserMessageTagContent,
    UserMessageTextContent,
)
from fastapi.testclient import TestClient
from sqlmodel import select

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import chat_app
from tests.support.factories import seed_tasks
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


def test_tag_search_finds_only_the_callers_tasks_page_by_page(
    services: Services, database: Database, tokens: Tokens
) -> None:
    seed_tasks(database, ALICE, "walk dog", "walk cat", "100% done", "buy milk")
    seed_tasks(database, BOB, "walk bob's dog")
    client = TestClient(chat_app(services, OfflineModel()))
    url = f"/api/{ALICE}/tasks/search"
    first = client.get(url, params={"q": "walk", "limit": 1}, headers=tokens.headers(ALICE)).json()
    rest = client.get(
        url, params={"q": "walk", "limit": 1, "cursor": first["next_cursor"]}, headers=tokens.headers(ALICE)
    ).json()
    assert [t["title"] for t in first["items"] + rest["items"]] == ["walk dog", "walk cat"]
    assert rest["next_cursor"] is None
    literal = client.get(url, params={"q": "%"}, headers=tokens.headers(ALICE)).json()
    assert [t["title"] for t in literal["items"]] == ["100% done"]
    assert client.get(url, headers=tokens.headers(BOB)).status_code == 403  # the path's user is not the token's
    assert client.get(f"/api/{BOB}/tasks/search", headers=tokens.headers(BOB)).json()["items"][0]["title"] == (
        "walk bob's dog"
    )


def tagged(text: str, tag_text: str, task_id: int, quoted: str | None = None) -> ThreadsCreateReq:
    content: list[Any] = [
        UserMessageTextContent(text=text),
        UserMessageTagContent(id=f"task-{task_id}", text=tag_text, data={"task_id": task_id}, interactive=False),
    ]
    message = UserMessageInput(
        content=content, attachments=[], inference_options=InferenceOptions(), quoted_text=quoted
    )
    return ThreadsCreateReq(params=ThreadCreateParams(input=message))


def post(client: TestClient, tokens: Tokens, request: ThreadsCreateReq) -> str:
    response = client.post(
        f"/api/{ALICE}/chatkit",
        content=request.model_dump_json(),
        headers={**tokens.headers(ALICE), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return response.text


def test_a_tagged_task_is_the_one_completed_when_two_share_its_title(
    services: Services, database: Database, tokens: Tokens
) -> None:
    first, second = seed_tasks(database, ALICE, "walk dog", "walk dog")
    with TestClient(chat_app(services, OfflineModel())) as client:
        post(client, tokens, tagged("done ", "walk dog", second))
    done = {t.id: t.completed for t in database.read(lambda s: list(s.exec(select(Task))))}
    assert done == {first: False, second: True}


def test_the_model_reads_the_tagged_task_and_the_quoted_text(
    services: Services, database: Database, tokens: Tokens
) -> None:
    [task_id] = seed_tasks(database, ALICE, "walk dog")
    model = ScriptedModel([[assistant_message("Which one?")]])
    with TestClient(chat_app(services, model)) as client:
        post(client, tokens, tagged("what about ", "walk dog", task_id, quoted="the dog needs a walk"))
    given = str(model.calls[0].input)
    assert f"is the task with id {task_id}" in given
    assert "the dog needs a walk" in given
