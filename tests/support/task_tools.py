"""The task tools as the agent and MCP clients call them (the MCP server, the user bound as the caller)."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp_types import CallToolResult

from functions.chat.caller import Caller
from functions.chat.tasks.mcp_server import build_task_server, current_caller
from todo_common.db import Database


def call_tool(database: Database, user: str, tool: str, **arguments: Any) -> CallToolResult:
    async def go() -> CallToolResult:
        token = current_caller.set(Caller(user, database))
        try:
            return await build_task_server().call_tool(tool, arguments)  # type: ignore[return-value]
        finally:
            current_caller.reset(token)

    return asyncio.run(go())
