"""The todo assistant: an Agents SDK agent whose tools are the MCP task server, called in process.

Each MCP tool becomes an Agents SDK function tool that calls `MCPServer.call_tool` directly, after binding the
run's caller (from the verified token) as the tool's user: no network hop, no subprocess, the same validation and
results as an MCP client gets, and no way for the model to pick the user. How each call ended is kept, typed, in
the run's context (`AgentRun.tool_results`); the model reads the same result as JSON text."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agents import Agent, FunctionTool, ModelSettings
from agents.items import TResponseInputItem
from agents.models.interface import Model
from agents.tool_context import ToolContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from openai.types.shared import Reasoning
from sqlalchemy.exc import DBAPIError

from functions.chat.agent.composer import stored_options
from functions.chat.agent.messages import ContextMessage
from functions.chat.caller import Caller
from functions.chat.settings import ReasoningSummary
from functions.chat.tasks.mcp_server import current_caller, deletes_ask_first, refusal
from todo_common.db import DatabaseUnavailable
from todo_common.tool_calls import ToolCallRecord, records_of

T = TypeVar("T")
logger = logging.getLogger(__name__)

AGENT_INSTRUCTIONS = """You are the assistant of a todo app. You manage the signed-in user's tasks with your tools.
- Use the tools for every change and every question about tasks; never invent tasks or ids.
- After a change, confirm in one short sentence what you did, naming the task.
- When a request could mean more than one task (two similar titles, "the second one" with no list shown),
  ask which one instead of guessing. Refer to tasks by their title and id.
- If a tool reports an error, explain it plainly and say what the user can do.
- When delete_task answers "awaiting_confirmation", nothing is deleted yet: ask the user to press Delete or Cancel
  on the card shown below your answer, and do not call delete_task again for that task.
- Keep answers short and friendly."""


STOPPED_NOTE = "The user stopped the previous answer before it finished. Do not continue it unless asked to."


@dataclass(frozen=True)
class AgentRun:
    """The context of one agent run: whose tasks its tools touch, and how each tool call ended, keyed by call id
    (filled as the tools run). In a run, `delete_task` always asks first: the user answers (a confirm card in
    ChatKit, `confirm_delete` on the plain endpoint), so no model output deletes a task on its own."""

    caller: Caller
    tool_results: dict[str, ToolCallRecord] = field(default_factory=dict)
    # The SDK starts the tool calls of one answer at once; they run one after another, in the order the model made
    # them (an attached list's tasks are added in the list's order; "add X, then complete it" finds X).
    tool_calls_in_order: asyncio.Lock = field(default_factory=asyncio.Lock)


def build_agent(model: Model, server: MCPServer, reasoning_summary: ReasoningSummary | None = None) -> Agent[AgentRun]:
    """The agent; with `reasoning_summary`, a reasoning model is asked to stream summaries of its reasoning."""
    settings = ModelSettings(reasoning=Reasoning(summary=reasoning_summary)) if reasoning_summary else ModelSettings()
    return Agent[AgentRun](
        name="Todo assistant",
        instructions=AGENT_INSTRUCTIONS,
        model=model,
        model_settings=settings,
        tools=[_in_process_tool(server, spec) for spec in _blocking(server.list_tools())],
    )


def _in_process_tool(server: MCPServer, spec: Any) -> FunctionTool:
    name = str(spec.name)

    async def invoke(context: ToolContext[AgentRun], arguments_json: str) -> str:
        run = context.context
        async with run.tool_calls_in_order:
            result, failed = await _call(server, name, run, arguments_json)
        run.tool_results[context.tool_call_id] = ToolCallRecord(
            call_id=context.tool_call_id,
            name=name,
            arguments=_json_or_text(arguments_json),
            result=result,
            status="failure" if failed else "success",
        )
        return json.dumps(result)

    return FunctionTool(
        name=name,
        description=str(spec.description or ""),
        params_json_schema=dict(spec.input_schema),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


async def _call(server: MCPServer, name: str, run: AgentRun, arguments_json: str) -> tuple[Any, bool]:
    """The tool's structured result and whether it failed: a refusal as the tool words it, arguments the schema
    refuses as `invalid_arguments`, a crash as `internal_error` (or `database_unavailable`)."""
    try:
        arguments = json.loads(arguments_json or "{}")
    except ValueError:
        return refusal("invalid_arguments", "The tool arguments are not valid JSON."), True
    binding, asking = current_caller.set(run.caller), deletes_ask_first.set(True)
    try:
        result = await server.call_tool(name, arguments if isinstance(arguments, dict) else {})
    except UnexpectedToolError as exc:
        logger.error("tool %s failed unexpectedly", name, exc_info=exc.__cause__ or exc)
        if isinstance(exc.__cause__, DatabaseUnavailable | DBAPIError):
            return refusal("database_unavailable", "The task list cannot be reached right now; try again."), True
        return refusal("internal_error", "The tool failed; nothing was changed. Try again."), True
    except ToolError as exc:
        return refusal("invalid_arguments", str(exc)), True
    finally:
        deletes_ask_first.reset(asking)
        current_caller.reset(binding)
    structured = getattr(result, "structured_content", None)
    return structured, bool(getattr(result, "is_error", False))


# What an image counts for against the context's character budget (its data URL is no measure of what it costs).
IMAGE_CHARS = 1_000


def history_to_input(
    messages: Sequence[ContextMessage],
    max_chars: int,
    attached: Mapping[str, Sequence[dict[str, Any]]] | None = None,
) -> list[TResponseInputItem]:
    """The agent's input rebuilt from stored messages, oldest first, earlier tool calls and results included, the
    newest that fit in `max_chars` (the newest message always). An answer that did not complete gives the model
    its tool calls (they did happen) but not its partial text, which is no finished reply. `attached`: the input
    parts of the files each user message carries, by message id (`attachments.content`)."""
    groups: list[list[TResponseInputItem]] = []
    used = 0
    for message in reversed(messages):
        parts = (attached or {}).get(message.id)
        group = _items_of(message, parts)
        size = sum(len(json.dumps(item)) for item in group) - _image_chars(parts)
        if groups and used + size > max_chars:
            break
        used += size
        groups.append(group)
    return [item for group in reversed(groups) for item in group]


def _image_chars(parts: Sequence[dict[str, Any]] | None) -> int:
    """How much less than their JSON a message's images count for: each counts `IMAGE_CHARS`."""
    images = [part for part in parts or () if part.get("type") == "input_image"]
    return sum(len(json.dumps(part)) - IMAGE_CHARS for part in images)


