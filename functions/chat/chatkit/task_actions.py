"""The task widgets' buttons, handled by the server without the model, and the rows that widgets live in.

Actions (`type`, payload `{"task_id": int}`):
- `task.complete`, `task.reopen`, `task.delete`: the task list's buttons, sent as `threads.sync_custom_action`
  (`streaming: false`): the task changes at once and the answer is the widget item as it is now.
- `task.delete.confirm`, `task.delete.cancel`: the confirm card's Delete / Cancel (`threads.custom_action`): the
  card is replaced by its answered form and a short assistant message says what happened. That message is stored
  like any answer, so the model's next turn reads the outcome.

Every action is checked before anything changes: the sender must be a widget item of the caller's own thread, the
task id in the payload (a JSON integer, nothing that merely looks like one) must be one that widget shows, the task
must be the caller's. A refusal is an `ApiError` (the error shape, before any stream starts) and changes nothing.

A confirm card is answered once, by one conditional write: the statement that moves the card from `pending` to its
answer is the one allowed to act, and the delete runs in the same transaction, only under that decision and only
while the task is still the one the card showed (same title); anything else rolls the answer back. Requests that
race for one card therefore store one answer, and the task is deleted exactly when that answer says so."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa
from chatkit.types import AssistantMessageItem, ClientEffectEvent, WidgetItem
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

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
from functions.chat.turn import items
from functions.chat.turn.service import TurnService
from functions.chat.turn.types import WidgetRow
from todo_common import conversations
from todo_common.errors import ApiError, not_found
from todo_common.models import INTEGER_MAX, Message, Task, TaskId, new_id, table_of
from todo_common.tool_calls import ToolCallRecord

EFFECT = "tasks.changed"
ActionType = Literal["task.complete", "task.reopen", "task.delete", "task.delete.confirm", "task.delete.cancel"]
LIST_ACTIONS = ("task.complete", "task.reopen", "task.delete")
CARD_ACTIONS = ("task.delete.confirm", "task.delete.cancel")
_OPERATIONS = {"task.complete": tasks.complete_task, "task.reopen": tasks.reopen_task, "task.delete": tasks.delete_task}
_CHANGES = ("created", "completed", "reopened", "updated", "deleted")  # the tool results that changed a task


_MESSAGE = table_of(Message)
_TASK = table_of(Task)
_DECISION = _MESSAGE.c.chatkit_item[("state", "decision")].as_string()


class TaskActionPayload(BaseModel):
    task_id: TaskId


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
    if action_type not in LIST_ACTIONS + CARD_ACTIONS:
        raise ApiError(400, "unknown_action", "This assistant does not know that action.")
    if item_id is None:
        raise ApiError(400, "invalid_sender", "This action must come from a widget: it names no item.")
    task_id = payload_task_id(payload)

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
        _check_pending(state)
        task = current_tasks(session, caller.user_id, [row]).get(task_id)
        if task is None:
            if isinstance(state, ConfirmDeleteState):
                session.refresh(row)  # answered (and the task deleted) between the two reads: say so
                _check_pending(state_of_row(row))
            raise _refused(task_not_found(task_id))
        if action_type == "task.delete.confirm" and isinstance(state, ConfirmDeleteState):
            _check_unchanged(state, task.title)
        return Checked(cast(ActionType, action_type), task_id, row, state)  # one of the known actions, checked above

    return caller.database.read(work)


def payload_task_id(payload: Any) -> int:
    """The payload's task id: a JSON integer in the column's range ("2", 2.0 or true are not ids)."""
    try:
        return TaskActionPayload.model_validate(payload).task_id
    except ValidationError:
        raise ApiError(
            422, "invalid_action", f"The action needs a task id: a whole number from 1 to {INTEGER_MAX}."
        ) from None


# -- doing ---------------------------------------------------------------------------------------------------


async def perform(caller: Caller, thread_id: str, item_id: str | None, action_type: str, payload: Any) -> Outcome:
    checked = await asyncio.to_thread(check, caller, thread_id, item_id, action_type, payload)
    return await asyncio.to_thread(_perform, caller, checked)


def _perform(caller: Caller, checked: Checked) -> Outcome:
    if isinstance(checked.state, ConfirmDeleteState):
        deleting = checked.type == "task.delete.confirm"
        state = checked.state
        message, change = caller.database.write(lambda session: _answer(session, caller, checked.row, state, deleting))
        return Outcome(_rendered(caller, checked.row.id), change, message)
    operation = _OPERATIONS[checked.type]
    try:
        changed = operation(caller, checked.task_id)
    except TaskToolError as exc:  # gone or changed between the check and now
        raise _refused(exc) from None
    return Outcome(_rendered(caller, checked.row.id), changed)


def _refused(refusal: TaskToolError) -> ApiError:
    return ApiError(404, refusal.code, refusal.message)


def _answer(
    session: Session, caller: Caller, card: Message, state: ConfirmDeleteState, deleting: bool
) -> tuple[AssistantMessageItem, TaskChange | None]:
    """Answer the card in one transaction: decide (pending -> answer, one conditional UPDATE; a request that loses
    the race changes nothing), delete the task under that decision if it is still the one shown, and store the
    message that tells the user and, next turn, the model. Any refusal raises and rolls the whole answer back."""
    answered = state.model_copy(update={"decision": "deleted" if deleting else "cancelled"})
    decided = session.execute(
        sa.update(_MESSAGE)
        .where(_MESSAGE.c.id == card.id, _MESSAGE.c.user_id == caller.user_id, _DECISION == "pending")
        .values(chatkit_item=stored_state(answered))
        .returning(_MESSAGE.c.id)
    ).first()
    if decided is None:
        now = state_of_row(session.get_one(Message, card.id, populate_existing=True))
        raise already_answered(now if isinstance(now, ConfirmDeleteState) else state)
    change = None
    if deleting:
        _delete_shown_task(session, caller, state)
        change = TaskChange(task_id=state.task_id, status="deleted", title=state.title)
    text = (
        f"Deleted “{state.title}” (#{state.task_id}), as you confirmed."
        if deleting
        else f"You cancelled: “{state.title}” (#{state.task_id}) was not deleted."
    )
    message = items.add_answer(session, caller.user_id, card.conversation_id, text)
    return assistant_message(message.id, message.conversation_id, message.created_at, text), change


def _delete_shown_task(session: Session, caller: Caller, state: ConfirmDeleteState) -> None:
    owned = (_TASK.c.id == state.task_id, _TASK.c.user_id == caller.user_id)
    deleted = session.execute(sa.delete(_TASK).where(*owned, _TASK.c.title == state.title).returning(_TASK.c.id))
    if deleted.first() is None:
        now = session.execute(sa.select(_TASK.c.title).where(*owned)).scalar()
        if now is None:
            raise ApiError(404, "task_not_found", f"Task {state.task_id} was not found.")
        _check_unchanged(state, now)


def _check_unchanged(state: ConfirmDeleteState, title_now: str) -> None:
    if title_now != state.title:
        raise ApiError(
            409,
            "task_changed",
            f"Task {state.task_id} changed since this card asked (it is now “{title_now}”): nothing was deleted.",
        )


def _check_pending(state: TaskListState | ConfirmDeleteState) -> None:
    if isinstance(state, ConfirmDeleteState) and state.decision != "pending":
        raise already_answered(state)


def already_answered(state: ConfirmDeleteState) -> ApiError:
    """The refusal of a card answered before, saying what the answer was."""
    outcome = "kept" if state.decision == "cancelled" else "deleted"
    return ApiError(409, "already_answered", f"This question was already answered: “{state.title}” was {outcome}.")


def _rendered(caller: Caller, row_id: str) -> WidgetItem:
    def work(session: Session) -> WidgetItem:
        row = session.get(Message, row_id)
        if row is None:
            raise not_found("The item")
        return widget_item(row, current_tasks(session, caller.user_id, [row]))

    return caller.database.read(work)


# -- the widgets of a turn -----------------------------------------------------------------------------------


async def add_turn_widgets(
    caller: Caller, turns: TurnService, thread_id: str, calls: list[ToolCallRecord]
) -> list[WidgetItem]:
    """Store the widgets a turn's tool calls make (after its answer) and return them rendered."""
    widgets = [WidgetRow(new_id("wgt"), stored_state(state)) for state in states_of(calls)]
    if not widgets:
        return []
    rows = await turns.add_widgets(caller, thread_id, widgets)
    return await asyncio.to_thread(caller.database.read, lambda s: _render(s, caller, rows))


