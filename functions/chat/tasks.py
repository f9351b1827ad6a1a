"""The user's todo list: the operations behind the task tools.

Each takes the user id from the caller (bound from the verified token, never from a tool argument). Another
user's task id is "not found", exactly like an id that does not exist. A refused operation changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session, col, select

from todo_common.db import Database
from todo_common.models import DESCRIPTION_MAX, TITLE_MAX, Task, utcnow

TaskFilter = Literal["all", "pending", "completed"]


class TaskToolError(Exception):
    """A refusal the model can act on: `code` for programs, `message` for the model and the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TaskOwner:
    user_id: str
    database: Database


def add_task(owner: TaskOwner, title: str, description: str | None = None) -> dict[str, Any]:
    clean_title, clean_description = _title(title), _description(description or "")

    def work(session: Session) -> dict[str, Any]:
        task = Task(user_id=owner.user_id, title=clean_title, description=clean_description)
        session.add(task)
        session.flush()
        return {"task_id": task.id, "status": "created", "title": task.title}

    return owner.database.write(work)


def list_tasks(owner: TaskOwner, status: TaskFilter = "all") -> dict[str, Any]:
    if status not in ("all", "pending", "completed"):
        raise TaskToolError("invalid_status", "status must be one of all, pending, completed.")

    def work(session: Session) -> dict[str, Any]:
        statement = select(Task).where(Task.user_id == owner.user_id)
        if status != "all":
            statement = statement.where(Task.completed == (status == "completed"))
        tasks = session.exec(statement.order_by(col(Task.id))).all()
        return {
            "status": status,
            "count": len(tasks),
            "tasks": [
                {"id": t.id, "title": t.title, "description": t.description, "completed": t.completed} for t in tasks
            ],
        }

    return owner.database.read(work)


def complete_task(owner: TaskOwner, task_id: int) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        task = _owned(session, owner, task_id)
        task.completed = True
        task.updated_at = utcnow()
        session.add(task)
        return {"task_id": task.id, "status": "completed", "title": task.title}

    return owner.database.write(work)


def delete_task(owner: TaskOwner, task_id: int) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        task = _owned(session, owner, task_id)
        session.delete(task)
        return {"task_id": task_id, "status": "deleted", "title": task.title}

    return owner.database.write(work)


def update_task(
    owner: TaskOwner, task_id: int, title: str | None = None, description: str | None = None
) -> dict[str, Any]:
    if title is None and description is None:
        raise TaskToolError("nothing_to_update", "Give a new title or a new description.")
    clean_title = _title(title) if title is not None else None
    clean_description = _description(description) if description is not None else None

    def work(session: Session) -> dict[str, Any]:
        task = _owned(session, owner, task_id)
        if clean_title is not None:
            task.title = clean_title
        if clean_description is not None:
            task.description = clean_description
        task.updated_at = utcnow()
        session.add(task)
        return {"task_id": task.id, "status": "updated", "title": task.title}

    return owner.database.write(work)


def _owned(session: Session, owner: TaskOwner, task_id: int) -> Task:
    task = session.exec(select(Task).where(Task.id == task_id, Task.user_id == owner.user_id)).first()
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
