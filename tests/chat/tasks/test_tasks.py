"""The task tools: each operation, its refusals, and isolation between users, through the MCP server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy import event
from sqlmodel import select

from functions.chat.caller import Caller
from functions.chat.tasks.mcp_server import build_task_server, current_caller
from todo_common.db import Database
from todo_common.models import Task

ALICE, BOB = "user_alice", "user_bob"


def call_result(database: Database, user: str, tool: str, **arguments: Any) -> Any:
    async def go() -> Any:
        token = current_caller.set(Caller(user, database))
        try:
            return await build_task_server().call_tool(tool, arguments)
        finally:
            current_caller.reset(token)

    return asyncio.run(go())


def call(database: Database, user: str, tool: str, **arguments: Any) -> Any:
    result = call_result(database, user, tool, **arguments)
    assert not result.is_error, result
    return result.structured_content


def refused(database: Database, user: str, tool: str, **arguments: Any) -> str:
    """The code of a refusal: an MCP error result whose structured content is `{"error": {code, message}}`."""
    result = call_result(database, user, tool, **arguments)
    assert result.is_error
    error = result.structured_content["error"]
    assert error["message"]
    assert json.loads(result.content[0].text) == result.structured_content
    return str(error["code"])


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
    assert refused(database, ALICE, tool, **arguments) == code
    assert tasks_of(database) == [(ALICE, "keep me", False)]


def test_another_users_tasks_can_be_neither_seen_nor_changed(database: Database) -> None:
    alices = call(database, ALICE, "add_task", title="alice's secret")["task_id"]
    assert call(database, BOB, "list_tasks")["tasks"] == []
    for tool, arguments in [
        ("complete_task", {"task_id": alices}),
        ("delete_task", {"task_id": alices}),
        ("update_task", {"task_id": alices, "title": "pwned"}),
    ]:
        assert refused(database, BOB, tool, **arguments) == "task_not_found"
    # A user argument is not part of any tool: it is ignored, the task is the caller's.
    call(database, BOB, "add_task", title="bob's", user_id=ALICE)
    assert tasks_of(database) == [(ALICE, "alice's secret", False), (BOB, "bob's", False)]


def test_no_bound_user_means_no_access(database: Database) -> None:
    async def unbound() -> None:
        await build_task_server().call_tool("list_tasks", {})

    with pytest.raises(ToolError, match="No signed-in user"):
        asyncio.run(unbound())


def test_every_tool_declares_its_result_schema_and_hints() -> None:
    tools = {tool.name: tool for tool in asyncio.run(build_task_server().list_tools())}
    assert set(tools) == {"add_task", "list_tasks", "complete_task", "reopen_task", "delete_task", "update_task"}
    assert all(tool.output_schema and tool.output_schema.get("properties") for tool in tools.values())
    hints = {name: tool.annotations for name, tool in tools.items()}
    assert hints["list_tasks"] is not None and hints["list_tasks"].read_only_hint is True
    assert hints["delete_task"] is not None and hints["delete_task"].destructive_hint is True
    for name in ("add_task", "complete_task", "reopen_task", "update_task"):
        annotation = hints[name]
        assert annotation is not None and annotation.destructive_hint is False and not annotation.read_only_hint
    assert hints["complete_task"].idempotent_hint is True  # type: ignore[union-attr]
    assert hints["reopen_task"].idempotent_hint is True  # type: ignore[union-attr]
    assert hints["add_task"].idempotent_hint is False  # type: ignore[union-attr]


def test_each_task_tool_is_one_statement_outside_a_transaction(database: Database) -> None:
    """One round trip a tool call, however far the database is (the ORM took BEGIN, SELECT, UPDATE and COMMIT to
    complete a task). A call on another user's task runs the same one statement, and changes nothing."""
    task_id = call(database, ALICE, "add_task", title="Water the plants")["task_id"]
    statements: list[str] = []
    commits: list[object] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement.split()[0].upper())

    def committed(conn: Any) -> None:
        commits.append(conn)

    event.listen(database.engine, "before_cursor_execute", executed)
    event.listen(database.engine, "commit", committed)
    try:
        calls = [
            (ALICE, "add_task", {"title": "Buy milk"}, "INSERT"),
            (ALICE, "list_tasks", {}, "SELECT"),
            (ALICE, "complete_task", {"task_id": task_id}, "UPDATE"),
            (ALICE, "update_task", {"task_id": task_id, "title": "Water the ferns"}, "UPDATE"),
            (BOB, "complete_task", {"task_id": task_id}, "UPDATE"),
            (BOB, "delete_task", {"task_id": task_id}, "DELETE"),
            (ALICE, "delete_task", {"task_id": task_id}, "DELETE"),
        ]
        for user, tool, arguments, verb in calls:
            statements.clear()
            call_result(database, user, tool, **arguments)
            assert statements == [verb], (tool, statements)
        assert commits == []
    finally:
        event.remove(database.engine, "before_cursor_execute", executed)
        event.remove(database.engine, "commit", committed)
    assert tasks_of(database) == [(ALICE, "Buy milk", False)]
