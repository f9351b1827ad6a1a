"""The agent and tools stack: its import time, and the overhead of one in-process MCP tool call."""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time

from infra.bench.harness.formatting import ms
from infra.bench.harness.imports import median_import_seconds

RUNS = 5
CALLS = 2000


def run() -> str:
    imports = {
        "agent + MCP tools (`functions.chat.agent.agent`)": "import functions.chat.agent.agent",
        "offline model (`functions.chat.agent.offline_model`)": "import functions.chat.agent.offline_model",
        "`agents` alone": "import agents",
        "`mcp.server.mcpserver` alone": "import mcp.server.mcpserver",
    }
    rows = [f"| {label} | {ms(median_import_seconds(statement, RUNS), 0)} |" for label, statement in imports.items()]
    overhead, database_call = asyncio.run(_tool_call_overhead())
    return "\n".join(
        [
            "## Agent and tools",
            "",
            f"Import times: a fresh process each, median of {RUNS}.",
            "",
            "| import | time |",
            "|---|---|",
            *rows,
            "",
            f"In-process tool call, median of {CALLS} calls of `list_tasks` on an empty SQLite list:",
            "",
            "| path | per call |",
            "|---|---|",
            f"| the agent's function tool → `MCPServer.call_tool` → the task operation | {_us(overhead)} |",
            f"| the task operation alone (one database read) | {_us(database_call)} |",
            f"| overhead of going through the MCP server in process | {_us(overhead - database_call)} |",
            "",
            "No network hop and no subprocess: the MCP server runs in the chat function's own process (similar "
            "projects that start an MCP stdio subprocess per turn pay about 1.1 s for it).",
        ]
    )


async def _tool_call_overhead() -> tuple[float, float]:
    from agents import FunctionTool
    from agents.tool_context import ToolContext

    from functions.chat.agent.agent import AgentRun, build_agent
    from functions.chat.agent.offline_model import OfflineModel
    from functions.chat.caller import Caller
    from functions.chat.tasks import operations as tasks
    from functions.chat.tasks.mcp_server import build_task_server
    from infra.migrate import upgrade
    from todo_common.db import Database

    url = f"sqlite:///{tempfile.mkdtemp(prefix='todo-chat-bench-')}/agent.db"
    upgrade(url)
    database = Database.from_url(url)
    agent = build_agent(OfflineModel(), build_task_server())
    tool = next(t for t in agent.tools if getattr(t, "name", "") == "list_tasks")
    assert isinstance(tool, FunctionTool)
    context = ToolContext(
        context=AgentRun(Caller(user_id="bench-user", database=database)),
        tool_name="list_tasks",
        tool_call_id="call_bench",
        tool_arguments="{}",
    )
    through_tool = []
    for _ in range(CALLS):
        started = time.perf_counter()
        output = await tool.on_invoke_tool(context, "{}")
        through_tool.append(time.perf_counter() - started)
    assert json.loads(output)["count"] == 0
    owner = Caller("bench-user", database)
    direct = []
    for _ in range(CALLS):
        started = time.perf_counter()
        tasks.list_tasks(owner)
        direct.append(time.perf_counter() - started)
    database.dispose()
    return statistics.median(through_tool), statistics.median(direct)


def _us(seconds: float) -> str:
    return f"{seconds * 1_000_000:.0f} µs"
