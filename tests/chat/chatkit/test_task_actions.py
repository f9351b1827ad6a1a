"""Task widget actions at their edges, on the real database: a task that changed between the check and the action,
a confirm card answered meanwhile, and the effects of tool calls that did or did not change a task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agents.testing import ScriptedModel
from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.types import WidgetItem
from sqlmodel import select

from functions.chat.caller import Caller
from functions.chat.chatkit import task_actions
from functions.chat.chatkit.context import ChatKitContext
from functions.chat.chatkit.store import to_thread
from functions.chat.chatkit.task_widgets import ConfirmDeleteState, stored_state
from functions.chat.tasks import operations as tasks
from tests.support.chat import chat_app
from tests.support.chatkit import widget_row
from tests.support.factories import seed_conversation
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message
from todo_common.tool_calls import ToolCallRecord
from todo_common.web import Services

ALICE = "user_alice"


def call(status: str, result: Any, name: str = "add_task") -> ToolCallRecord:
    return ToolCallRecord.model_validate({"call_id": "c", "name": name, "status": status, "result": result})


def test_effects_follow_what_a_tool_call_changed() -> None:
    effect = task_actions.effect_of_call(call("success", {"task_id": 4, "status": "deleted", "title": "x"}))
    assert effect is not None
    assert (effect.name, effect.data) == ("tasks.changed", {"task_id": 4, "change": "deleted"})
    failed = {"error": {"code": "task_not_found", "message": "no"}}
    assert task_actions.effect_of_call(call("failure", failed)) is None
    assert task_actions.effect_of_call(call("success", {"task_id": 4, "status": "awaiting_confirmation"})) is None
    assert task_actions.effect_of_call(call("success", {"status": "created"})) is None  # not a TaskChange
    listed = {"status": "all", "count": 0, "tasks": []}
    assert task_actions.effect_of_call(call("success", listed, name="list_tasks")) is None


def _confirm_card(database: Database, caller: Caller) -> tuple[str, str, int]:
    task_id = tasks.add_task(caller, "walk dog").task_id
    conversation = seed_conversation(database, ALICE)
    item_id = widget_row(database, conversation.id, ALICE, [task_id])

    def as_card(session: Any) -> None:
        row = session.get(Message, item_id)
        row.chatkit_item = stored_state(ConfirmDeleteState(task_id=task_id, title="walk dog"))
        session.add(row)

    database.write(as_card)
    return conversation.id, item_id, task_id


def test_a_task_gone_between_the_check_and_the_action_is_refused(database: Database) -> None:
    caller = Caller(ALICE, database)
    task_id = tasks.add_task(caller, "walk dog").task_id
    conversation = seed_conversation(database, ALICE)
    item_id = widget_row(database, conversation.id, ALICE, [task_id])
    checked = task_actions.check(caller, conversation.id, item_id, "task.complete", {"task_id": task_id})
    tasks.delete_task(caller, task_id)
    with pytest.raises(ApiError) as refused:
        task_actions._perform(caller, checked)
    assert (refused.value.status, refused.value.code) == (404, "task_not_found")


def test_a_confirm_card_answered_meanwhile_is_answered_once(database: Database) -> None:
    caller = Caller(ALICE, database)
    thread_id, item_id, task_id = _confirm_card(database, caller)
    stale = task_actions.check(caller, thread_id, item_id, "task.delete.cancel", {"task_id": task_id})
    asyncio.run(task_actions.perform(caller, thread_id, item_id, "task.delete.cancel", {"task_id": task_id}))
    with pytest.raises(ApiError) as refused:
        task_actions._perform(caller, stale)
    assert refused.value.code == "already_answered"
    messages = database.read(
        lambda s: [m.content for m in s.exec(select(Message).where(Message.conversation_id == thread_id)) if m.content]
    )
    assert messages == [f"You cancelled: “walk dog” (#{task_id}) was not deleted."]


def test_a_streamed_action_refused_while_it_runs_ends_with_an_error_event(
    services: Services, database: Database
) -> None:
    caller = Caller(ALICE, database)
    task_id = tasks.add_task(caller, "walk dog").task_id
    conversation = seed_conversation(database, ALICE)
    item_id = widget_row(database, conversation.id, ALICE, [task_id])
    server = chat_app(services, ScriptedModel([])).state.chat.chatkit
    thread = to_thread(database.read(lambda s: s.get_one(Conversation, conversation.id)))
    sender = asyncio.run(server.server.store.load_item(conversation.id, item_id, ChatKitContext(caller)))
    assert isinstance(sender, WidgetItem)
    tasks.delete_task(caller, task_id)  # gone after the request's guard, before the action runs

    async def run() -> None:
        action = Action[str, Any](type="task.complete", payload={"task_id": task_id})
        async for _ in server.server.action(thread, action, sender, ChatKitContext(caller)):
            pass

    with pytest.raises(CustomStreamError) as stopped:
        asyncio.run(run())
    assert stopped.value.message == f"Task {task_id} was not found."
