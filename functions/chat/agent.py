"""The todo assistant: an Agents SDK agent whose tools are the MCP task server, called in process.

Each MCP tool becomes an Agents SDK function tool that calls `MCPServer.call_tool` directly, after binding the
run's user (from `ChatContext`, i.e. from the verified token) as the tool owner: no network hop, no subprocess,
the same validation and results as an MCP client gets, and no way for the model to pick the user.

Tool outputs the model (and the chat stream) sees are JSON: the tool's structured result, or
`{"error": {"code": ..., "message": ...}}` for a refusal; `tool_call_status` tells the two apart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from agents import Agent, FunctionTool
from agents.items import TResponseInputItem
from agents.models.interface import Model
from agents.tool_context import ToolContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from functions.chat.mcp_server import build_task_server, current_owner
from functions.chat.tasks import TaskOwner
from todo_common.db import Database
from todo_common.models import Message

T = TypeVar("T")

INSTRUCTIONS = """You are the assistant of a todo app. You manage the signed-in user's tasks with your tools.
- Use the tools for every change and every question about tasks; never invent tasks or ids.
- After a change, confirm in one short sentence what you did, naming the task.
- When a request could mean more than one task (two similar titles, "the second one" with no list shown),
  ask which one instead of guessing. Refer to tasks by their title and id.
- If a tool reports an error, explain it plainly and say what the user can do.
- Keep answers short and friendly."""


@dataclass(frozen=True)
class ChatContext:
    """What a run knows about its request: who the user is (from the verified token) and the database."""

    user_id: str
    database: Database


def build_agent(model: Model, server: MCPServer | None = None) -> Agent[ChatContext]:
    task_server = server or build_task_server()
    return Agent[ChatContext](
        name="Todo assistant",
        instructions=INSTRUCTIONS,
        model=model,
        tools=[_in_process_tool(task_server, spec) for spec in _blocking(task_server.list_tools())],
    )


def _in_process_tool(server: MCPServer, spec: Any) -> FunctionTool:
    name = str(spec.name)

    async def invoke(context: ToolContext[ChatContext], arguments_json: str) -> str:
        run_context = context.context
        try:
            arguments = json.loads(arguments_json or "{}")
        except ValueError:
            return _error("invalid_arguments", "The tool arguments are not valid JSON.")
        token = current_owner.set(TaskOwner(run_context.user_id, run_context.database))
        try:
            result = await server.call_tool(name, arguments if isinstance(arguments, dict) else {})
        except ToolError as exc:
            return _tool_error(str(exc))
        finally:
            current_owner.reset(token)
        structured = getattr(result, "structured_content", None)
        if structured is not None:
            return json.dumps(structured)
        texts = [getattr(block, "text", "") for block in getattr(result, "content", [])]
        return json.dumps({"result": "\n".join(texts)})

    return FunctionTool(
        name=name,
        description=str(spec.description or ""),
        params_json_schema=dict(spec.input_schema),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def history_to_input(messages: list[Message]) -> list[TResponseInputItem]:
    """The agent's input rebuilt from stored messages, earlier tool calls and their results included."""
    items: list[TResponseInputItem] = []
    for message in messages:
        if message.role == "user":
            items.append({"role": "user", "content": message.content})
            continue
        for index, call in enumerate(message.tool_calls):
            call_id = str(call.get("call_id") or f"call_{message.id}_{index}")
            arguments = call.get("arguments")
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": str(call.get("name") or "tool"),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                }
            )
            items.append({"type": "function_call_output", "call_id": call_id, "output": json.dumps(call.get("result"))})
        if message.content:
            items.append({"role": "assistant", "content": message.content})
    return items


def tool_call_status(output: Any) -> Literal["success", "failure"]:
    try:
        parsed = json.loads(output) if isinstance(output, str) else output
    except ValueError:
        return "failure"
    return "failure" if isinstance(parsed, dict) and "error" in parsed else "success"


def _tool_error(text: str) -> str:
    start = text.find("{")
    if start >= 0:
        try:
            parsed = json.loads(text[start:])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "error" in parsed:
            return json.dumps(parsed)
    return _error("invalid_arguments", text)


def _error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def _blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, whether or not an event loop runs in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
