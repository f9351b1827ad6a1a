"""Export of a conversation of 50 000 messages (PostgreSQL on 127.0.0.1, the real history app in process):
time, size and peak memory of the streamed export, and the answer the HTTP API's size cap gives."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
import tracemalloc

import sqlalchemy as sa

from infra.bench.harness.app_module import bench_environment
from infra.bench.harness.databases import fresh_postgres
from infra.bench.history.latency import SEED, USER

DATABASE = "todo_chat_bench_export"
MESSAGES = int(os.environ.get("BENCH_EXPORT_MESSAGES", "50000"))


def run() -> str:
    bench_environment()
    from functions.history import export
    from functions.history.routes import router
    from infra.bench.harness.asgi import asgi_get, asgi_get_size
    from todo_common.auth import mint_chat_token
    from todo_common.settings import Settings
    from todo_common.web import Services, build_app

    url = fresh_postgres(DATABASE)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        values = {"mine": 1, "user": USER, "big": MESSAGES, "each": 0, "others": 0, "conversations": 1}
        for statement in filter(str.strip, SEED.split(";")):
            connection.execute(sa.text(statement), values)
    engine.dispose()
    settings = dataclasses.replace(Settings.from_environ(), database_url=url)
    services = Services.from_settings(settings, "bench")
    app = build_app("history", services, [router])
    headers = {"Authorization": f"Bearer {mint_chat_token(settings, USER)[0]}"}
    path = f"/api/{USER}/conversations/thr_bench00000001/export"

    capped_status, capped_body = asyncio.run(asgi_get(app, path, headers))
    cap = export.EXPORT_MAX_BYTES
    export.EXPORT_MAX_BYTES = 10**12  # the streamed path itself, as a local server (no 6 MB limit) serves it
    try:
        asyncio.run(asgi_get_size(app, path, headers))  # warm
        started = time.perf_counter()
        status, size = asyncio.run(asgi_get_size(app, path, headers))
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a run of its own: tracing slows every allocation
        asyncio.run(asgi_get_size(app, path, headers))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        export.EXPORT_MAX_BYTES = cap
        services.database.dispose()
    assert status == 200 and size > MESSAGES * 100, (status, size)
    return "\n".join(
        [
            "## Export",
            "",
            f"One conversation of {MESSAGES:,} messages (about 70 characters each) on PostgreSQL on 127.0.0.1, "
            "`GET …/export` (JSON) through the real history app in process (ASGI). Peak memory is Python's own "
            "allocations during a second request (`tracemalloc`); the bench drops the body as it arrives.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| answer with the HTTP API's cap ({cap / 1e6:.1f} MB estimated) | {capped_status} "
            f"`{_code(capped_body)}` |",
            f"| streamed export without the cap: time | {seconds:.2f} s |",
            f"| streamed export without the cap: size | {size / 1e6:.1f} MB |",
            f"| streamed export without the cap: peak Python memory | {peak / 1e6:.1f} MB |",
            "",
            "The export is written a keyset page of 500 messages at a time (one round trip each), so memory does "
            "not grow with the conversation. Behind the HTTP API (buffered, 6 MB per response) a larger "
            "conversation answers 413 `export_too_large` naming the paged messages endpoint.",
        ]
    )


def _code(body: bytes) -> str:
    import json

    return str(json.loads(body).get("error", {}).get("code", ""))
