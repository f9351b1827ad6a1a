"""A deterministic model for machines with no API key: it understands simple task commands, calls the same
task tools a real model would, and streams its answer in several deltas.

    add <title> | add task <title> | remind me to <title>
    list | show my tasks [pending|completed]
    complete <id> | done <id> | mark <id> done
    reopen <id> | undo <id> | mark <id> not done
    delete <id>
    rename <id> to <title> | update <id> <title>
    add these (with a plain-text or CSV list attached: a task per line, at most 50)

Anything else gets a short help message. The chosen output (a tool call, or text) is rendered here as the
events a Responses model streams for it, in the API's order, so the agent runner reads it as it reads a real model.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from agents.items import ModelResponse, TResponseOutputItem, TResponseStreamEvent
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from functions.chat.agent.offline_lists import (
    ADD_LIST,
    ATTACHED_PREFIX,
    MAX_LIST_TASKS,
    attached_texts,
    list_summary,
    titles_in,
)

HELP = (
    "I can manage your tasks. Try: “add buy milk”, “list”, “list pending”, “done 3”, “reopen 3”, “delete 3” "
    "or “rename 3 to buy oat milk”."
)
NO_LIST = (
    "Attach a plain-text or CSV file with one task per line, then say “add these”. (Without a model key I cannot "
    "read images.)"
)
_DELTA_WORDS = 3

_COMMANDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:add(?:\s+task)?|remind me to)\s+(?P<title>.+)$", re.I), "add_task"),
    (
        re.compile(
            r"^(?:list|show(?:\s+me)?(?:\s+my)?\s+tasks?)(?:\s+(?P<status>all|pending|completed))?"
            r"(?:\s+(?:tasks\s+)?after\s+#?(?P<after_id>\d+))?$",
            re.I,
        ),
        "list_tasks",
    ),
    (re.compile(r"^(?:complete|done|finish)\s+#?(?P<task_id>\d+)$", re.I), "complete_task"),
    (re.compile(r"^mark\s+#?(?P<task_id>\d+)\s+(?:as\s+)?(?:done|complete|completed)$", re.I), "complete_task"),
    (re.compile(r"^(?:reopen|undo|undone)\s+#?(?P<task_id>\d+)$", re.I), "reopen_task"),
    (
        re.compile(r"^mark\s+#?(?P<task_id>\d+)\s+(?:as\s+)?(?:not\s+done|undone|pending|open)$", re.I),
        "reopen_task",
    ),
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
        for number in ("task_id", "after_id"):
            if number in groups:
                groups[number] = int(groups[number])
        if tool == "list_tasks":
            groups["status"] = groups.get("status", "all").lower()
        return tool, groups
    return None


def forced_call(tool: str, text: str) -> tuple[str, dict[str, Any]] | None:
    """The call of `tool` a message that is not its command stands for (a composer tool forced it): its first line
    as a new task's title, the pending tasks for a list; None for a tool that needs a task id."""
    first = " ".join((text.strip().splitlines() or [""])[0].split())
    if tool == "add_task" and first:
        return tool, {"title": first}
    if tool == "list_tasks":
        return tool, {"status": "pending"}
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
        if not output.get("more"):
            return f"You have {len(tasks)} task{'s' if len(tasks) != 1 else ''}:\n" + "\n".join(lines)
        after = output.get("next_after_id")
        lines.append(f"…and {output['more']:,} more: say “list after {after}” for the next ones.")
        return f"Here are {len(tasks)} of your tasks:\n" + "\n".join(lines)
    if output.get("status") == "awaiting_confirmation":
        return f"Delete “{output.get('title')}” (#{output.get('task_id')})? Confirm or cancel below."
    verbs = {
        "created": "Added",
        "completed": "Completed",
        "reopened": "Reopened",
        "deleted": "Deleted",
        "updated": "Updated",
    }
    verb = verbs.get(str(output.get("status")), "Done with")
    return f"{verb} “{output.get('title')}” (#{output.get('task_id')})."


