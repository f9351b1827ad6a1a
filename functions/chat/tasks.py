"""The user's todo list: the operations behind the task tools, with typed results.

Each takes the caller (bound from the verified token, never from a tool argument). Another user's task id is
"not found", exactly like an id that does not exist. A refused operation changes nothing."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from functions.chat.caller import Caller
from todo_common import keyset
from todo_common.models import DESCRIPTION_MAX, TITLE_MAX, Task, utcnow
from todo_common.text import contains_pattern

TaskFilter = Literal["all", "pending", "completed"]


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
    count: int
    tasks: list[TaskPublic]


def add_task(caller: Caller, title: str, description: str | None = None) -> TaskChange:
    clean_title, clean_description = _title(title), _description(description or "")

    def work(session: Session) -> TaskChange:
        task = Task(user_id=caller.user_id, title=clean_title, description=clean_description)
        session.add(task)
        session.flush()
        assert task.id is not None
        return TaskChange(task_id=task.id, status="created", title=task.title)

    return caller.database.write(work)


def list_tasks(caller: Caller, status: TaskFilter = "all") -> TaskList:
    if status not in ("all", "pending", "completed"):
        raise TaskToolError("invalid_status", "status must be one of all, pending, completed.")

    def work(session: Session) -> TaskList:
        statement = select(Task).where(Task.user_id == caller.user_id)
        if status != "all":
            statement = statement.where(Task.completed == (status == "completed"))
        tasks = [_public(task) for task in session.exec(statement.order_by(col(Task.id))).all()]
        return TaskList(status=status, count=len(tasks), tasks=tasks)

    return caller.database.read(work)


class TaskSearchPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: int | None = None


def search_tasks(caller: Caller, query: str, *, limit: int, after: int | None = None) -> TaskSearchPage:
    """The caller's tasks whose title contains `query` (any case), by id, `limit` at a time: what a composer's
    @-mention search offers."""
    pattern = contains_pattern(query)

    def work(session: Session) -> TaskSearchPage:
        statement = select(Task).where(Task.user_id == caller.user_id, col(Task.title).ilike(pattern, escape="\\"))
        if after is not None:
            statement = statement.where(col(Task.id) > after)
        rows, more = keyset.split(session.exec(statement.order_by(col(Task.id)).limit(limit + 1)).all(), limit)
        items = [
            TaskPublic(id=t.id or 0, title=t.title, description=t.description, completed=t.completed) for t in rows
        ]
        return TaskSearchPage(items=items, next_cursor=items[-1].id if more and items else None)

    return caller.database.read(work)


def complete_task(caller: Caller, task_id: int) -> TaskChange:
    return _set_completed(caller, task_id, completed=True)


def reopen_task(caller: Caller, task_id: int) -> TaskChange:
    """Mark a done task as not done (the task widget's Reopen button)."""
    return _set_completed(caller, task_id, completed=False)


def _set_completed(caller: Caller, task_id: int, *, completed: bool) -> TaskChange:
    def work(session: Session) -> TaskChange:
        task = _owned(session, caller, task_id)
        task.completed = completed
        task.updated_at = utcnow()
        session.add(task)
        return TaskChange(task_id=task_id, status="completed" if completed else "reopened", title=task.title)

    return caller.database.write(work)


def request_delete(caller: Caller, task_id: int) -> TaskChange:
    """A delete the user confirms first (a ChatKit turn): the task is checked, not touched."""
    task = caller.database.read(lambda session: _owned(session, caller, task_id))
    return TaskChange(task_id=task_id, status="awaiting_confirmation", title=task.title)


def delete_task(caller: Caller, task_id: int) -> TaskChange:
    def work(session: Session) -> TaskChange:
        task = _owned(session, caller, task_id)
        session.delete(task)
        return TaskChange(task_id=task_id, status="deleted", title=task.title)

    return caller.database.write(work)


def update_task(caller: Caller, task_id: int, title: str | None = None, description: str | None = None) -> TaskChange:
    if title is None and description is None:
        raise TaskToolError("nothing_to_update", "Give a new title or a new description.")
    clean_title = _title(title) if title is not None else None
    clean_description = _description(description) if description is not None else None

    def work(session: Session) -> TaskChange:
        task = _owned(session, caller, task_id)
        if clean_title is not None:
            task.title = clean_title
        if clean_description is not None:
            task.description = clean_description
        task.updated_at = utcnow()
        session.add(task)
        return TaskChange(task_id=task_id, status="updated", title=task.title)

    return caller.database.write(work)


def _public(task: Task) -> TaskPublic:
    return TaskPublic(id=task.id or 0, title=task.title, description=task.description, completed=task.completed)


def _owned(session: Session, caller: Caller, task_id: int) -> Task:
    task = session.exec(select(Task).where(Task.id == task_id, Task.user_id == caller.user_id)).first()
    if task is None:
        raise TaskToolError("task_not_found", f"Task {task_id} was not found.")
    return task


def _title(title: str) -> str:
    clean = " ".join(title.split())
    if not clean:
        raise TaskToolError("empty_title", "A task needs a title.")
    if len(clean) > TITLE_MAX:
        raise TaskToolError("title_too_long", f"A task title can have at most {TITLE_MAX} characters.")
    return clean


def _description(description: str) -> str:
    clean = description.strip()
    if len(clean) > DESCRIPTION_MAX:
        raise TaskToolError("description_too_long", f"A description can have at most {DESCRIPTION_MAX} characters.")
    return clean
