"""Chat function figures: time to first streamed byte, server time and database round trips of a turn, and the
cold start of the function against the bare import of its libraries."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from infra.bench.harness.app_module import USER, bearer, chat_app, chat_environment
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms, percentile
from infra.bench.harness.imports import median_import_seconds
from tests.support.server import Server
from tests.support.tcp_proxy import TcpProxy

BENCH_DATABASE = "todo_chat_bench_chat"
TURNS = 40
COLD_RUNS = 5


def run() -> str:
    chat_environment()
    url = fresh_postgres(BENCH_DATABASE)
    ttfb, turn_ms = _first_byte(url)
    plain, with_tool = _round_trips(url)
    app_import, libraries_import = _cold_start()
    return "\n".join(
        [
            "## Chat function",
            "",
            "Measured against PostgreSQL on 127.0.0.1 with a zero-latency model (`agents.testing.ScriptedModel`), "
            f"so the figures are the backend's own cost. {TURNS} turns each.",
            "",
            "| figure | value | target |",
            "|---|---|---|",
            f"| time to first streamed byte (SSE, uvicorn, real socket), median / p95 | "
            f"{ms(statistics.median(ttfb))} / {ms(percentile(ttfb, 95))} | ≤ 50 ms |",
            f"| whole turn, server side (JSON, in process), median / p95 | "
            f"{ms(statistics.median(turn_ms))} / {ms(percentile(turn_ms, 95))} | |",
            f"| database round trips of a turn without tool calls | {plain} | ≤ 4 |",
            f"| database round trips of a turn with one `add_task` call | {with_tool} | |",
            f"| cold start: `import functions.chat.app`, median of {COLD_RUNS} fresh processes | {ms(app_import)} | |",
            f"| bare import of its libraries (fastapi, sqlmodel, psycopg, agents, chatkit.server, mcp), same | "
            f"{ms(libraries_import)} | |",
            "",
            "Round trips are counted on the wire by a TCP proxy between the app and PostgreSQL "
            "(`tests/support/tcp_proxy.py`): each burst the client sends after a server reply is one round trip. Auth "
            "uses HS256 chat tokens, which cost no round trip.",
        ]
    )


def _first_byte(url: str) -> tuple[list[float], list[float]]:
    from agents.testing import ScriptedModel, assistant_message

    app, services = chat_app(url, ScriptedModel([[assistant_message("Done.")] for _ in range(2 * TURNS + 2)]))
    headers = {**bearer(services), "Accept": "text/event-stream"}
    first_bytes: list[float] = []
    with Server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        conversation = http.post(f"/api/{USER}/chat", json={"message": "warm up"}, headers=bearer(services)).json()
        for index in range(TURNS):
            body = {"message": f"turn {index}", "conversation_id": conversation["conversation_id"]}
            started = time.perf_counter()
            with http.stream("POST", f"/api/{USER}/chat", json=body, headers=headers) as response:
                stream = response.iter_raw()
                next(stream)
                first_bytes.append(time.perf_counter() - started)
                for _ in stream:
                    pass

    app, services = chat_app(url, ScriptedModel([[assistant_message("Done.")] for _ in range(TURNS + 2)]))
    turns = _timed_turns(app, services, TURNS)
    return first_bytes, turns


def _timed_turns(app: Any, services: Any, count: int) -> list[float]:
    async def go() -> list[float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            first = (await http.post(f"/api/{USER}/chat", json={"message": "warm"}, headers=bearer(services))).json()
            timings = []
            for index in range(count):
                body = {"message": f"turn {index}", "conversation_id": first["conversation_id"]}
                started = time.perf_counter()
                response = await http.post(f"/api/{USER}/chat", json=body, headers=bearer(services))
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            return timings

    return asyncio.run(go())


def _round_trips(url: str) -> tuple[int, int]:
    from agents.testing import assistant_message, function_call

    with TcpProxy(url) as proxy:
        plain = _count_turn(proxy, [[assistant_message("warm")], [assistant_message("Done.")]])
        tool = _count_turn(
            proxy,
            [
                [assistant_message("warm")],
                [function_call("add_task", {"title": "bench"}, call_id="c1")],
                [assistant_message("Added.")],
            ],
        )
    return plain, tool


def _count_turn(proxy: TcpProxy, steps: list[Any]) -> int:
    from agents.testing import ScriptedModel

    app, services = chat_app(proxy.url, ScriptedModel(steps))

    async def go(count: Callable[[], None]) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            first = (await http.post(f"/api/{USER}/chat", json={"message": "warm"}, headers=bearer(services))).json()
            count()
            body = {"message": "measured", "conversation_id": first["conversation_id"]}
            response = await http.post(f"/api/{USER}/chat", json=body, headers=bearer(services))
            assert response.status_code == 200, response.text
            return int(proxy.round_trips)

    result = asyncio.run(go(proxy.reset))
    services.database.dispose()
    return result


def _cold_start() -> tuple[float, float]:
    env = {**os.environ, "DATABASE_URL": "sqlite:///.data/bench-cold.db"}
    app = median_import_seconds("import functions.chat.app", COLD_RUNS, env)
    libraries = median_import_seconds(
        "import fastapi, sqlmodel, psycopg, mangum, jwt, agents, chatkit.server, mcp.server.mcpserver, openai",
        COLD_RUNS,
        env,
    )
    return app, libraries
