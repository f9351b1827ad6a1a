"""The user's todo list: the operations behind the task tools, with typed results.

Each takes the caller (bound from the verified token, never from a tool argument). Another user's task id is
"not found", exactly like an id that does not exist. A refused operation changes nothing.

Each operation is one SQL statement, atomic on its own, run outside a transaction: one round trip, where the ORM
took four (BEGIN, the SELECT of the task, its UPDATE or DELETE, COMMIT) and three for an add. A change names the
caller in its WHERE clause and answers with RETURNING, so a task that is not the caller's changes no row."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Row

from functions.chat.caller import Caller
from todo_common import keyset
from todo_common.models import DESCRIPTION_MAX, TITLE_MAX, Task, table_of, utcnow
from todo_common.text import contains_pattern, one_line, plain_text

_TABLE = table_of(Task)
_TASK = _TABLE.c
_PUBLIC_COLUMNS = (_TASK.id, _TASK.title, _TASK.description, _TASK.completed)

TaskFilter = Literal["all", "pending", "completed"]
# The most tasks one `list_tasks` answers (and a task list widget shows): a list of thousands is paged by id.
LIST_PAGE_SIZE = 50


class TaskToolError(Exception):
    """A refusal the model can act on: `code` for programs, `message` for the model and the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TaskPublic(BaseModel):
    id: int
    title: str
    description: str
    completed: bool


class TaskChange(BaseModel):
    """What an add, complete, delete or update did to one task."""

    task_id: int
    status: Literal["created", "completed", "reopened", "deleted", "updated", "awaiting_confirmation"]
    title: str


class TaskList(BaseModel):
    status: TaskFilter
    count: int = Field(description="How many tasks this page holds.")
    tasks: list[TaskPublic]
    more: int = Field(default=0, description="How many more tasks match after this page.")
    next_after_id: int | None = Field(
        default=None, description="Pass as `after_id` to list the next page; null when there is none."
    )


def add_task(caller: Caller, title: str, description: str | None = None) -> TaskChange:
    clean_title, clean_description = _title(title), _description(description or "")
    now = utcnow()
    statement = (
        sa.insert(_TABLE)
        .values(
            user_id=caller.user_id,
            title=clean_title,
            description=clean_description,
            completed=False,
            created_at=now,
            updated_at=now,
        )
        .returning(_TASK.id)
    )
    (task_id,) = caller.database.execute(statement).rows[0]
    return TaskChange(task_id=task_id, status="created", title=clean_title)


def list_tasks(caller: Caller, status: TaskFilter = "all", after_id: int | None = None) -> TaskList:
    """A page of the caller's tasks by id (after `after_id`), and how many more match: one statement, the count
    a window over the same rows."""
    if status not in ("all", "pending", "completed"):
        raise TaskToolError("invalid_status", "status must be one of all, pending, completed.")

    matching = sa.func.count().over().label("matching")
    statement = sa.select(*_PUBLIC_COLUMNS, matching).where(_TASK.user_id == caller.user_id)
    if status != "all":
        statement = statement.where(_TASK.completed == (status == "completed"))
    if after_id is not None:
        statement = statement.where(_TASK.id > after_id)
    rows = _rows(caller, statement.order_by(_TASK.id).limit(LIST_PAGE_SIZE))
    tasks = [_public(row) for row in rows]
    more = rows[0].matching - len(tasks) if rows else 0
    next_after_id = tasks[-1].id if more else None
    return TaskList(status=status, count=len(tasks), tasks=tasks, more=more, next_after_id=next_after_id)


class TaskSearchPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: int | None = None


