"""Widget action payloads are checked where they enter: a task id is a JSON integer within the task id column's
range (a string, a float or a boolean that looks like one is refused in words), and an action naming no item is
told so, not called unknown. Nothing changes on a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel
from chatkit.types import ThreadsCustomActionReq, ThreadsSyncCustomActionReq

from tests.support.chat import chat_app
from tests.support.chatkit import task_with_widget
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE = "user_alice"


@pytest.fixture
def base(services: Services) -> Iterator[str]:
    with Server(chat_app(services, ScriptedModel([]))) as served:
        yield served


def task_list(database: Database) -> tuple[str, str, int]:
    return task_with_widget(
        database,
        ALICE,
        "walk dog",
        lambda task_id: {"kind": "task_list", "heading": "Your tasks", "tasks": [{"id": task_id, "title": "walk dog"}]},
    )


def post(base: str, tokens: Tokens, kind: str, params: dict[str, Any]) -> httpx.Response:
    request = {"type": kind, "params": params}
    return httpx.post(
        f"{base}/api/{ALICE}/chatkit",
        json=request,
        headers=tokens.headers(ALICE),
        timeout=30,
    )


@pytest.mark.parametrize("request_type", [ThreadsSyncCustomActionReq, ThreadsCustomActionReq])
def test_task_ids_that_only_look_like_integers_are_refused_in_words(
    base: str, database: Database, tokens: Tokens, request_type: type[Any]
) -> None:
    thread_id, item_id, task_id = task_list(database)
    kind = request_type.model_fields["type"].default
    for bad in (str(task_id), f" {task_id} ", float(task_id), True, 2**31, -1, 0, None):
        action = {"type": "task.complete", "payload": {"task_id": bad}}
        response = post(base, tokens, kind, {"thread_id": thread_id, "item_id": item_id, "action": action})
        assert response.status_code == 422, (bad, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_action"
        assert error["message"] == "The action needs a task id: a whole number from 1 to 2147483647."
    action = {"type": "task.complete", "payload": {"task_id": task_id}}
    no_item = post(base, tokens, kind, {"thread_id": thread_id, "item_id": None, "action": action})
    assert no_item.status_code == 400
    assert no_item.json()["error"] == {
        "code": "invalid_sender",
        "message": "This action must come from a widget: it names no item.",
    }
    assert database.read(lambda session: session.get_one(Task, task_id)).completed is False
