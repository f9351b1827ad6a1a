"""Provisional agent (replaced by the MCP-backed agent of issue 3): a todo assistant with an add_task tool."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from agents import Agent, RunContextWrapper, function_tool
from agents.items import TResponseInputItem
from agents.models.interface import Model

from todo_common.db import Database
from todo_common.models import Message, Task


@dataclass(frozen=True)
class ChatContext:
    user_id: str
    database: Database


@function_tool
def add_task(wrapper: RunContextWrapper[ChatContext], title: str) -> str:
    """Add a task to the user's list."""
    context = wrapper.context

    def work(session: Any) -> dict[str, Any]:
        task = Task(user_id=context.user_id, title=title)
        session.add(task)
        session.flush()
        return {"task_id": task.id, "status": "created", "title": task.title}

    return json.dumps(context.database.write(work))


def build_agent(model: Model) -> Agent[ChatContext]:
    return Agent[ChatContext](
        name="Todo assistant", instructions="Manage the user's tasks.", model=model, tools=[add_task]
    )


def history_to_input(messages: list[Message]) -> list[TResponseInputItem]:
    items: list[TResponseInputItem] = []
    for message in messages:
        if message.role == "user":
            items.append({"role": "user", "content": message.content})
            continue
        for call in message.tool_calls:
            call_id = str(call.get("call_id") or "")
            items.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": call["name"],
                    "arguments": json.dumps(call.get("arguments") or {}),
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
