"""Task widgets: what a task tool's result looks like in ChatKit, built from the `.widget` templates beside this
module (`widgets/*.widget`, ChatKit's `WidgetTemplate`) with typed, validated data.

A widget is a row of its own (`item_type` "widget") whose `chatkit_item` keeps the widget's *state* (which tasks
it shows, or a delete awaiting the user's answer), never the rendered JSON: every read renders it again from the
task table, so a reload shows each task as it is now (done, reopened, deleted).

- `list_tasks` and a task that an add, complete, reopen or update changed: a task list (a badge per task, Complete or
  Reopen, Delete).
- `delete_task` from a ChatKit turn: a confirm card (Delete / Cancel); the task is removed only on Delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from chatkit.types import WidgetItem
from chatkit.widgets import WidgetTemplate
from pydantic import BaseModel, Field, TypeAdapter
from sqlmodel import Session, col, select

from functions.chat.tasks.operations import LIST_PAGE_SIZE
from functions.chat.turn.types import WIDGET_ITEM as WIDGET_ITEM  # the turn writes widget rows; ChatKit shows them
from todo_common.models import Message, Task
from todo_common.tool_calls import ToolCallRecord

WIDGETS = Path(__file__).with_name("widgets")
TaskState = Literal["pending", "completed", "deleted"]
Decision = Literal["pending", "deleted", "cancelled"]
_TASK_BADGES: dict[str, tuple[str, Literal["warning", "success", "secondary"]]] = {
    "pending": ("Pending", "warning"),
    "completed": ("Done", "success"),
    "deleted": ("Deleted", "secondary"),
}
_LIST_HEADINGS = {"all": "Your tasks", "pending": "Pending tasks", "completed": "Completed tasks"}
_CHANGE_HEADINGS = {
    "add_task": "Added",
    "complete_task": "Completed",
    "reopen_task": "Reopened",
    "update_task": "Updated",
}


# -- state (stored) --------------------------------------------------------------------------------------------


class ListedTask(BaseModel):
    id: int = Field(ge=1)
    title: str


class TaskListState(BaseModel):
    kind: Literal["task_list"] = "task_list"
    heading: str
    tasks: list[ListedTask]
    more: int = Field(default=0, ge=0)  # tasks the listing had beyond this page


class ConfirmDeleteState(BaseModel):
    kind: Literal["confirm_delete"] = "confirm_delete"
    task_id: int = Field(ge=1)
    title: str
    decision: Decision = "pending"


WidgetState = Annotated[TaskListState | ConfirmDeleteState, Field(discriminator="kind")]
STATE = TypeAdapter[TaskListState | ConfirmDeleteState](WidgetState)


# -- template data (what a `.widget` template gets) ------------------------------------------------------------


class TaskRow(BaseModel):
    id: int = Field(ge=1)
    title: str = Field(min_length=1)
    state: TaskState
    badge: str
    badge_color: Literal["warning", "success", "secondary"]


class TaskListData(BaseModel):
    heading: str = Field(min_length=1)
    tasks: list[TaskRow]
    more: str | None = Field(default=None, description="The line that says how many more tasks there are.")


class ConfirmDeleteData(BaseModel):
    task_id: int = Field(ge=1)
    title: str = Field(min_length=1)
    decision: Decision
    status: str
    icon: Literal["circle-question", "check-circle-filled", "empty-circle"]


@cache
def template(name: str) -> WidgetTemplate:
    return WidgetTemplate.from_file(str(WIDGETS / f"{name}.widget"))


# -- from tool calls -------------------------------------------------------------------------------------------


def states_of(calls: Iterable[ToolCallRecord]) -> list[TaskListState | ConfirmDeleteState]:
    """The widgets a turn's tool calls make: one per successful task call that shows or asks something, calls of
    the same change in a row sharing one (an attached list's fifty `add_task` calls are one "Added" list)."""
    states: list[TaskListState | ConfirmDeleteState] = []
    changed_last = False
    for call in calls:
        state = _state_of(call)
        if state is None:
            continue
        changes = call.name in _CHANGE_HEADINGS
        previous = states[-1] if states and changes and changed_last else None
        if (
            isinstance(previous, TaskListState)
            and isinstance(state, TaskListState)
            and previous.heading == state.heading
        ):
            previous.tasks.extend(state.tasks)
            continue
        states.append(state)
        changed_last = changes
    return states


def _state_of(call: ToolCallRecord) -> TaskListState | ConfirmDeleteState | None:
    result = call.result if isinstance(call.result, dict) else {}
    if call.status != "success":
        return None
    if call.name == "list_tasks":
        listed = [ListedTask(id=t["id"], title=t["title"]) for t in result.get("tasks", [])]
        listing = _LIST_HEADINGS.get(str(result.get("status")), "Your tasks")
        return TaskListState(heading=listing, tasks=listed, more=int(result.get("more") or 0))
    if call.name == "delete_task" and result.get("status") == "awaiting_confirmation":
        return ConfirmDeleteState(task_id=result["task_id"], title=result["title"])
    heading = _CHANGE_HEADINGS.get(call.name)
    if heading is not None and "task_id" in result:
        return TaskListState(heading=heading, tasks=[ListedTask(id=result["task_id"], title=result["title"])])
    return None


# -- rendering -------------------------------------------------------------------------------------------------


def task_ids(state: TaskListState | ConfirmDeleteState) -> list[int]:
    return [t.id for t in state.tasks] if isinstance(state, TaskListState) else [state.task_id]


def state_of_row(row: Message) -> TaskListState | ConfirmDeleteState:
    return STATE.validate_python((row.chatkit_item or {}).get("state"))


def current_tasks(session: Session, user_id: str, rows: Iterable[Message]) -> dict[int, Task]:
    """The user's tasks that the widget rows among `rows` show, as they are now."""
    ids = {i for row in rows if row.item_type == WIDGET_ITEM for i in task_ids(state_of_row(row))}
    if not ids:
        return {}
    found = session.exec(select(Task).where(Task.user_id == user_id, col(Task.id).in_(ids))).all()
    return {task.id: task for task in found if task.id is not None}


def widget_item(row: Message, tasks: Mapping[int, Task]) -> WidgetItem:
    state = state_of_row(row)
    data, text = _list_data(state, tasks) if isinstance(state, TaskListState) else _confirm_data(state, tasks)
    name = "task_list" if isinstance(state, TaskListState) else "confirm_delete"
    return WidgetItem(
        id=row.id,
        thread_id=row.conversation_id,
        created_at=row.created_at,
        widget=template(name).build(data),
        copy_text=text,
    )


def _list_data(state: TaskListState, tasks: Mapping[int, Task]) -> tuple[TaskListData, str]:
    shown = state.tasks[:LIST_PAGE_SIZE]  # a page, even for a list stored before lists were paged
    more = state.more + len(state.tasks) - len(shown)
    rows = []
    for listed in shown:
        task = tasks.get(listed.id)
        now: TaskState = "deleted" if task is None else "completed" if task.completed else "pending"
        label, color = _TASK_BADGES[now]
        title = task.title if task is not None else listed.title
        rows.append(TaskRow(id=listed.id, title=title, state=now, badge=label, badge_color=color))
    more_line = f"…and {more:,} more: ask for the tasks after #{shown[-1].id}." if more and shown else None
    text = "\n".join([*(f"{row.badge}: {row.title} (#{row.id})" for row in rows), *([more_line] if more_line else [])])
    return TaskListData(heading=state.heading, tasks=rows, more=more_line), f"{state.heading}\n{text}".strip()


def _confirm_data(state: ConfirmDeleteState, tasks: Mapping[int, Task]) -> tuple[ConfirmDeleteData, str]:
    decision = state.decision
    if decision == "pending" and state.task_id not in tasks:
        decision = "deleted"  # gone meanwhile (another device, the todo app): nothing left to ask
    status, icon = {
        "pending": ("Waiting for your answer", "circle-question"),
        "deleted": ("Deleted", "check-circle-filled"),
        "cancelled": ("Kept: nothing was deleted", "empty-circle"),
    }[decision]
    data = ConfirmDeleteData(task_id=state.task_id, title=state.title, decision=decision, status=status, icon=icon)
    return data, f"Delete “{state.title}” (#{state.task_id})? {status}."


def stored_state(state: TaskListState | ConfirmDeleteState) -> dict[str, Any]:
    return {"state": state.model_dump(mode="json")}