class OfflineModel(Model):
    def __init__(self, chars_per_second: float = 0) -> None:
        """`chars_per_second` paces its text as a real model's (0: at once), so Stop and a reload in the middle
        of an answer can be tried without a key."""
        self.chars_per_second = chars_per_second

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return render_response(self.respond(_input_of(args, kwargs), _forced_tool(args, kwargs)))

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        for event in render_stream(self.respond(_input_of(args, kwargs), _forced_tool(args, kwargs))):
            if self.chars_per_second and isinstance(event, ResponseTextDeltaEvent):
                await asyncio.sleep(len(event.delta) / self.chars_per_second)
            yield event

    def respond(self, items: list[Any], forced: str | None = None) -> list[TResponseOutputItem]:
        """The model's output for this input: a tool call for a new command (or for the tool the run forces, with
        what arguments the text gives), else text."""
        last = _as_dict(items[-1]) if items else {}
        listed = _list_request(items)
        if listed is not None:
            return _list_output(listed, items, last)
        if last.get("type") == "function_call_output":
            call = next(
                (
                    _as_dict(i)
                    for i in items
                    if _as_dict(i).get("call_id") == last.get("call_id") and _as_dict(i).get("type") == "function_call"
                ),
                {},
            )
            answer = describe_result(str(call.get("name")), _json(last.get("output")))
            return [_message(answer, f"msg_offline_{len(items)}")]
        command = parse_command(_said(last)) if last.get("role") == "user" else None
        if forced is not None and last.get("role") == "user" and (command is None or command[0] != forced):
            command = forced_call(forced, _said(last))
        if command is None:
            return [_message(HELP, f"msg_offline_{len(items)}")]
        tool, arguments = command
        return [_function_call(tool, arguments, f"call_{secrets.token_hex(8)}")]


def _list_request(items: list[Any]) -> dict[str, Any] | None:
    """The user message of this run when it asks to add an attached list ("add these"), else None."""
    user = next((_as_dict(i) for i in reversed(items) if _as_dict(i).get("role") == "user"), None)
    if user is None:
        return None
    first = (_said(user).strip().splitlines() or [""])[0]
    return user if ADD_LIST.match(" ".join(first.split()).rstrip(".!")) else None


def _list_output(user: dict[str, Any], items: list[Any], last: dict[str, Any]) -> list[TResponseOutputItem]:
    """An attached list's tasks: an `add_task` call for each, then, once they ran, how many were added."""
    texts = attached_texts(user.get("content"))
    if not texts:
        return [_message(NO_LIST, f"msg_offline_{len(items)}")]
    titles: list[str] = []
    left_out = 0
    for name, text in texts:
        found, more = titles_in(name, text)
        titles.extend(found)
        left_out += more
    left_out += max(len(titles) - MAX_LIST_TASKS, 0)
    titles = titles[:MAX_LIST_TASKS]
    names = ", ".join(name for name, _ in texts)
    if last.get("type") == "function_call_output":
        start = max(i for i, item in enumerate(items) if _as_dict(item).get("role") == "user")
        outputs = [
            _json(_as_dict(i).get("output")) for i in items[start:] if _as_dict(i).get("type") == "function_call_output"
        ]
        failed = sum(1 for output in outputs if not isinstance(output, dict) or "error" in output)
        summary = list_summary(names, len(outputs) - failed, failed, left_out)
        return [_message(summary, f"msg_offline_{len(items)}")]
    if not titles:
        return [_message(f"I found no tasks in {names}: it needs one task per line.", f"msg_offline_{len(items)}")]
    return [_function_call("add_task", {"title": title}, f"call_{secrets.token_hex(8)}") for title in titles]


def render_response(output: list[TResponseOutputItem]) -> ModelResponse:
    """The chosen output as a whole (non-streamed) model response: one request, no tokens counted."""
    return ModelResponse(output=output, usage=Usage(requests=1), response_id=_response_id())


