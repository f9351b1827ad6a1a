"""The task tools as one MCP server (mcp 2.x `MCPServer`).

The user a tool acts for is the `Caller` bound in `current_caller` by whoever called: the chat turn (from the
verified token, for the agent in process) or the MCP HTTP endpoint (from the bearer token). No tool takes a user
argument, so nothing a model or an MCP client sends can choose whose tasks are touched.

Each tool declares its result model (MCP `outputSchema`) and answers with structured content. A refusal is an
MCP error result whose structured content is `{"error": {"code", "message"}}`, and so are arguments the input schema
refuses (an id no INTEGER column holds, a string for a number) and values the database refuses: `invalid_arguments`,
in words that name the argument and never repeat its value. A crash (a bug, the database gone) is left to the SDK,
which reports it as an unexpected tool error."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DataError

from functions.chat.caller import Caller
from functions.chat.tasks import operations as tasks
from functions.chat.tasks.operations import TaskChange, TaskList, TaskToolError
from todo_common.models import INTEGER_MAX

current_caller: ContextVar[Caller | None] = ContextVar("current_caller", default=None)
# Bound true by the agent's runs, whose user answers a confirm card or `confirm_delete`: `delete_task` then asks
# instead of deleting. MCP clients over HTTP confirm destructive tools themselves (the tool is marked destructive).
deletes_ask_first: ContextVar[bool] = ContextVar("deletes_ask_first", default=False)

SERVER_INSTRUCTIONS = "Manage the signed-in user's todo list: add, list, complete, reopen, delete and update tasks."
# A JSON integer only (strict: no "2", 2.0 or true), and one an id column can hold.
TaskId = Annotated[int, Field(description="The task's id, as list_tasks shows it.", ge=1, le=INTEGER_MAX, strict=True)]

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
    return _tool_result(data, failed=failed)


def _tool_result(data: dict[str, Any], *, failed: bool) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data))], structured_content=data, is_error=failed
    )


def _invalid_arguments(error: ValidationError) -> CallToolResult:
    """The first problem, as the HTTP API words a 422: the argument and the rule, not the value."""
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    return _tool_result(refusal("invalid_arguments", f"Invalid {where}: {first['msg']}."), failed=True)


class TaskServer(MCPServer):
    """`MCPServer` whose refused arguments are refusals like any other: the same structured error for the agent
    in process and for MCP clients over HTTP."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            if isinstance(exc.__cause__, DataError):  # a value the database cannot hold: still the caller's input
                return _tool_result(
                    refusal("invalid_arguments", "A value in the arguments cannot be stored."), failed=True
                )
            raise
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                return _invalid_arguments(exc.__cause__)
            raise


def _delete_operation() -> Callable[..., BaseModel]:
    return tasks.request_delete if deletes_ask_first.get() else tasks.delete_task


def build_task_server() -> MCPServer:
    server = TaskServer(name="todo-tasks", instructions=SERVER_INSTRUCTIONS, version="1.0.0")

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
        after_id: Annotated[
            int | None,
            Field(description="The tasks after this id (next_after_id).", ge=0, le=INTEGER_MAX, strict=True),
        ] = None,
    ) -> Annotated[CallToolResult, TaskList]:
        """List the user's tasks, all of them or only the pending or completed ones, 50 at a time by id. When the
        result's `more` is above 0, tell the user how many more there are, and call again with `after_id` set to
        its `next_after_id` to see them."""
        return _result(tasks.list_tasks, status, after_id)

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