def _render(session: Session, caller: Caller, rows: list[Message]) -> list[WidgetItem]:
    tasks = current_tasks(session, caller.user_id, rows)
    return [widget_item(row, tasks) for row in rows]


# -- a plain chat turn's delete questions --------------------------------------------------------------------

QUESTIONS_SEARCHED = 50  # the newest widget rows of a conversation where an open delete question is looked for


async def store_delete_questions(
    caller: Caller, turns: TurnService, conversation_id: str, answer_id: str, calls: list[ToolCallRecord]
) -> None:
    """Keep the deletes a plain turn asked about as confirm-card rows (the same rows, and the same one-answer rule,
    as ChatKit's cards). The card of each question has an id derived from its answer, so a retry that replays the
    turn stores nothing twice."""
    questions = [state for state in states_of(calls) if isinstance(state, ConfirmDeleteState)]
    if not questions:
        return

    cards = [
        WidgetRow("wgt_" + hashlib.sha256(f"{answer_id}:{index}".encode()).hexdigest()[:32], stored_state(state))
        for index, state in enumerate(questions)
    ]
    try:
        await turns.add_widgets(caller, conversation_id, cards)
    except IntegrityError:  # the same replay, stored at the same moment by another request
        return


async def answer_delete_question(caller: Caller, conversation_id: str, task_id: int, delete: bool) -> Outcome:
    """The user's answer (plain chat's `confirm_delete`) to the newest open question about `task_id`."""

    def find(session: Session) -> str:
        conversations.owned_conversation(session, caller.user_id, conversation_id)
        rows = session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.item_type == WIDGET_ITEM)
            .order_by(col(Message.seq).desc())
            .limit(QUESTIONS_SEARCHED)
        ).all()
        answered: ConfirmDeleteState | None = None
        for row in rows:
            state = state_of_row(row)
            if isinstance(state, ConfirmDeleteState) and state.task_id == task_id:
                if state.decision == "pending":
                    return row.id
                answered = answered or state
        if answered is not None:
            raise already_answered(answered)
        raise ApiError(
            409,
            "no_pending_confirmation",
            f"Nothing in this conversation is waiting for your answer about task {task_id}.",
        )

    card_id = await asyncio.to_thread(caller.database.read, find)
    action = "task.delete.confirm" if delete else "task.delete.cancel"
    return await perform(caller, conversation_id, card_id, action, {"task_id": task_id})
