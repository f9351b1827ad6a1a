"""Chat function figures: time to first streamed byte, server time and database round trips of a turn, and the
cold start of the function against the bare import of its libraries."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from infra.bench.harness.app_module import as_app_module_ends, bench_environment
from infra.bench.harness.databases import fresh_postgres

BENCH_DATABASE = "todo_chat_bench_chat"
TURNS = 40
COLD_RUNS = 5
USER = "bench-user"


def run() -> str:
    _bench_environment()
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
            f"{_ms(statistics.median(ttfb))} / {_ms(_p(ttfb, 95))} | ≤ 50 ms |",
            f"| whole turn, server side (JSON, in process), median / p95 | "
            f"{_ms(statistics.median(turn_ms))} / {_ms(_p(turn_ms, 95))} | |",
            f"| database round trips of a turn without tool calls | {plain} | ≤ 4 |",
            f"| database round trips of a turn with one `add_task` call | {with_tool} | |",
            f"| cold start: `import functions.chat.app`, median of {COLD_RUNS} fresh processes | {_ms(app_import)} | |",
            f"| bare import of its libraries (fastapi, sqlmodel, psycopg, agents, chatkit.server, mcp), same | "
            f"{_ms(libraries_import)} | |",
            "",
            "Round trips are counted on the wire by a TCP proxy between the app and PostgreSQL "
            "(`infra/bench/wire.py`): each burst the client sends after a server reply is one round trip. Auth "
            "uses HS256 chat tokens, which cost no round trip.",
        ]
    )


def _bench_environment() -> None:
    os.environ.setdefault("APP_ENV", "test")
    bench_environment()
    os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")


def _app(url: str, steps: list[Any], **settings: Any) -> Any:
    import dataclasses

    from agents.testing import ScriptedModel

    from functions.chat.http.routes import router
    from functions.chat.runtime import ChatRuntime
    from functions.chat.settings import ChatSettings
    from functions.chat.tasks.mcp_server import build_task_server
    from todo_common.settings import Settings
    from todo_common.web import Services, build_app

    services = Services.from_settings(dataclasses.replace(Settings.from_environ(), database_url=url), "bench")
    chat_settings = dataclasses.replace(ChatSettings.from_environ({}), rate_limit_per_minute=10_000, **settings)
    app = build_app("chat", services, [router])
    app.state.chat = ChatRuntime.build(services, chat_settings, ScriptedModel(steps), build_task_server())
    as_app_module_ends()
    return app, services


def _token(services: Any) -> dict[str, str]:
    from todo_common.auth import mint_chat_token

    return {"Authorization": f"Bearer {mint_chat_token(services.settings, USER)[0]}"}


def _first_byte(url: str) -> tuple[list[float], list[float]]:
    import uvicorn
    from agents.testing import assistant_message

    app, services = _app(url, [[assistant_message("Done.")] for _ in range(2 * TURNS + 2)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    headers = {**_token(services), "Accept": "text/event-stream"}
    first_bytes: list[float] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        conversation = http.post(f"/api/{USER}/chat", json={"message": "warm up"}, headers=_token(services)).json()
        for index in range(TURNS):
            body = {"message": f"turn {index}", "conversation_id": conversation["conversation_id"]}
            started = time.perf_counter()
            with http.stream("POST", f"/api/{USER}/chat", json=body, headers=headers) as response:
                stream = response.iter_raw()
                next(stream)
                first_bytes.append(time.perf_counter() - started)
                for _ in stream:
                    pass
    server.should_exit = True
    thread.join(10)

    app, services = _app(url, [[assistant_message("Done.")] for _ in range(TURNS + 2)])
    turns = _timed_turns(app, services, TURNS)
    return first_bytes, turns


def _timed_turns(app: Any, services: Any, count: int) -> list[float]:
    async def go() -> list[float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            first = (await http.post(f"/api/{USER}/chat", json={"message": "warm"}, headers=_token(services))).json()
            timings = []
            for index in range(count):
                body = {"message": f"turn {index}", "conversation_id": first["conversation_id"]}
                started = time.perf_counter()
                response = await http.post(f"/api/{USER}/chat", json=body, headers=_token(services))
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            return timings

    return asyncio.run(go())


def _round_trips(url: str) -> tuple[int, int]:
    from agents.testing import assistant_message, function_call

    from infra.bench.wire import RoundTripProxy

    target = make_url(url)
    with RoundTripProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        plain = _count_turn(proxied, proxy, [[assistant_message("warm")], [assistant_message("Done.")]])
        tool = _count_turn(
            proxied,
            proxy,
            [
                [assistant_message("warm")],
                [function_call("add_task", {"title": "bench"}, call_id="c1")],
                [assistant_message("Added.")],
            ],
        )
    return plain, tool


def _count_turn(url: str, proxy: Any, steps: list[Any]) -> int:
    app, services = _app(url, steps)

    async def go(count: Callable[[], None]) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat") as http:
            first = (await http.post(f"/api/{USER}/chat", json={"message": "warm"}, headers=_token(services))).json()
            count()
            body = {"message": "measured", "conversation_id": first["conversation_id"]}
            response = await http.post(f"/api/{USER}/chat", json=body, headers=_token(services))
            assert response.status_code == 200, response.text
            return int(proxy.round_trips)

    result = asyncio.run(go(proxy.reset))
    services.database.dispose()
    return result


def _cold_start() -> tuple[float, float]:
    env = {**os.environ, "DATABASE_URL": "sqlite:///.data/bench-cold.db"}
    app = _median_import("import functions.chat.app", env)
    libraries = _median_import(
        "import fastapi, sqlmodel, psycopg, mangum, jwt, agents, chatkit.server, mcp.server.mcpserver, openai", env
    )
    return app, libraries


def _median_import(statement: str, env: dict[str, str]) -> float:
    timings = []
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    for _ in range(COLD_RUNS):
        output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        timings.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(timings)


def _p(values: list[float], percentile: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percentile / 100 * (len(ordered) - 1)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
