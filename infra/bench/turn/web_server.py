"""The chat function's server: uvicorn with asyncio and h11 (what `run.sh` starts) against uvloop and httptools.

Each configuration serves `functions.chat.app` in a process of its own, started as `run.sh` starts it, on
PostgreSQL with the offline model. On Lambda a container serves one request at a time, so the client sends one
streamed turn after the other; a second pass sends 10 at once, as the local gateway sees them."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

from infra.bench.harness.backend_process import server_environment
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms, percentile
from tests.support.server import free_port, wait_until_up

DATABASE = "todo_chat_bench_server"
USER = "bench-server-user"
TURNS = 200
CONCURRENT = 10
CONFIGURATIONS = {"asyncio + h11 (run.sh)": ("asyncio", "h11"), "uvloop + httptools": ("uvloop", "httptools")}


def run() -> str:
    url = fresh_postgres(DATABASE)
    rows = []
    for label, (loop, http) in CONFIGURATIONS.items():
        sequential, concurrent = _measure(url, loop, http)
        first, turns = sequential
        rows.append(
            f"| {label} | {ms(statistics.median(first))} / {ms(percentile(first, 95))} | "
            f"{ms(statistics.median(turns))} / {ms(percentile(turns, 95))} | {concurrent:.0f} turns/s |"
        )
    return "\n".join(
        [
            "## The chat function's server",
            "",
            f"`functions.chat.app` under uvicorn in its own process (as `run.sh` starts it), PostgreSQL on 127.0.0.1, "
            f"offline model, streamed turns (SSE) over a real socket: {TURNS} one after the other (a Lambda container "
            f"serves one request at a time), then {TURNS} more {CONCURRENT} at a time. Medians / p95.",
            "",
            "| server | first streamed byte | whole turn | 10 at a time |",
            "|---|---|---|---|",
            *rows,
            "",
            f"What uvloop and httptools would add to the chat bundle: {_installed_mb('uvloop', 'httptools'):.1f} MB "
            "unzipped, before bytecode.",
        ]
    )


def _measure(url: str, loop: str, http: str) -> tuple[tuple[list[float], list[float]], float]:
    port = free_port()
    environment = server_environment(url)
    command = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    command += ["--loop", loop, "--http", http, "--log-level", "warning", "functions.chat.app:app"]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        if not wait_until_up(base):
            raise RuntimeError(f"uvicorn --loop {loop} --http {http} did not start")
        from infra.devtoken import dev_token

        return asyncio.run(_turns(base, dev_token(USER)))
    finally:
        server.terminate()
        server.wait(10)


async def _turns(base: str, token: str) -> tuple[tuple[list[float], list[float]], float]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(10):  # warm-up: connections, caches, the first conversation rows
            await _turn(client, headers)
        timed = [await _turn(client, headers) for _ in range(TURNS)]
        started = time.perf_counter()
        for _ in range(TURNS // CONCURRENT):
            await asyncio.gather(*(_turn(client, headers) for _ in range(CONCURRENT)))
        throughput = TURNS / (time.perf_counter() - started)
    return ([first for first, _ in timed], [whole for _, whole in timed]), throughput


async def _turn(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, float]:
    """One streamed turn without tool calls in a new conversation (no turn waits for another's lease): the time to
    its first byte and to its end."""
    started = time.perf_counter()
    first = 0.0
    async with client.stream("POST", f"/api/{USER}/chat", json={"message": "hello"}, headers=headers) as response:
        response.raise_for_status()
        async for _ in response.aiter_raw():
            first = first or time.perf_counter() - started
    return first, time.perf_counter() - started


def _installed_mb(*distributions: str) -> float:
    total = 0
    for name in distributions:
        files = metadata.files(name) or []
        total += sum(Path(str(file.locate())).stat().st_size for file in files if Path(str(file.locate())).is_file())
    return total / 1e6
