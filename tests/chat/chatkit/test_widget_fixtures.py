"""The task widgets' JSON, as the server sends it, kept in examples/nextjs/fixtures/widgets/ for the frontend to
type-check against `WidgetRoot` from `@openai/chatkit`. The committed files must equal what the code produces now.

Regenerate after changing a template or its data models:
`.venv/bin/python -m tests.chat.chatkit.test_widget_fixtures` (it also writes each `.widget` file's `jsonSchema` from
its data model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatkit.types import WidgetItem
from pydantic import BaseModel

from functions.chat.chatkit.task_widgets import (
    WIDGET_ITEM,
    WIDGETS,
    ConfirmDeleteData,
    ConfirmDeleteState,
    ListedTask,
    TaskListData,
    TaskListState,
    stored_state,
    widget_item,
)
from todo_common.models import Message, Task, utcnow

FIXTURES = Path(__file__).resolve().parents[3] / "examples/nextjs/fixtures/widgets"
TEMPLATE_DATA: list[tuple[str, type[BaseModel]]] = [("task_list", TaskListData), ("confirm_delete", ConfirmDeleteData)]


def _item(state: TaskListState | ConfirmDeleteState, tasks: list[Task]) -> WidgetItem:
    row = Message(
        id="wgt_fixture",
        conversation_id="thr_fixture",
        user_id="user_fixture",
        seq=1,
        role="assistant",
        item_type=WIDGET_ITEM,
        content="",
        chatkit_item=stored_state(state),
        created_at=utcnow(),
    )
    return widget_item(row, {task.id: task for task in tasks if task.id is not None})


def samples() -> dict[str, dict[str, Any]]:
    """Every shape the widgets take: a list with each badge, an empty list, a confirm card in each state."""
    walk = Task(id=1, user_id="u", title="Walk the dog", completed=False)
    milk = Task(id=2, user_id="u", title='Buy "oat" milk <2L>', completed=True)
    listed = [
        ListedTask(id=1, title="Walk the dog"),
        ListedTask(id=2, title="Buy milk"),
        ListedTask(id=3, title="Gone"),
    ]
    confirm = ConfirmDeleteState(task_id=1, title="Walk the dog")
    items = {
        "task_list": _item(TaskListState(heading="Your tasks", tasks=listed), [walk, milk]),
        "task_list_empty": _item(TaskListState(heading="Pending tasks", tasks=[]), []),
        "task_list_more": _item(TaskListState(heading="Your tasks", tasks=listed[:1], more=4950), [walk]),
        "confirm_delete_pending": _item(confirm, [walk]),
        "confirm_delete_deleted": _item(confirm.model_copy(update={"decision": "deleted"}), []),
        "confirm_delete_cancelled": _item(confirm.model_copy(update={"decision": "cancelled"}), [walk]),
    }
    return {
        name: json.loads(item.widget.model_dump_json(by_alias=True, exclude_none=True)) for name, item in items.items()
    }


def write() -> None:
    for name, model in TEMPLATE_DATA:
        path = WIDGETS / f"{name}.widget"
        spec = {**json.loads(path.read_text()), "jsonSchema": model.model_json_schema()}
        path.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, widget in samples().items():
        (FIXTURES / f"{name}.json").write_text(json.dumps(widget, indent=2, ensure_ascii=False) + "\n")


def test_the_committed_fixtures_are_what_the_code_produces() -> None:
    expected = samples()
    # `*.sample.json` are the example's own hand-written fixtures, beside the ones the backend produces.
    committed = {
        path.stem: json.loads(path.read_text()) for path in FIXTURES.glob("*.json") if ".sample" not in path.suffixes
    }
    assert committed == expected, (
        "run `.venv/bin/python -m tests.chat.chatkit.test_widget_fixtures` and commit the fixtures"
    )


def test_each_widget_file_declares_the_schema_of_the_data_it_gets() -> None:
    for name, model in TEMPLATE_DATA:
        spec = json.loads((WIDGETS / f"{name}.widget").read_text())
        assert spec["version"] == "1.0"
        assert spec["jsonSchema"] == model.model_json_schema()


def test_titles_are_escaped_not_interpreted() -> None:
    widget = samples()["task_list"]
    assert widget["children"][1]["children"][0]["children"][0]["value"] == 'Buy "oat" milk <2L>'


if __name__ == "__main__":
    write()
