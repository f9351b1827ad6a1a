"""The ChatKit view of a turn: turn events (live) and stored rows (a reload) as ChatKit thread items.

An answer is one row; ChatKit sees it as an assistant message and, when tools ran or the model reasoned, a workflow
item whose tasks are the tool calls (id `wf_` + the message id's random part), with a Success or Failed badge each,
and the reasoning summaries (`ThoughtTask`), in the order they came. The two items come
in the order they began: the workflow first when the first tool ran before any text, else the message first. The
message links the tasks its tool calls touched or listed (entity annotations, from the stored tool results). The
live stream and a reload follow that one rule, so both show the same items in the same order."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    CustomSummary,
    CustomTask,
    EntitySource,
    InferenceOptions,
    ThoughtTask,
    ThreadItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    UserMessageInput,
    UserMessageItem,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from pydantic import TypeAdapter

from functions.chat.chatkit.task_widgets import WIDGET_ITEM, widget_item
from functions.chat.turn.events import (
    TextDelta,
    ThoughtDone,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
)
from functions.chat.turn.thoughts import ThoughtRecord, thoughts_of
from todo_common.conversations import CHAT_ITEM
from todo_common.models import Message, Task
from todo_common.tool_calls import ToolCallRecord, records_of

_ITEM = TypeAdapter[ThreadItem](ThreadItem)
WORKFLOW_PREFIX = "wf_"
MAX_TASK_LINKS = 20  # an answer links at most this many tasks (a long list links its first ones)
_TOOL_BADGES: dict[str, tuple[str, Any]] = {
    "success": ("Success", "check-circle-filled"),
    "failure": ("Failed", "lucide:circle-x"),
}


def workflow_id(message_id: str) -> str:
    return WORKFLOW_PREFIX + message_id.split("_", 1)[-1]


def row_id(item_id: str) -> str:
    """The message row behind a ChatKit item id (a workflow item is its answer's)."""
    return "msg_" + item_id.removeprefix(WORKFLOW_PREFIX) if item_id.startswith(WORKFLOW_PREFIX) else item_id


def item_text(item: UserMessageItem | AssistantMessageItem | UserMessageInput) -> str:
    return "".join(getattr(part, "text", "") for part in item.content)


# -- a reload -------------------------------------------------------------------------------------------------


def items_of(row: Message, tasks: Mapping[int, Task] | None = None) -> list[ThreadItem]:
    """The ChatKit items one row stands for (a widget row is rendered with `tasks`, the user's tasks now)."""
    if row.item_type == WIDGET_ITEM:
        return [widget_item(row, tasks or {})]
    if row.item_type != CHAT_ITEM:
        return [_ITEM.validate_python(row.chatkit_item)] if row.chatkit_item else []
    if row.role == "user":
        if row.chatkit_item and row.chatkit_item.get("type") == "user_message":
            return [_ITEM.validate_python(row.chatkit_item)]
        return [
            UserMessageItem(
                id=row.id,
                thread_id=row.conversation_id,
                created_at=row.created_at,
                content=[UserMessageTextContent(text=row.content)],
                inference_options=InferenceOptions(),
            )
        ]
    calls = records_of(row.tool_calls)
    message: list[ThreadItem] = []
    if row.content or row.status == "complete":
        links = task_links(row.content, calls)
        message = [assistant_message(row.id, row.conversation_id, row.created_at, row.content, links)]
    steps = workflow_steps(calls, thoughts_of(row.reasoning))
    if not steps:
        return message
    workflow: list[ThreadItem] = [workflow_item(row.id, row.conversation_id, row.created_at, steps)]
    return message + workflow if _text_came_first(row.content, steps) else workflow + message


Step = ToolCallRecord | ThoughtRecord  # a workflow task: a tool call, or a reasoning summary


def workflow_steps(calls: list[ToolCallRecord], thoughts: list[ThoughtRecord]) -> list[Step]:
    """The answer's tool calls and reasoning summaries in the order they came: each summary before the call that
    started after it (its `step` counts the calls started before it)."""
    steps: list[Step] = []
    for index, call in enumerate(calls):
        steps += [thought for thought in thoughts if thought.step == index]
        steps.append(call)
    return steps + [thought for thought in thoughts if thought.step >= len(calls)]


def _text_came_first(text: str, steps: list[Step]) -> bool:
    return bool(text) and steps[0].text_offset > 0


def assistant_message(
    message_id: str, thread_id: str, created_at: datetime, text: str, links: list[Annotation] | None = None
) -> AssistantMessageItem:
    content = AssistantMessageContent(text=text, annotations=links or [])
    return AssistantMessageItem(id=message_id, thread_id=thread_id, created_at=created_at, content=[content])


def task_links(text: str, calls: list[ToolCallRecord]) -> list[Annotation]:
    """The tasks an answer's successful tool calls touched or listed, as entity annotations on its text: read from
    the calls' typed results (never from the model's words), in call order, each task once, at most
    `MAX_TASK_LINKS`. Each sits right after the first mention of its title in the text, or, unmentioned, with the
    answer's sources. A deleted task has nothing left to link to."""
    links: dict[int, Annotation] = {}
    for call in calls:
        for task_id, title, done in _tasks_of(call):
            if task_id in links or len(links) == MAX_TASK_LINKS:
                continue
            at = text.casefold().find(title.casefold()) if title else -1
            links[task_id] = Annotation(
                source=EntitySource(
                    id=f"task_{task_id}",
                    title=title,
                    label=f"Task #{task_id}",
                    icon="check-circle-filled" if done else "empty-circle",
                    interactive=True,
                    data={"task_id": task_id},
                ),
                index=at + len(title) if at >= 0 else None,
            )
    return list(links.values())


def _tasks_of(call: ToolCallRecord) -> list[tuple[int, str, bool]]:
    """(id, title, done) of each task a successful call's result names."""
    result = call.result if isinstance(call.result, dict) else {}
    if call.status != "success":
        return []
    if isinstance(result.get("tasks"), list):
        return [
            (task["id"], str(task.get("title") or ""), bool(task.get("completed")))
            for task in result["tasks"]
            if isinstance(task, dict) and isinstance(task.get("id"), int)
        ]
    if isinstance(result.get("task_id"), int) and result.get("status") != "deleted":
        return [(result["task_id"], str(result.get("title") or ""), result.get("status") == "completed")]
    return []


def workflow_item(message_id: str, thread_id: str, created_at: datetime, steps: list[Step]) -> WorkflowItem:
    calls = [step for step in steps if isinstance(step, ToolCallRecord)]
    failed = sum(1 for call in calls if call.status == "failure")
    title = f"Used {len(calls)} tool{'s' if len(calls) != 1 else ''}" + (f", {failed} failed" if failed else "")
    return WorkflowItem(
        id=workflow_id(message_id),
        thread_id=thread_id,
        created_at=created_at,
        workflow=Workflow(
            type="custom" if calls else "reasoning",
            tasks=[step_task(step) for step in steps],
            summary=CustomSummary(title=title if calls else "Thought it through"),
            expanded=True,
        ),
    )


def step_task(step: Step) -> CustomTask | ThoughtTask:
    if isinstance(step, ThoughtRecord):
        return ThoughtTask(title="Thinking", content=step.text, status_indicator="complete")
    return tool_task(step)


def tool_task(call: ToolCallRecord) -> CustomTask:
    """One tool call as a workflow task: a loading indicator while it runs, then a Success or Failed badge."""
    badge = _TOOL_BADGES.get(call.status)
    if badge is None:
        return CustomTask(title=f"{call.name}…", icon="bolt", status_indicator="loading")
    label, icon = badge
    return CustomTask(
        title=f"{call.name}: {label}", icon=icon, status_indicator="complete", content=_describe(call.result)
    )


def _describe(result: Any) -> str | None:
    if not isinstance(result, dict):
        return None
    error = result.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "failed")
    title, status = result.get("title"), result.get("status")
    return f"{status}: {title}" if title and status else None


