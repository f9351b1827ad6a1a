"""The task tools: each operation, its refusals, and isolation between users, through the MCP server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from sqlmodel import select

from functions.chat.mcp_server import build_task_server, current_owner
from functions.chat.tasks import TaskOwner
from todo_common.db import Database
from todo_common.models import Task

ALICE, BOB = "user_alice", "user_bob"


def call(database: Database, user: str, tool: str, **arguments: Any) -> Any:
    async def go() -> Any:
        token = current_owner.set(TaskOwner(user, database))
        try:
            result = await build_task_server().call_tool(tool, arguments)
        finally:
            current_owner.reset(token)
        return result.structured_content  # type: ignore[union-attr]

    return asyncio.run(go())


def tasks_of(database: Database) -> list[tuple[str, str, bool]]:
    rows = database.read(lambda s: list(s.exec(select(Task).order_by(Task.id))))  # type: ignore[arg-type]
    return [(t.user_id, t.title, t.completed) for t in rows]


def test_every_tool_does_what_it_says(database: Database) -> None:
    added = call(database, ALICE, "add_task", title="  buy   milk ", description="2 litres")
    assert added == {"task_id": added["task_id"], "status": "created", "title": "buy milk"}
    second = call(database, ALICE, "add_task", title="walk the dog")["task_id"]

    assert call(database, ALICE, "complete_task", task_id=second)["status"] == "completed"
    pending = call(database, ALICE, "list_tasks", status="pending")
    assert [t["title"] for t in pending["tasks"]] == ["buy milk"]
    assert pending["tasks"][0]["description"] == "2 litres"
    assert [t["title"] for t in call(database, ALICE, "list_tasks", status="completed")["tasks"]] == ["walk the dog"]

    renamed = call(database, ALICE, "update_task", task_id=added["task_id"], title="buy oat milk")
    assert renamed == {"task_id": added["task_id"], "status": "updated", "title": "buy oat milk"}
    assert call(database, ALICE, "delete_task", task_id=second)["status"] == "deleted"
    assert tasks_of(database) == [(ALICE, "buy oat milk", False)]


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("add_task", {"title": "   "}, "empty_title"),
        ("add_task", {"title": "x" * 201}, "title_too_long"),
        ("add_task", {"title": "ok", "description": "d" * 1001}, "description_too_long"),
        ("complete_task", {"task_id": 999_999}, "task_not_found"),
        ("update_task", {"task_id": 999_999, "title": "new"}, "task_not_found"),
        ("delete_task", {"task_id": 999_999}, "task_not_found"),
    ],
)
def test_refusals_are_clear_and_change_nothing(
    database: Database, tool: str, arguments: dict[str, Any], code: str
) -> None:
    call(database, ALICE, "add_task", title="keep me")
    with pytest.raises(ToolError, match=code):
        call(database, ALICE, tool, **arguments)
    assert tasks_of(database) == [(ALICE, "keep me", False)]


def test_another_users_tasks_can_be_neither_seen_nor_changed(database: Database) -> None:
    alices = call(database, ALICE, "add_task", title="alice's secret")["task_id"]
    assert call(database, BOB, "list_tasks")["tasks"] == []
    for tool, arguments in [
        ("complete_task", {"task_id": alices}),
        ("delete_task", {"task_id": alices}),
        ("update_task", {"task_id": alices, "title": "pwned"}),
    ]:
        with pytest.raises(ToolError, match="task_not_found"):
            call(database, BOB, tool, **arguments)
    # A user argument is not part of any tool: it is ignored, the task is the caller's.
    call(database, BOB, "add_task", title="bob's", user_id=ALICE)
    assert tasks_of(database) == [(ALICE, "alice's secret", False), (BOB, "bob's", False)]


def test_no_bound_user_means_no_access(database: Database) -> None:
    async def unbound() -> None:
        await build_task_server().call_tool("list_tasks", {})

    with pytest.raises(ToolError, match="No signed-in user"):
        asyncio.run(unbound())
