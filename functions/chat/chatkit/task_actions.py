"""The task widgets' buttons, handled by the server without the model, and the rows that widgets live in.

Actions (`type`, payload `{"task_id": int}`):
- `task.complete`, `task.reopen`, `task.delete`: the task list's buttons, sent as `threads.sync_custom_action`
  (`streaming: false`): the task changes at once and the answer is the widget item as it is now.
- `task.delete.confirm`, `task.delete.cancel`: the confirm card's Delete / Cancel (`threads.custom_action`): the
  card is replaced by its answered form and a short assistant message says what happened. That message is stored
  like any answer, so the model's next turn reads the outcome.

Every action is checked before anything changes: the sender must be a widget item of the caller's own thread, the
task id in the payload must be one that widget shows, the task must be the caller's, a confirm card is answered
once. A refusal is an `ApiError` (the error shape, before any stream starts) and changes nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal, cast

from chatkit.types import AssistantMessageItem, ClientEffectEvent, WidgetItem
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session

from functions.chat.caller import Caller
from functions.chat.chatkit.task_widgets import (
    WIDGET_ITEM,
    ConfirmDeleteState,
    TaskListState,
    current_tasks,
    state_of_row,
    states_of,
    stored_state,
    task_ids,
    widget_item,
)
from functions.chat.chatkit.view import assistant_message
from functions.chat.tasks import operations as tasks
from functions.chat.tasks.operations import TaskChange, TaskToolError, task_not_found
from todo_common import conversations
from todo_common.errors import ApiError, not_found
from todo_common.models import Message, new_id
from todo_common.tool_calls import ToolCallRecord

EFFECT = "tasks.changed"
ActionType = Literal["task.complete", "task.reopen", "task.delete", "task.delete.confirm", "task.delete.cancel"]
LIST_ACTIONS = ("task.complete", "task.reopen", "task.delete")
CARD_ACTIONS = ("task.delete.confirm", "task.delete.cancel")
_OPERATIONS = {"task.complete": tasks.complete_task, "task.reopen": tasks.reopen_task, "task.delete": tasks.delete_task}
_CHANGES = ("created", "completed", "reopened", "updated", "deleted")  # the tool results that changed a task


class TaskActionPayload(BaseModel):
    task_id: int = Field(ge=1)


@dataclass(frozen=True)
class Checked:
    """An action that passed every check: who, which widget row, which task."""

    type: ActionType
    task_id: int
    row: Message
    state: TaskListState | ConfirmDeleteState


@dataclass(frozen=True)
class Outcome:
    item: WidgetItem
    change: TaskChange | None
    message: AssistantMessageItem | None = None

    @property
    def effect(self) -> ClientEffectEvent | None:
        return effect_of(self.change)


def effect_of(change: TaskChange | None) -> ClientEffectEvent | None:
    """The one `tasks.changed` effect of a task change (none when nothing changed)."""
    if change is None or change.status == "awaiting_confirmation":
        return None
    return ClientEffectEvent(name=EFFECT, data={"task_id": change.task_id, "change": change.status})


def effect_of_call(call: ToolCallRecord) -> ClientEffectEvent | None:
    if call.status != "success" or not isinstance(call.result, dict) or call.result.get("status") not in _CHANGES:
        return None
    try:
        return effect_of(TaskChange.model_validate(call.result))
    except ValidationError:
        return None


# -- checking ------------------------------------------------------------------------------------------------


def check(caller: Caller, thread_id: str, item_id: str | None, action_type: str, payload: Any) -> Checked:
    """The action, checked against the caller, the sender widget and the task; `ApiError` when refused."""
    if action_type not in LIST_ACTIONS + CARD_ACTIONS or item_id is None:
        raise ApiError(400, "unknown_action", "This assistant does not know that action.")
    try:
        task_id = TaskActionPayload.model_validate(payload).task_id
    except ValidationError:
        raise ApiError(422, "invalid_action", "The action needs a task id.") from None

    def work(session: Session) -> Checked:
        conversations.owned_conversation(session, caller.user_id, thread_id)
        row = session.get(Message, item_id)
        if row is None or row.conversation_id != thread_id or row.item_type != WIDGET_ITEM:
            raise not_found("The item")
        state = state_of_row(row)
        if task_id not in task_ids(state):
            raise _refused(task_not_found(task_id))
        if (action_type in CARD_ACTIONS) != isinstance(state, ConfirmDeleteState):
            raise ApiError(400, "invalid_action", "This widget has no such button.")
        if isinstance(state, ConfirmDeleteState) and state.decision != "pending":
            raise ApiError(409, "already_answered", "This question was already answered.")
        if task_id not in current_tasks(session, caller.user_id, [row]):
            raise _refused(task_not_found(task_id))
        return Checked(cast(ActionType, action_type), task_id, row, state)  # one of the known actions, checked above

    return caller.database.read(work)


# -- doing ---------------------------------------------------------------------------------------------------


async def perform(caller: Caller, thread_id: str, item_id: str | None, action_type: str, payload: Any) -> Outcome:
    checked = await asyncio.to_thread(check, caller, thread_id, item_id, action_type, payload)
    return await asyncio.to_thread(_perform, caller, checked)


def _perform(caller: Caller, checked: Checked) -> Outcome:
    if checked.type in LIST_ACTIONS:
        changed = _task_operation(caller, checked)
        return Outcome(_rendered(caller, checked.row.id), changed)
    deleting = checked.type == "task.delete.confirm"
    change = _task_operation(caller, checked) if deleting else None
    assert isinstance(checked.state, ConfirmDeleteState)
    answered = checked.state.model_copy(update={"decision": "deleted" if deleting else "cancelled"})
    title, task_id = checked.state.title, checked.task_id
    text = (
        f"Deleted “{title}” (#{task_id}), as you confirmed."
        if deleting
        else f"You cancelled: “{title}” (#{task_id}) was not deleted."
    )
    message = caller.database.write(lambda session: _answer(session, caller, checked, answered, text))
    return Outcome(_rendered(caller, checked.row.id), change, message)


def _task_operation(caller: Caller, checked: Checked) -> TaskChange:
    operation = tasks.delete_task if checked.type == "task.delete.confirm" else _OPERATIONS[checked.type]
    try:
        return operation(caller, checked.task_id)
    except TaskToolError as exc:  # gone or changed between the check and now
        raise _refused(exc) from None


def _refused(refusal: TaskToolError) -> ApiError:
    return ApiError(404, refusal.code, refusal.message)


def _answer(
    session: Session, caller: Caller, checked: Checked, answered: ConfirmDeleteState, text: str
) -> AssistantMessageItem:
    """Store the card's answer and the message that tells the user and, next turn, the model."""
    fresh = session.get(Message, checked.row.id)
    if fresh is None or state_of_row(fresh) != checked.state:
        raise ApiError(409, "already_answered", "This question was already answered.")
    fresh.chatkit_item = stored_state(answered)
    session.add(fresh)
    conversation = conversations.owned_conversation(session, caller.user_id, fresh.conversation_id)
    message = conversations.append_message(session, conversation, role="assistant", content=text)
    return assistant_message(message.id, message.conversation_id, message.created_at, text)


def _rendered(caller: Caller, row_id: str) -> WidgetItem:
    def work(session: Session) -> WidgetItem:
        row = session.get(Message, row_id)
        if row is None:
            raise not_found("The item")
        return widget_item(row, current_tasks(session, caller.user_id, [row]))

    return caller.database.read(work)


# -- the widgets of a turn -----------------------------------------------------------------------------------


async def add_turn_widgets(caller: Caller, thread_id: str, calls: list[ToolCallRecord]) -> list[WidgetItem]:
    """Store the widgets a turn's tool calls make (after its answer) and return them rendered."""
    states = states_of(calls)
    if not states:
        return []

    def work(session: Session) -> list[WidgetItem]:
        conversation = conversations.owned_conversation(session, caller.user_id, thread_id)
        rows = [
            conversations.append_message(
                session,
                conversation,
                role="assistant",
                content="",
                message_id=new_id("wgt"),
                item_type=WIDGET_ITEM,
                chatkit_item=stored_state(state),
            )
            for state in states
        ]
        now = current_tasks(session, caller.user_id, rows)
        return [widget_item(row, now) for row in rows]

    return await asyncio.to_thread(caller.database.write, work)
