"""A deterministic model for machines with no API key: it understands simple task commands, calls the same
task tools a real model would, and streams its answer in several deltas.

    add <title> | add task <title> | remind me to <title>
    list | show my tasks [pending|completed]
    complete <id> | done <id> | mark <id> done
    delete <id>
    rename <id> to <title> | update <id> <title>

Anything else gets a short help message. The chosen output (a tool call, or text) is rendered as a Responses
stream by the SDK's own deterministic model, so the agent runner sees exactly the events of a real model.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

from agents.items import ModelResponse, TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model
from agents.testing import ScriptedModel, assistant_message, function_call
from openai.types.responses import ResponseTextDeltaEvent

HELP = (
    "I can manage your tasks. Try: “add buy milk”, “list”, “list pending”, “done 3”, “delete 3” "
    "or “rename 3 to buy oat milk”."
)
_DELTA_WORDS = 3

_COMMANDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:add(?:\s+task)?|remind me to)\s+(?P<title>.+)$", re.I), "add_task"),
    (
        re.compile(r"^(?:list|show(?:\s+me)?(?:\s+my)?\s+tasks?)(?:\s+(?P<status>all|pending|completed))?$", re.I),
        "list_tasks",
    ),
    (re.compile(r"^(?:complete|done|finish)\s+#?(?P<task_id>\d+)$", re.I), "complete_task"),
    (re.compile(r"^mark\s+#?(?P<task_id>\d+)\s+(?:as\s+)?(?:done|complete|completed)$", re.I), "complete_task"),
    (re.compile(r"^(?:delete|remove)\s+#?(?P<task_id>\d+)$", re.I), "delete_task"),
    (re.compile(r"^rename\s+#?(?P<task_id>\d+)\s+to\s+(?P<title>.+)$", re.I), "update_task"),
    (re.compile(r"^update\s+#?(?P<task_id>\d+)\s+(?P<title>.+)$", re.I), "update_task"),
]


_MENTION = re.compile(r"^@(?P<title>.+) is the task with id (?P<task_id>\d+) ")


def parse_command(text: str) -> tuple[str, dict[str, Any]] | None:
    """The tool and arguments a message asks for, or None when it is not a command. A task the message
    @-mentions (the lines after the first say which id it is) stands for its id: "done @walk dog" is "done 7"."""
    first, *notes = text.strip().splitlines() or [""]
    for note in notes:
        mention = _MENTION.match(note)
        if mention:
            for written in ("@" + mention["title"], mention["title"]):
                first = first.replace(written, mention["task_id"], 1)
    cleaned = " ".join(first.strip().rstrip(".!").split())
    for pattern, tool in _COMMANDS:
        match = pattern.match(cleaned)
        if not match:
            continue
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        if "task_id" in groups:
            groups["task_id"] = int(groups["task_id"])
        if tool == "list_tasks":
            groups["status"] = groups.get("status", "all").lower()
        return tool, groups
    return None


def describe_result(tool: str, output: Any) -> str:
    """A short sentence about a tool's result, as the assistant says it."""
    if isinstance(output, dict) and isinstance(output.get("error"), dict):
        return f"Sorry, that didn't work: {output['error'].get('message', 'the tool failed')}"
    if not isinstance(output, dict):
        return "Done."
    if tool == "list_tasks":
        tasks = output.get("tasks") or []
        if not tasks:
            return "You have no tasks." if output.get("status") == "all" else f"You have no {output['status']} tasks."
        lines = [f"{'✓' if t['completed'] else '•'} {t['title']} (#{t['id']})" for t in tasks]
        return f"You have {len(tasks)} task{'s' if len(tasks) != 1 else ''}:\n" + "\n".join(lines)
    if output.get("status") == "awaiting_confirmation":
        return f"Delete “{output.get('title')}” (#{output.get('task_id')})? Confirm or cancel below."
    verbs = {"created": "Added", "completed": "Completed", "deleted": "Deleted", "updated": "Updated"}
    verb = verbs.get(str(output.get("status")), "Done with")
    return f"{verb} “{output.get('title')}” (#{output.get('task_id')})."


class OfflineModel(Model):
    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        renderer, args, kwargs = self._renderer(args, kwargs)
        return await renderer.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        renderer, args, kwargs = self._renderer(args, kwargs)
        async for event in renderer.stream_response(*args, **kwargs):
            if isinstance(event, ResponseTextDeltaEvent):
                for chunk in _chunks(event.delta):
                    yield event.model_copy(update={"delta": chunk})
            else:
                yield event

    def _renderer(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[ScriptedModel, tuple[Any, ...], dict[str, Any]]:
        """The SDK's deterministic model scripted with this call's answer, and the call's arguments for it. The
        answer is already chosen, so it is given no input: it would only deep-copy the whole conversation twice
        to record the call (a test's record)."""
        renderer = ScriptedModel([self.respond(_input_of(args, kwargs))])
        if "input" in kwargs:
            return renderer, args, kwargs | {"input": []}
        return renderer, (args[0], [], *args[2:]) if len(args) > 1 else args, kwargs

    def respond(self, items: list[Any]) -> list[TResponseOutputItem]:
        """The model's output for this input: a tool call for a new command, else text."""
        last = _as_dict(items[-1]) if items else {}
        if last.get("type") == "function_call_output":
            call = next(
                (
                    _as_dict(i)
                    for i in items
                    if _as_dict(i).get("call_id") == last.get("call_id") and _as_dict(i).get("type") == "function_call"
                ),
                {},
            )
            return [
                assistant_message(
                    describe_result(str(call.get("name")), _json(last.get("output"))),
                    item_id=f"msg_offline_{len(items)}",
                )
            ]
        command = parse_command(_text(last)) if last.get("role") == "user" else None
        if command is None:
            return [assistant_message(HELP, item_id=f"msg_offline_{len(items)}")]
        tool, arguments = command
        return [function_call(tool, arguments, call_id=f"call_{secrets.token_hex(8)}")]


def _input_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    value = kwargs.get("input", args[1] if len(args) > 1 else [])
    return [{"role": "user", "content": value}] if isinstance(value, str) else list(value)


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    return dump() if callable(dump) else {}


def _text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _chunks(text: str) -> list[str]:
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i : i + _DELTA_WORDS]) for i in range(0, len(words), _DELTA_WORDS)] or [text]


def _json(output: Any) -> Any:
    """A tool output as the model reads it (JSON text), parsed back; anything else as it is."""
    try:
        return json.loads(output) if isinstance(output, str) else output
    except ValueError:
        return output
