"""A chat turn on a long conversation: the same turn with 1k, 100k and 1M messages in its conversation, each size in
a database of its own, filled by one INSERT ... SELECT; PostgreSQL on 127.0.0.1, zero-latency model
(`ScriptedModel`), uvicorn on a real socket, SSE."""

from __future__ import annotations

import os
import statistics
import time

import httpx

from infra.bench.harness.app_module import USER, bearer, chat_app, chat_environment
from infra.bench.harness.databases import drop_postgres, fresh_postgres
from infra.bench.harness.formatting import ms, percentile
from tests.support.factories import fill_conversation
from tests.support.server import Server

DATABASE = "todo_chat_bench_long"
SIZES = {"1k": 1_000, "100k": 100_000, "1M": 1_000_000}
TURNS = int(os.environ.get("BENCH_LONG_TURNS", "40"))
WARM_UP = 5


def run() -> str:
    chat_environment()
    load_before = os.getloadavg()[0]
    figures: dict[str, tuple[list[float], list[float], float]] = {}
    for label, size in SIZES.items():
        figures[label] = _measure(size)
    load_after = os.getloadavg()[0]
    smallest, largest = figures["1k"], figures["1M"]
    lines = [
        "## A turn on a long conversation",
        "",
        "One conversation holding 1k, 100k or 1M messages (each in a database of its own, filled by one "
        "`INSERT ... SELECT generate_series`, then ANALYZE); PostgreSQL on 127.0.0.1, zero-latency model "
        "(`ScriptedModel`), uvicorn on a real socket, SSE; its last answer was left `streaming` by a dead turn, which "
        f"the first claim repairs (every claim runs the repair). {TURNS} turns after {WARM_UP} warm-up ones; median "
        f"/ p95. Reproduce with `python -m infra.bench long_turn`. Load average (1 min) of the shared machine: "
        f"{load_before:.1f} at the start, {load_after:.1f} at the end; the ratios are the figures to compare.",
        "",
        "| messages in the conversation | first streamed byte | whole turn | seeding |",
        "|---|---|---|---|",
        *(
            f"| {label} | {_ms_of(first)} / {_ms_of(first, 95)} | {_ms_of(whole)} / {_ms_of(whole, 95)} "
            f"| {seeded:.1f} s |"
            for label, (first, whole, seeded) in figures.items()
        ),
        "",
        f"1M against 1k (medians): first byte {_ratio(largest[0], smallest[0])}, whole turn "
        f"{_ratio(largest[1], smallest[1])} (target ≤ 1.2x). Every statement of a turn is an index probe: the "
        "context is the last messages of `(conversation_id, seq)` read backwards, the repair of a dead turn's "
        "answer finds it through the partial index `ix_message_streaming` (only the rows being written), the rate "
        "limit reads the user's last minute of `(user_id, created_at)`, the progress and the finish write one "
        "message by its id (`tests/chat/turn/test_turn_plans.py` checks the plans). Before the partial index "
        "(migration 0003), the same bench on the same loaded machine: whole turn 57.2 ms at 1k, 135.0 ms at 100k, "
        "855.1 ms at 1M (first byte 29.3 / 117.9 / 817.6 ms): the repair read the whole conversation on every claim.",
    ]
    return "\n".join(lines)


def _measure(size: int) -> tuple[list[float], list[float], float]:
    """First byte and whole turn of TURNS turns in a conversation of `size` messages, and the seconds its fill took."""
    from agents.testing import ScriptedModel, assistant_message

    url = fresh_postgres(f"{DATABASE}_{size}")
    app, services = chat_app(url, ScriptedModel([[assistant_message("Done.")] for _ in range(WARM_UP + TURNS + 1)]))
    first_bytes: list[float] = []
    wholes: list[float] = []
    try:
        headers = {**bearer(services), "Accept": "text/event-stream"}
        with Server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            created = http.post(f"/api/{USER}/chat", json={"message": "start"}, headers=bearer(services)).json()
            conversation = created["conversation_id"]
            started = time.perf_counter()
            fill_conversation(url, conversation, USER, size - 2)
            _leave_a_dead_answer(url, conversation)
            seeded = time.perf_counter() - started
            for index in range(WARM_UP + TURNS):
                body = {"message": f"turn {index}", "conversation_id": conversation}
                started = time.perf_counter()
                with http.stream("POST", f"/api/{USER}/chat", json=body, headers=headers) as response:
                    stream = response.iter_raw()
                    next(stream)
                    first = time.perf_counter() - started
                    for _ in stream:
                        pass
                if index >= WARM_UP:
                    first_bytes.append(first)
                    wholes.append(time.perf_counter() - started)
                assert response.status_code == 200
    finally:
        services.database.dispose()
        drop_postgres(url)
    return first_bytes, wholes, seeded


def _leave_a_dead_answer(url: str, conversation_id: str) -> None:
    """The conversation's last answer left `streaming` by a turn whose lease ran out (the repair's work)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE message SET status = 'streaming' WHERE conversation_id = :cid AND seq = "
                "(SELECT last_seq FROM conversation WHERE id = :cid)"
            ),
            {"cid": conversation_id},
        )
        connection.execute(
            sa.text("UPDATE conversation SET turn_lease_until = now() - interval '1 minute' WHERE id = :cid"),
            {"cid": conversation_id},
        )
    engine.dispose()


def _ms_of(values: list[float], percent: int = 50) -> str:
    """The median of `values`, or the sample at `percent`, in milliseconds."""
    return ms(statistics.median(values) if percent == 50 else percentile(values, percent))


def _ratio(larger: list[float], smaller: list[float]) -> str:
    return f"{statistics.median(larger) / statistics.median(smaller):.2f}x"
