"""The task tools as one MCP server (mcp 2.x `MCPServer`).

The user a tool acts for is the `Caller` bound in `current_caller` by whoever called: the chat turn (from the
verified token, for the agent in process) or the MCP HTTP endpoint (from the bearer token). No tool takes a user
argument, so nothing a model or an MCP client sends can choose whose tasks are touched.

Each tool declares its result model (MCP `outputSchema`) and answers with structured content. A refusal is an
MCP error result whose structured content is `{"error": {"code", "message"}}`; a crash (a bug, the database gone)
is left to the SDK, which reports it as an unexpected tool error."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from functions.chat import tasks
from functions.chat.caller import Caller
from functions.chat.tasks import TaskChange, TaskList, TaskToolError

current_caller: ContextVar[Caller | None] = ContextVar("current_caller", default=None)

INSTRUCTIONS = "Manage the signed-in user's todo list: add, list, complete, reopen, delete and update tasks."
TaskId = Annotated[int, Field(description="The task's id, as list_tasks shows it.", ge=1)]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)


def bound_caller() -> Caller:
    bound = current_caller.get()
    if bound is None:
        raise ToolError("No signed-in user is bound to this call.")
    return bound


def refusal(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _result(operation: Callable[..., BaseModel], *args: Any) -> CallToolResult:
    try:
        data: dict[str, Any] = operation(bound_caller(), *args).model_dump(mode="json")
        failed = False
    except TaskToolError as exc:
        data, failed = refusal(exc.code, exc.message), True
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data))], structured_content=data, is_error=failed
    )


def _delete_operation() -> Callable[..., BaseModel]:
    bound = current_caller.get()
    return tasks.request_delete if bound is not None and bound.confirm_deletes else tasks.delete_task


def build_task_server() -> MCPServer:
    server = MCPServer(name="todo-tasks", instructions=INSTRUCTIONS, version="1.0.0")

    @server.tool(annotations=ADDS)
    def add_task(
        title: Annotated[str, Field(description="What to do (1-200 characters).")],
        description: Annotated[str | None, Field(description="Optional details (up to 1000 characters).")] = None,
    ) -> Annotated[CallToolResult, TaskChange]:
        """Add a task to the user's list."""
        return _result(tasks.add_task, title, description)

    @server.tool(annotations=READ_ONLY)
    def list_tasks(
        status: Annotated[Literal["all", "pending", "completed"], Field(description="Which tasks to list.")] = "all",
    ) -> Annotated[CallToolResult, TaskList]:
        """List the user's tasks, all of them or only the pending or completed ones."""
        return _result(tasks.list_tasks, status)

    @server.tool(annotations=CHANGES)
    def complete_task(task_id: TaskId) -> Annotated[CallToolResult, TaskChange]:
        """Mark one of the user's tasks as done."""
        return _result(tasks.complete_task, task_id)

    @server.tool(annotations=CHANGES)
    def reopen_task(task_id: TaskId) -> Annotated[CallToolResult, TaskChange]:
        """Mark one of the user's done tasks as not done again."""
        return _result(tasks.reopen_task, task_id)

    @server.tool(annotations=DELETES)
    def delete_task(task_id: TaskId) -> Annotated[CallToolResult, TaskChange]:
        """Delete one of the user's tasks. In the chat app the user confirms first: the result's status is then
        `awaiting_confirmation`, and the task is deleted only when the user presses Delete."""
        return _result(_delete_operation(), task_id)

    @server.tool(annotations=CHANGES)
    def update_task(
        task_id: TaskId,
        title: Annotated[str | None, Field(description="The new title.")] = None,
        description: Annotated[str | None, Field(description="The new description.")] = None,
    ) -> Annotated[CallToolResult, TaskChange]:
        """Change the title or the description of one of the user's tasks."""
        return _result(tasks.update_task, task_id, title, description)

    return server
