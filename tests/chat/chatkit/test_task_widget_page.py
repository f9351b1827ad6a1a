"""A task list widget renders one page (50 tasks) and a "N more" line, also for a list stored before lists were
paged: a reload never renders thousands of rows."""

from __future__ import annotations

import json

from functions.chat.chatkit.task_widgets import WIDGET_ITEM, ListedTask, TaskListState, stored_state, widget_item
from functions.chat.tasks.operations import LIST_PAGE_SIZE
from todo_common.models import Message, Task, utcnow


def rendered(state: TaskListState, tasks: dict[int, Task]) -> list[dict[str, object]]:
    row = Message(
        id="wgt_x", conversation_id="thr_x", user_id="u", seq=1, role="assistant", item_type=WIDGET_ITEM,
        content="", chatkit_item=stored_state(state), created_at=utcnow(),
    )  # fmt: skip
    children: list[dict[str, object]] = widget_item(row, tasks).widget.model_dump()["children"]
    return children


def test_a_stored_list_of_5000_tasks_renders_a_page_and_how_many_more() -> None:
    listed = [ListedTask(id=n, title=f"task {n}") for n in range(1, 5001)]
    tasks = {n: Task(id=n, user_id="u", title=f"task {n}") for n in range(1, 5001)}
    children = rendered(TaskListState(heading="Your tasks", tasks=listed), tasks)
    assert len(children) == LIST_PAGE_SIZE + 1
    assert "…and 4,950 more: ask for the tasks after #50." in json.dumps(children[-1], ensure_ascii=False)


def test_a_page_with_more_after_it_says_so_and_a_whole_list_does_not() -> None:
    listed = [ListedTask(id=n, title=f"task {n}") for n in range(1, 4)]
    tasks = {n: Task(id=n, user_id="u", title=f"task {n}") for n in range(1, 4)}
    paged = rendered(TaskListState(heading="Your tasks", tasks=listed, more=7), tasks)
    assert len(paged) == 4 and "…and 7 more" in json.dumps(paged[-1], ensure_ascii=False)
    whole = rendered(TaskListState(heading="Your tasks", tasks=listed), tasks)
    assert len(whole) == 3 and "more" not in json.dumps(whole)