# -- the live stream ------------------------------------------------------------------------------------------


class TurnView:
    """Renders one turn's events as ChatKit thread events. Both items stay open until the turn ends, so a tool
    after some text adds to the one workflow instead of making another."""

    def __init__(self, thread_id: str, message_id: str, created_at: datetime) -> None:
        self.thread_id = thread_id
        self.message_id = message_id
        self.created_at = created_at
        self.steps: list[Step] = []
        self.text = ""
        self.opened: list[Literal["workflow", "message"]] = []
        self.failure: TurnFailed | None = None

    def render(self, event: TurnEvent) -> list[ThreadStreamEvent]:
        match event:
            case ToolStarted():
                return self._tool_started(event.call)
            case ToolFinished():
                return self._tool_finished(event.call)
            case ThoughtDone():
                return self._step_added(event.thought)
            case TextDelta():
                self.text += event.text
                update = AssistantMessageContentPartTextDelta(content_index=0, delta=event.text)
                return [*self._open_message(), ThreadItemUpdatedEvent(item_id=self.message_id, update=update)]
            case TurnFailed():
                self.failure = event
                return self._close(with_empty_message=False)
            case TurnCompleted():
                return self._close(with_empty_message=True)
        return []

    @property
    def calls(self) -> list[ToolCallRecord]:
        return [step for step in self.steps if isinstance(step, ToolCallRecord)]

    def _step_added(self, step: Step) -> list[ThreadStreamEvent]:
        self.steps.append(step)
        if "workflow" not in self.opened:
            self.opened.append("workflow")
            return [ThreadItemAddedEvent(item=self._workflow())]
        update = WorkflowTaskAdded(task_index=len(self.steps) - 1, task=step_task(step))
        return [ThreadItemUpdatedEvent(item_id=workflow_id(self.message_id), update=update)]

    def _tool_started(self, call: ToolCallRecord) -> list[ThreadStreamEvent]:
        return self._step_added(call)

    def _tool_finished(self, call: ToolCallRecord) -> list[ThreadStreamEvent]:
        index = next(
            (i for i, c in enumerate(self.steps) if isinstance(c, ToolCallRecord) and c.call_id == call.call_id), None
        )
        if index is None:
            return []
        self.steps[index] = call
        update = WorkflowTaskUpdated(task_index=index, task=tool_task(call))
        return [ThreadItemUpdatedEvent(item_id=workflow_id(self.message_id), update=update)]

    def _open_message(self) -> list[ThreadStreamEvent]:
        if "message" in self.opened:
            return []
        self.opened.append("message")
        part = AssistantMessageContentPartAdded(content_index=0, content=AssistantMessageContent(text=""))
        return [
            ThreadItemAddedEvent(item=self._message("")),
            ThreadItemUpdatedEvent(item_id=self.message_id, update=part),
        ]

    def _close(self, *, with_empty_message: bool) -> list[ThreadStreamEvent]:
        events: list[ThreadStreamEvent] = []
        if with_empty_message or self.text:
            events += self._open_message()
        for opened in self.opened:
            if opened == "workflow":
                events.append(ThreadItemDoneEvent(item=self._workflow()))
                continue
            links = task_links(self.text, self.calls)
            events += [
                ThreadItemUpdatedEvent(
                    item_id=self.message_id,
                    update=AssistantMessageContentPartAnnotationAdded(
                        content_index=0, annotation_index=index, annotation=link
                    ),
                )
                for index, link in enumerate(links)
            ]
            content = AssistantMessageContent(text=self.text, annotations=links)
            events += [
                ThreadItemUpdatedEvent(
                    item_id=self.message_id,
                    update=AssistantMessageContentPartDone(content_index=0, content=content),
                ),
                ThreadItemDoneEvent(item=self._message(self.text, links)),
            ]
        return events

    def _workflow(self) -> WorkflowItem:
        return workflow_item(self.message_id, self.thread_id, self.created_at, self.steps)

    def _message(self, text: str, links: list[Annotation] | None = None) -> AssistantMessageItem:
        return assistant_message(self.message_id, self.thread_id, self.created_at, text, links)