def _items_of(message: ContextMessage, parts: Sequence[dict[str, Any]] | None = None) -> list[TResponseInputItem]:
    if message.item_type != "message":  # ChatKit's hidden context: for the model, never shown to the user
        hidden = (message.chatkit_item or {}).get("content")
        return [{"role": "system", "content": hidden if isinstance(hidden, str) else json.dumps(hidden)}]
    if message.role == "user" and parts:
        content: list[Any] = [{"type": "input_text", "text": user_text(message)}, *parts]
        return [{"role": "user", "content": content}]
    if message.role == "user":
        return [{"role": "user", "content": user_text(message)}]
    items: list[TResponseInputItem] = []
    for index, call in enumerate(records_of(message.tool_calls)):
        if call.status == "running":
            continue
        call_id = call.call_id or f"call_{message.id}_{index}"
        arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments or {})
        items.append({"type": "function_call", "call_id": call_id, "name": call.name, "arguments": arguments})
        items.append({"type": "function_call_output", "call_id": call_id, "output": json.dumps(call.result)})
    if message.content and message.status == "complete":
        items.append({"role": "assistant", "content": message.content})
    if message.error_code == "stopped":  # the hidden context ChatKit keeps for a stopped answer, in our rows
        items.append({"role": "system", "content": STOPPED_NOTE})
    return items


def user_text(message: ContextMessage) -> str:
    """What the user said as the model reads it: a ChatKit message's text with what its composer attached made
    explicit (the passage it quotes, the tasks it @-mentions by id, the composer tool picked), so "done @walk dog"
    names one task even when two share that title."""
    item = message.chatkit_item or {}
    if item.get("type") != "user_message":
        return message.content
    text = "".join(str(part.get("text") or "") for part in item.get("content", []))
    notes = []
    if item.get("quoted_text"):
        notes.append(f"The user quotes: {json.dumps(item['quoted_text'])}")
    for part in item.get("content", []):
        task_id = (part.get("data") or {}).get("task_id") if part.get("type") == "input_tag" else None
        if task_id is not None:
            notes.append(f"@{part.get('text')} is the task with id {task_id} (title {json.dumps(part.get('text'))}).")
    tool = stored_options(item).tool
    if tool is not None:
        notes.append(f"The user picked “{tool.label}” in the composer. {tool.instruction}")
    return "\n".join([text, *notes]) if notes else text


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def _blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, whether or not an event loop runs in this thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
