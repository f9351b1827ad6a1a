"""The task tools as the agent and MCP clients call them (the MCP server, the user bound as the caller), and a
user's many tasks written in one statement."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from mcp_types import CallToolResult

from functions.chat.caller import Caller
from functions.chat.tasks.mcp_server import build_task_server, current_caller
from todo_common.db import Database
from todo_common.models import Task, utcnow


def call_tool(database: Database, user: str, tool: str, **arguments: Any) -> CallToolResult:
    async def go() -> CallToolResult:
        token = current_caller.set(Caller(user, database))
        try:
            return await build_task_server().call_tool(tool, arguments)  # type: ignore[return-value]
        finally:
            current_caller.reset(token)

    return asyncio.run(go())


def seed_tasks(database: Database, user: str, count: int, *, title: str = "task {n}", every_done: int = 0) -> list[int]:
    """`count` tasks of `user` ("task 1", "task 2", ...; each `every_done`-th one completed), their ids in order."""
    now = utcnow()
    rows = [
        {
            "user_id": user,
            "title": title.format(n=n),
            "description": "",
            "completed": bool(every_done) and n % every_done == 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(1, count + 1)
    ]
    table: sa.Table = Task.__table__  # type: ignore[attr-defined]
    with database.engine.begin() as connection:
        connection.execute(sa.insert(table), rows)
        ids = connection.execute(sa.select(table.c.id).where(table.c.user_id == user).order_by(table.c.id)).scalars()
        return list(ids)[-count:]