def render_stream(output: list[TResponseOutputItem]) -> Iterator[TResponseStreamEvent]:
    """The events a Responses model streams for this output, in the API's order and numbered as it numbers them:
    the response created and in progress; per item, its start, its content (text in deltas of a few words, or a
    call's arguments) and its end; then the completed response, which carries the whole output (what the agent
    runner takes the turn's items from) and a usage of zero tokens. The chosen items are not copied: the done
    events and the completed response carry them as they are; only each item's in-progress view is a copy. The
    events are validated as they are built (pydantic-core is quicker at that than the `openai` models' own
    `model_construct`, which walks every field and validates unions anyway)."""
    number = itertools.count()
    started = Response(
        id=_response_id(),
        created_at=int(time.time()),
        model="offline",
        object="response",
        output=[],
        parallel_tool_calls=False,
        tool_choice="auto",
        tools=[],
        status="in_progress",
    )
    yield ResponseCreatedEvent(type="response.created", response=started, sequence_number=next(number))
    yield ResponseInProgressEvent(type="response.in_progress", response=started, sequence_number=next(number))
    for index, item in enumerate(output):
        if isinstance(item, ResponseOutputMessage):
            yield from _message_events(item, index, number)
        elif isinstance(item, ResponseFunctionToolCall):
            yield from _call_events(item, index, number)
        else:
            raise TypeError(f"the offline model renders no {item.type} output")
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done", item=item, output_index=index, sequence_number=next(number)
        )
    no_usage = ResponseUsage(
        input_tokens=0,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens=0,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        total_tokens=0,
    )
    completed = started.model_copy(update={"output": list(output), "status": "completed", "usage": no_usage})
    yield ResponseCompletedEvent(type="response.completed", response=completed, sequence_number=next(number))


def _message_events(item: ResponseOutputMessage, index: int, number: Iterator[int]) -> Iterator[TResponseStreamEvent]:
    """A message item's start and its text parts, each in deltas of a few words."""
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=item.model_copy(update={"content": [], "status": "in_progress"}),
        output_index=index,
        sequence_number=next(number),
    )
    for part_index, part in enumerate(item.content):
        if not isinstance(part, ResponseOutputText):
            raise TypeError(f"the offline model renders no {part.type} content")
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            item_id=item.id,
            output_index=index,
            content_index=part_index,
            part=ResponseOutputText(type="output_text", text="", annotations=[], logprobs=[]),
            sequence_number=next(number),
        )
        for chunk in _chunks(part.text):
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta",
                item_id=item.id,
                output_index=index,
                content_index=part_index,
                delta=chunk,
                logprobs=[],
                sequence_number=next(number),
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            item_id=item.id,
            output_index=index,
            content_index=part_index,
            text=part.text,
            logprobs=[],
            sequence_number=next(number),
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done",
            item_id=item.id,
            output_index=index,
            content_index=part_index,
            part=part,
            sequence_number=next(number),
        )


def _call_events(item: ResponseFunctionToolCall, index: int, number: Iterator[int]) -> Iterator[TResponseStreamEvent]:
    """A function call item's start and its arguments, in one delta."""
    item_id = item.id or item.call_id
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=item.model_copy(update={"arguments": "", "status": "in_progress"}),
        output_index=index,
        sequence_number=next(number),
    )
    yield ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta",
        item_id=item_id,
        output_index=index,
        delta=item.arguments,
        sequence_number=next(number),
    )
    yield ResponseFunctionCallArgumentsDoneEvent(
        type="response.function_call_arguments.done",
        item_id=item_id,
        output_index=index,
        arguments=item.arguments,
        sequence_number=next(number),
    )


def _response_id() -> str:
    return f"resp_offline_{secrets.token_hex(8)}"


def _message(text: str, item_id: str) -> ResponseOutputMessage:
    """An assistant's finished text message."""
    return ResponseOutputMessage(
        id=item_id,
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])],
    )


def _function_call(name: str, arguments: dict[str, Any], call_id: str) -> ResponseFunctionToolCall:
    """A call of the tool `name` (the call's id is its item's id too), its arguments in compact JSON."""
    return ResponseFunctionToolCall(
        id=call_id,
        call_id=call_id,
        type="function_call",
        name=name,
        arguments=json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
    )


def _forced_tool(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The tool the run's settings make the model call (a tool's name as `tool_choice`), if any."""
    settings = kwargs.get("model_settings", args[2] if len(args) > 2 else None)
    choice = getattr(settings, "tool_choice", None)
    return choice if isinstance(choice, str) and choice not in ("auto", "required", "none") else None


def _input_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    value = kwargs.get("input", args[1] if len(args) > 1 else [])
    return [{"role": "user", "content": value}] if isinstance(value, str) else list(value)


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    return dump() if callable(dump) else {}


def _said(item: dict[str, Any]) -> str:
    """What a user item says: its text, without what it carries (attached files are parts after the first)."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [str(part.get("text", "")) for part in content if isinstance(part, dict) and "text" in part]
        return texts[0] if texts and not texts[0].startswith(ATTACHED_PREFIX) else ""
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