def search_tasks(caller: Caller, query: str, *, limit: int, after: int | None = None) -> TaskSearchPage:
    """The caller's tasks whose title contains `query` (any case), by id, `limit` at a time: what a composer's
    @-mention search offers."""
    pattern = contains_pattern(query)

    statement = sa.select(*_PUBLIC_COLUMNS).where(
        _TASK.user_id == caller.user_id, _TASK.title.ilike(pattern, escape="\\")
    )
    if after is not None:
        statement = statement.where(_TASK.id > after)
    rows, more = keyset.split(_rows(caller, statement.order_by(_TASK.id).limit(limit + 1)), limit)
    items = [_public(row) for row in rows]
    return TaskSearchPage(items=items, next_cursor=items[-1].id if more and items else None)


def complete_task(caller: Caller, task_id: int) -> TaskChange:
    return _set_completed(caller, task_id, completed=True)


def reopen_task(caller: Caller, task_id: int) -> TaskChange:
    """Mark a done task as not done (the `reopen_task` tool, the task widget's Reopen button)."""
    return _set_completed(caller, task_id, completed=False)


def _set_completed(caller: Caller, task_id: int, *, completed: bool) -> TaskChange:
    title = _change(caller, task_id, sa.update(_TABLE).values(completed=completed, updated_at=utcnow()))
    return TaskChange(task_id=task_id, status="completed" if completed else "reopened", title=title)


def request_delete(caller: Caller, task_id: int) -> TaskChange:
    """A delete the user confirms first (a ChatKit turn): the task is checked, not touched."""
    rows = _rows(caller, sa.select(_TASK.title).where(*_owned_by(caller, task_id)))
    if not rows:
        raise task_not_found(task_id)
    return TaskChange(task_id=task_id, status="awaiting_confirmation", title=rows[0].title)


def delete_task(caller: Caller, task_id: int) -> TaskChange:
    title = _change(caller, task_id, sa.delete(_TABLE))
    return TaskChange(task_id=task_id, status="deleted", title=title)


def update_task(caller: Caller, task_id: int, title: str | None = None, description: str | None = None) -> TaskChange:
    if title is None and description is None:
        raise TaskToolError("nothing_to_update", "Give a new title or a new description.")
    clean_title = _title(title) if title is not None else None
    clean_description = _description(description) if description is not None else None

    changes: dict[str, Any] = {"updated_at": utcnow()}
    if clean_title is not None:
        changes["title"] = clean_title
    if clean_description is not None:
        changes["description"] = clean_description
    title = _change(caller, task_id, sa.update(_TABLE).values(**changes))
    return TaskChange(task_id=task_id, status="updated", title=title)


def _public(row: Row[Any]) -> TaskPublic:
    return TaskPublic(id=row.id, title=row.title, description=row.description, completed=row.completed)


def _rows(caller: Caller, statement: sa.Select[Any]) -> list[Row[Any]]:
    def work(connection: Connection) -> list[Row[Any]]:
        return list(connection.execute(statement))

    return caller.database.read_core(work)


def _owned_by(caller: Caller, task_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    return (_TASK.id == task_id, _TASK.user_id == caller.user_id)


def _change(caller: Caller, task_id: int, change: sa.Update | sa.Delete) -> str:
    """Run `change` on the caller's task `task_id`: its title (after the change), or "not found"."""
    rows = caller.database.execute(change.where(*_owned_by(caller, task_id)).returning(_TASK.title)).rows
    if not rows:
        raise task_not_found(task_id)
    return str(rows[0].title)


def task_not_found(task_id: int) -> TaskToolError:
    return TaskToolError("task_not_found", f"Task {task_id} was not found.")


def _title(title: str) -> str:
    clean = one_line(title)
    if not clean:
        raise TaskToolError("empty_title", "A task needs a title.")
    if len(clean) > TITLE_MAX:
        raise TaskToolError("title_too_long", f"A task title can have at most {TITLE_MAX} characters.")
    return clean


def _description(description: str) -> str:
    clean = plain_text(description)
    if len(clean) > DESCRIPTION_MAX:
        raise TaskToolError("description_too_long", f"A description can have at most {DESCRIPTION_MAX} characters.")
    return clean
