"""Round trips over a slow link: the chat and history functions talking to PostgreSQL through a TCP proxy that
adds 20 ms each way (Neon across the internet looks like this), against the same proxy without delay."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
from typing import Any

import httpx

from infra.bench.harness.app_module import USER, bearer, chat_app, chat_environment
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms
from tests.support.server import Server
from tests.support.tcp_proxy import TcpProxy

DATABASE = "todo_chat_bench_network"
DELAY = 0.020
TURNS = 15


@dataclasses.dataclass
class Figures:
    seconds: list[float] = dataclasses.field(default_factory=list)
    trips: list[int] = dataclasses.field(default_factory=list)

    def add(self, seconds: float, trips: int) -> None:
        self.seconds.append(seconds)
        self.trips.append(trips)


def run() -> str:
    chat_environment()
    url = fresh_postgres(DATABASE)
    local, slow = _measure(url, 0.0), _measure(url, DELAY)
    lines = [
        "## Round trips over a slow link",
        "",
        "The functions reach PostgreSQL (127.0.0.1) through a TCP proxy (`tests/support/tcp_proxy.py`) that holds "
        f"every chunk {DELAY * 1000:.0f} ms in each direction, or no time at all; a warm connection pool, as a warm "
        "container has. Chat: uvicorn on a real socket, zero-latency model (`ScriptedModel`), SSE; history: the app "
        f"in process. Median of {TURNS} requests each; round trips counted on the wire (the most seen in any "
        "request), a TCP connect counted as one.",
        "",
        f"| request | no delay | +{DELAY * 1000:.0f} ms each way | round trips | target |",
        "|---|---|---|---|---|",
    ]
    targets = {"first streamed byte": "≤ 2", "no tools": "≤ 3", "history": "1"}
    for name in local:
        target = next((t for key, t in targets.items() if key in name), "")
        lines.append(
            f"| {name} | {_median_ms(local[name].seconds)} | {_median_ms(slow[name].seconds)} "
            f"| {max(slow[name].trips)} | {target} |"
        )
    lines += [
        "",
        "A turn's first byte waits for its claim only (lease, rate limit, both messages, the context and, for a "
        "new conversation, its row: one statement); the whole turn adds the finish (answer and lease release, one "
        "statement). A tool call adds its own statement: one round trip (the task tools run a single statement each, "
        "outside a transaction). Progress saves and heartbeats come later in longer answers.",
    ]
    return "\n".join(lines)


def _measure(url: str, delay: float) -> dict[str, Figures]:
    from agents.testing import ScriptedModel, assistant_message, function_call

    figures: dict[str, Figures] = {}
    with TcpProxy(url, delay=delay) as proxy:
        answers = [[assistant_message("Done.")] for _ in range(1 + 2 * TURNS)]  # the warm-up, then two kinds
        tool_turns = [
            step
            for index in range(TURNS)
            for step in (
                [function_call("add_task", {"title": f"task {index}"}, call_id=f"c{index}")],
                [assistant_message("Done.")],
            )
        ]
        app, services = chat_app(proxy.url, ScriptedModel(answers + tool_turns))
        try:
            with Server(app) as base:
                _turns(base, bearer(services), proxy, figures)
        finally:
            services.database.dispose()
        figures.update(_history(proxy.url, proxy))
    return figures


def _turns(base: str, auth: dict[str, str], proxy: TcpProxy, figures: dict[str, Figures]) -> None:
    headers = {**auth, "Accept": "text/event-stream"}
    with httpx.Client(base_url=base, timeout=30) as http:
        existing = http.post(f"/api/{USER}/chat", json={"message": "warm up"}, headers=auth).json()
        for kind in ("existing", "new"):
            first, whole = Figures(), Figures()
            for index in range(TURNS):
                body: dict[str, Any] = {"message": f"turn {index}"}
                if kind == "existing":
                    body["conversation_id"] = existing["conversation_id"]
                proxy.reset()
                started = time.perf_counter()
                with http.stream("POST", f"/api/{USER}/chat", json=body, headers=headers) as response:
                    chunks = response.iter_raw()
                    next(chunks)
                    first.add(time.perf_counter() - started, proxy.round_trips)
                    for _ in chunks:
                        pass
                whole.add(time.perf_counter() - started, proxy.round_trips)
            figures[f"chat turn, {kind} conversation: first streamed byte"] = first
            figures[f"chat turn, {kind} conversation: whole turn, no tools"] = whole
        with_tool = Figures()
        for index in range(TURNS):
            body = {"message": f"add task {index}", "conversation_id": existing["conversation_id"]}
            proxy.reset()
            started = time.perf_counter()
            with http.stream("POST", f"/api/{USER}/chat", json=body, headers=headers) as response:
                for _ in response.iter_raw():
                    pass
            with_tool.add(time.perf_counter() - started, proxy.round_trips)
        figures["chat turn, existing conversation: whole turn, one add_task call"] = with_tool


def _history(url: str, proxy: TcpProxy) -> dict[str, Figures]:
    from functions.history.routes import router
    from infra.bench.harness.asgi import asgi_get
    from todo_common.auth import mint_chat_token
    from todo_common.settings import Settings
    from todo_common.web import Services, build_app

    settings = dataclasses.replace(Settings.from_environ(), database_url=url)
    services = Services.from_settings(settings, "bench")
    app = build_app("history", services, [router])
    headers = {"Authorization": f"Bearer {mint_chat_token(settings, USER)[0]}"}

    async def pages() -> dict[str, Figures]:
        listed = await asgi_get(app, f"/api/{USER}/conversations", headers)
        conversation = json.loads(listed[1])["items"][0]["id"]
        requests = {
            "history: a page of conversations": f"/api/{USER}/conversations",
            "history: a page of messages": f"/api/{USER}/conversations/{conversation}/messages",
        }
        found: dict[str, Figures] = {}
        for name, path in requests.items():
            found[name] = Figures()
            for _ in range(TURNS):
                proxy.reset()
                started = time.perf_counter()
                status, _ = await asgi_get(app, path, headers)
                found[name].add(time.perf_counter() - started, proxy.round_trips)
                assert status == 200
        return found

    try:
        return asyncio.run(pages())
    finally:
        services.database.dispose()


def _median_ms(values: list[float]) -> str:
    return ms(statistics.median(values))
