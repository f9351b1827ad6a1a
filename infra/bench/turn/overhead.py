"""The chat function's own cost per turn on each model path: the Responses API through the real `openai` client
against a zero-latency fake in its own process, and the offline model; server side, in process (the JSON
endpoint through ASGI), PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.bench.harness.app_module import USER, bearer, bench_environment, chat_app
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms, percentile
from infra.bench.harness.paired import baseline_label, comparison_rows, paired_figures, print_figures
from tests.support.server import free_port

DATABASE = "todo_chat_bench_turn"
TURNS = int(os.environ.get("BENCH_TURNS", "200"))
WARM_UP = 20


RESPONSES = "OpenAI Responses API (local fake)"
OFFLINE = "offline model"


def run() -> str:
    responses, offline = _both_paths()
    lines = [
        "## Turn overhead",
        "",
        f"Server-side time of one chat turn without tool calls (`POST /api/{{user_id}}/chat`, JSON, the real "
        f"app in process through ASGI, PostgreSQL on 127.0.0.1), {TURNS} turns after {WARM_UP} warm-up ones in "
        "one conversation (the agent's context is the plan's window of 12 messages). The Responses path talks "
        "to a zero-latency fake of the API (`infra/bench/harness/fake_model_server.py`) in its own process over "
        "loopback HTTP, through the real `openai` client and the Agents SDK's Responses model.",
        "",
        "| model path | min | p50 | p95 |",
        "|---|---|---|---|",
        _row(RESPONSES, responses),
        _row(OFFLINE, offline),
    ]
    baseline = os.environ.get("BENCH_TURN_BASELINE")
    if baseline:
        label = baseline_label("BENCH_TURN_BASELINE", baseline)
        ours, theirs = paired_figures("infra.bench.turn.overhead", Path(baseline))
        lines += [
            "",
            f"Against {label}, back to back: the same p50 in {len(ours)} rounds, each round one process of this code "
            "and one of the baseline's (this harness importing the baseline's chat app); min / median of the rounds.",
            "",
            f"| model path | this code | {label} | ratio (medians) |",
            "|---|---|---|---|",
            *comparison_rows(ours, theirs),
        ]
    return "\n".join(lines)


def _both_paths() -> tuple[list[float], list[float]]:
    """The turn timings through the Responses path (against the fake in its own process), then the offline model's."""
    os.environ.setdefault("APP_ENV", "test")
    bench_environment()
    url = fresh_postgres(DATABASE)
    port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "infra.bench.harness.fake_model_server", str(port)])
    try:
        _wait_for(f"http://127.0.0.1:{port}/v1/responses")
        responses = measure(url, openai_base_url=f"http://127.0.0.1:{port}/v1")
    finally:
        fake.terminate()
        fake.wait(10)
    return responses, measure(url, openai_base_url=None)


def measure(url: str, *, openai_base_url: str | None) -> list[float]:
    app, services = chat_app(
        url,
        openai_api_key="sk-test-fake" if openai_base_url else None,
        openai_base_url=openai_base_url,
        chat_model="gpt-test",
    )
    headers = bearer(services)

    async def turns() -> list[float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat", timeout=30) as http:
            first = (await http.post(f"/api/{USER}/chat", json={"message": "hello"}, headers=headers)).json()
            timings = []
            for index in range(WARM_UP + TURNS):
                body = {"message": f"hello {index}", "conversation_id": first["conversation_id"]}
                started = time.perf_counter()
                response = await http.post(f"/api/{USER}/chat", json=body, headers=headers)
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            return timings[WARM_UP:]

    try:
        return asyncio.run(turns())
    finally:
        services.database.dispose()


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url, json={}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the fake model server did not start")


def _row(name: str, timings: list[float]) -> str:
    return f"| {name} | {ms(min(timings))} | {ms(statistics.median(timings))} | {ms(percentile(timings, 95))} |"


if __name__ == "__main__" and sys.argv[1:] == ["--p50s"]:  # one process of the paired comparison
    os.environ["LOG_LEVEL"] = "WARNING"  # the printed figures are the last line of its output
    responses_timings, offline_timings = _both_paths()
    print_figures({RESPONSES: statistics.median(responses_timings), OFFLINE: statistics.median(offline_timings)})
