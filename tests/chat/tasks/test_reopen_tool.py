"""`reopen_task` is a tool like the others: the offline model understands "reopen 3", the agent calls it through
the MCP server, the task is pending again, and ChatKit shows the call, the changed task and the effect."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from functions.chat.agent.offline_model import OfflineModel, describe_result, parse_command
from tests.support.chatkit import chatkit_client, done_items, events_of
from tests.support.factories import seed_tasks
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


@pytest.mark.parametrize(
    ("text", "task_id"), [("reopen 3", 3), ("Reopen #4.", 4), ("undo 5", 5), ("mark 6 as not done", 6)]
)
def test_the_offline_model_understands_reopen(text: str, task_id: int) -> None:
    assert parse_command(text) == ("reopen_task", {"task_id": task_id})
    reopened = {"task_id": task_id, "status": "reopened", "title": "walk dog"}
    assert describe_result("reopen_task", reopened) == f"Reopened “walk dog” (#{task_id})."


def test_reopen_in_chat_makes_a_done_task_pending(services: Services, database: Database, tokens: Tokens) -> None:
    (walk,) = seed_tasks(database, ALICE, "walk dog", completed=True)
    (bobs,) = seed_tasks(database, BOB, "bob's task", completed=True)
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        thread_id, events = chatkit.create(f"reopen {walk}")
        refused = chatkit.send(thread_id, f"reopen {bobs}")
        items = chatkit.items(thread_id)

    (workflow,) = done_items(events, "workflow")
    assert workflow["workflow"]["tasks"][0]["title"] == "reopen_task: Success"
    (effect,) = events_of(events, "client_effect")
    assert (effect["name"], effect["data"]) == ("tasks.changed", {"task_id": walk, "change": "reopened"})
    (answer,) = done_items(events, "assistant_message")
    assert answer["content"][0]["text"] == f"Reopened “walk dog” (#{walk})."
    (widget,) = done_items(events, "widget")
    assert "Reopened" in json.dumps(widget["widget"])
    tasks = database.read(lambda s: {t.id: t.completed for t in s.exec(select(Task))})
    assert tasks == {walk: False, bobs: True}  # another user's task is "not found", unchanged

    assert done_items(refused, "workflow")[0]["workflow"]["tasks"][0]["title"] == "reopen_task: Failed"
    assert not events_of(refused, "client_effect")
    assert [i["type"] for i in items] == [
        "user_message",
        "workflow",
        "assistant_message",
        "widget",
        "user_message",
        "workflow",
        "assistant_message",
    ]
