"""The ChatKit view: exact event sequences of the live stream for each shape of turn, and the same items in the
same order after a reload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.chat.chatkit.view import TurnView, items_of, workflow_id
from functions.chat.turn.events import TextDelta, ToolFinished, ToolStarted, TurnCompleted, TurnEvent, TurnFailed
from todo_common.models import Message
from todo_common.tool_calls import ToolCallRecord, stored

THREAD, MESSAGE = "thr_1", "msg_abc"
WORKFLOW = workflow_id(MESSAGE)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def call(call_id: str, offset: int, status: str = "running") -> ToolCallRecord:
    result: Any = (
        None
        if status == "running"
        else (
            {"status": "created", "title": "milk"}
            if status == "success"
            else {"error": {"code": "task_not_found", "message": "Task 9 was not found."}}
        )
    )
    return ToolCallRecord.model_validate(
        {"call_id": call_id, "name": "add_task", "result": result, "status": status, "text_offset": offset}
    )


def live(events: list[TurnEvent]) -> list[str]:
    view = TurnView(THREAD, MESSAGE, NOW)
    rendered = [out for event in events for out in view.render(event)]
    return [_describe(out.model_dump()) for out in rendered]


def _describe(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind in ("thread.item.added", "thread.item.done"):
        return f"{kind.rsplit('.', 1)[-1]} {event['item']['type']}"
    update = event["update"]["type"].replace("assistant_message.content_part.", "").replace("workflow.", "")
    return f"update {event['item_id'].split('_')[0]} {update}"


def reloaded(text: str, calls: list[ToolCallRecord], status: str = "complete") -> list[str]:
    row = Message(
        id=MESSAGE, conversation_id=THREAD, user_id="u", seq=2, role="assistant", content=text,
        tool_calls=stored(calls), status=status, created_at=NOW,
    )  # fmt: skip
    return [item.type for item in items_of(row)]


def done(text: str, calls: list[ToolCallRecord]) -> TurnCompleted:
    return TurnCompleted(THREAD, MESSAGE, text, calls)


def test_text_only() -> None:
    events: list[TurnEvent] = [TextDelta("Hi"), TextDelta(" there"), done("Hi there", [])]
    assert live(events) == [
        "added assistant_message",
        "update msg added",
        "update msg text_delta",
        "update msg text_delta",
        "update msg done",
        "done assistant_message",
    ]
    assert reloaded("Hi there", []) == ["assistant_message"]


def test_tool_then_text() -> None:
    finished = call("c1", 0, "success")
    events: list[TurnEvent] = [
        ToolStarted(call("c1", 0)),
        ToolFinished(finished),
        TextDelta("Added."),
        done("Added.", [finished]),
    ]
    assert live(events) == [
        "added workflow",
        "update wf task.updated",
        "added assistant_message",
        "update msg added",
        "update msg text_delta",
        "done workflow",
        "update msg done",
        "done assistant_message",
    ]
    assert reloaded("Added.", [finished]) == ["workflow", "assistant_message"]


def test_text_then_tool_keeps_one_workflow_after_the_message() -> None:
    finished = call("c1", 5, "success")
    events: list[TurnEvent] = [
        TextDelta("Sure."),
        ToolStarted(call("c1", 5)),
        ToolFinished(finished),
        TextDelta(" Done."),
        done("Sure. Done.", [finished]),
    ]
    assert live(events) == [
        "added assistant_message",
        "update msg added",
        "update msg text_delta",
        "added workflow",
        "update wf task.updated",
        "update msg text_delta",
        "update msg done",
        "done assistant_message",
        "done workflow",
    ]
    assert reloaded("Sure. Done.", [finished]) == ["assistant_message", "workflow"]


def test_two_tools_make_one_workflow_with_two_tasks() -> None:
    first, second = call("c1", 0, "success"), call("c2", 0, "failure")
    events: list[TurnEvent] = [
        ToolStarted(call("c1", 0)),
        ToolFinished(first),
        ToolStarted(call("c2", 0)),
        ToolFinished(second),
        TextDelta("One of two."),
        done("One of two.", [first, second]),
    ]
    assert live(events) == [
        "added workflow",
        "update wf task.updated",
        "update wf task.added",
        "update wf task.updated",
        "added assistant_message",
        "update msg added",
        "update msg text_delta",
        "done workflow",
        "update msg done",
        "done assistant_message",
    ]
    view = TurnView(THREAD, MESSAGE, NOW)
    for event in events:
        view.render(event)
    tasks = view._workflow().workflow.tasks
    assert [getattr(t, "title", None) for t in tasks] == ["add_task: Success", "add_task: Failed"]
    assert reloaded("One of two.", [first, second]) == ["workflow", "assistant_message"]


@pytest.mark.parametrize("partial", ["", "Half"])
def test_a_failed_turn_closes_what_it_opened(partial: str) -> None:
    failed_call = call("c1", 0, "failure")
    events: list[TurnEvent] = [ToolStarted(call("c1", 0)), ToolFinished(failed_call)]
    if partial:
        events.append(TextDelta(partial))
    events.append(TurnFailed(THREAD, MESSAGE, "model_error", "It broke.", partial, [failed_call]))
    shown = live(events)
    assert shown[-1 if not partial else -3] == "done workflow"
    assert ("done assistant_message" in shown) == bool(partial)
    assert reloaded(partial, [failed_call], status="error") == (
        ["workflow", "assistant_message"] if partial else ["workflow"]
    )
