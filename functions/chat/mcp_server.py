"""The task tools as one MCP server (mcp 2.x `MCPServer`).

The user a tool acts for is the `TaskOwner` bound in `current_owner` by whoever called: the chat turn (from the
verified token, for the agent in process) or the MCP HTTP endpoint (from the bearer token). No tool takes a user
argument, so nothing a model or an MCP client sends can choose whose tasks are touched."""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from functions.chat import tasks
from functions.chat.tasks import TaskOwner, TaskToolError

current_owner: ContextVar[TaskOwner | None] = ContextVar("current_owner", default=None)

INSTRUCTIONS = "Manage the signed-in user's todo list: add, list, complete, delete and update tasks."
TaskId = Annotated[int, Field(description="The task's id, as list_tasks shows it.", ge=1)]


def owner() -> TaskOwner:
    bound = current_owner.get()
    if bound is None:
        raise ToolError("No signed-in user is bound to this call.")
    return bound


def _run(operation: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = operation(owner(), *args, **kwargs)
    except TaskToolError as exc:
        raise ToolError(json.dumps({"error": {"code": exc.code, "message": exc.message}})) from exc
    return result


def build_task_server() -> MCPServer:
    server = MCPServer(name="todo-tasks", instructions=INSTRUCTIONS, version="1.0.0")

    @server.tool()
    def add_task(
        title: Annotated[str, Field(description="What to do (1-200 characters).")],
        description: Annotated[str | None, Field(description="Optional details (up to 1000 characters).")] = None,
    ) -> dict[str, Any]:
        """Add a task to the user's list."""
        return _run(tasks.add_task, title, description)

    @server.tool()
    def list_tasks(
        status: Annotated[Literal["all", "pending", "completed"], Field(description="Which tasks to list.")] = "all",
    ) -> dict[str, Any]:
        """List the user's tasks, all of them or only the pending or completed ones."""
        return _run(tasks.list_tasks, status)

    @server.tool()
    def complete_task(task_id: TaskId) -> dict[str, Any]:
        """Mark one of the user's tasks as done."""
        return _run(tasks.complete_task, task_id)

    @server.tool()
    def delete_task(task_id: TaskId) -> dict[str, Any]:
        """Delete one of the user's tasks."""
        return _run(tasks.delete_task, task_id)

    @server.tool()
    def update_task(
        task_id: TaskId,
        title: Annotated[str | None, Field(description="The new title.")] = None,
        description: Annotated[str | None, Field(description="The new description.")] = None,
    ) -> dict[str, Any]:
        """Change the title or the description of one of the user's tasks."""
        return _run(tasks.update_task, task_id, title, description)

    return server
