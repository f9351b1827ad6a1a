"""How turns recover: a chat process killed mid-answer (what a Lambda timeout or crash does), and a database that
drops and refuses every connection for a few seconds while answers stream.

The chat app runs under uvicorn in a process of its own (`tests.support.chat_server`, the offline model slowed to
one stream event every 0.3 s so a turn is mid-answer when the fault comes), on PostgreSQL at 127.0.0.1; the
outage goes through a TCP proxy that the benchmark cuts (`tests.support.tcp_proxy`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx

from infra.bench.harness.backend_process import server_environment
from infra.bench.harness.databases import fresh_postgres
from tests.support.server import free_port, wait_until_up

USER = "bench-user"
OUTAGE_SECONDS = 3.0
STREAMS = 10


def run() -> str:
    url = fresh_postgres("todo_chat_bench_recovery")
    environment = _environment(url)
    usable_after, repaired = _crash(environment)
    outcome = _outage(url, environment)
    return "\n".join(
        [
            "## Recovery",
            "",
            "A chat process killed mid-answer (SIGKILL, as a Lambda timeout or crash ends one) with the default "
            "lease (`CHAT_LEASE_SECONDS` 30 s), then started again; and a database outage of "
            f"{OUTAGE_SECONDS:.0f} s (every connection dropped, new ones refused, through a TCP proxy) while "
            f"{STREAMS} answers stream. PostgreSQL on 127.0.0.1, offline model slowed to one event every 0.3 s.",
            "",
            "| figure | value | target |",
            "|---|---|---|",
            f"| crash: the conversation takes a new message again after | {usable_after:.1f} s | ≤ 60 s |",
            f"| crash: the dead answer, once the next turn started | {repaired} | `error` / `interrupted` |",
            f"| outage: streams that ended with `done` / with an `error` event / cut | {outcome['done']} / "
            f"{outcome['error']} / {outcome['cut']} | no stream cut |",
            f"| outage: answers left `streaming` afterwards | {outcome['streaming']} | 0 |",
            f"| outage: the slowest stream ended this long after the database came back | {outcome['tail']:.1f} s | |",
        ]
    )


def _environment(url: str) -> dict[str, str]:
    from infra.devtoken import dev_token

    environment = server_environment(url, LOG_LEVEL="ERROR")
    return {**environment, "BENCH_TOKEN": dev_token(USER)}


def _crash(environment: dict[str, str]) -> tuple[float, str]:
    import sqlalchemy as sa

    headers = {"Authorization": f"Bearer {environment['BENCH_TOKEN']}", "Accept": "text/event-stream"}
    server, base = _start(environment, "slow")
    conversation_id = message_id = ""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{base}/api/{USER}/chat", json={"message": "hello"}, headers=headers) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("data:") and not conversation_id:
                data = httpx.Response(200, content=line[5:]).json()
                conversation_id, message_id = data["conversation_id"], data["message_id"]
                break
    time.sleep(0.5)
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    crashed = time.monotonic()
    server, base = _start(environment, "offline")
    try:
        while True:
            answer = httpx.post(
                f"{base}/api/{USER}/chat",
                json={"message": "list", "conversation_id": conversation_id},
                headers={"Authorization": headers["Authorization"]},
                timeout=120,
            )
            if answer.status_code == 200:
                break
            time.sleep(0.5)
        usable_after = time.monotonic() - crashed
    finally:
        server.terminate()
        server.wait(10)
    engine = sa.create_engine(environment["DATABASE_URL"])
    with engine.connect() as connection:
        status, code = connection.execute(
            sa.text("SELECT status, error_code FROM message WHERE id = :id"), {"id": message_id}
        ).one()
    engine.dispose()
    return usable_after, f"`{status}` / `{code}`"


def _outage(url: str, environment: dict[str, str]) -> dict[str, Any]:
    import sqlalchemy as sa

    from tests.support.tcp_proxy import TcpProxy

    with TcpProxy(url) as proxy:
        server, base = _start({**environment, "DATABASE_URL": proxy.url}, "slow")
        finals: list[str | None] = []
        ended: list[float] = []
        conversations: list[str] = []

        def one(index: int) -> None:
            final, conversation = None, None
            headers = {"Authorization": f"Bearer {environment['BENCH_TOKEN']}", "Accept": "text/event-stream"}
            try:
                with (
                    httpx.Client(timeout=120) as client,
                    client.stream(
                        "POST", f"{base}/api/{USER}/chat", json={"message": f"add task {index}"}, headers=headers
                    ) as response,
                ):
                    for line in response.iter_lines():
                        if line.startswith("event:"):
                            final = line[6:].strip()
                        if line.startswith("data:") and conversation is None:
                            conversation = httpx.Response(200, content=line[5:]).json().get("conversation_id")
            except httpx.HTTPError:
                final = None
            finals.append(final if final in ("done", "error") else None)
            ended.append(time.monotonic())
            if conversation:
                conversations.append(conversation)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(STREAMS)]
        try:
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            proxy.cut()
            time.sleep(OUTAGE_SECONDS)
            proxy.restore()
            restored = time.monotonic()
            for thread in threads:
                thread.join(120)
        finally:
            server.terminate()
            server.wait(10)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        streaming = connection.execute(sa.text("SELECT count(*) FROM message WHERE status = 'streaming'")).scalar_one()
    engine.dispose()
    return {
        "done": finals.count("done"),
        "error": finals.count("error"),
        "cut": finals.count(None),
        "streaming": streaming,
        "tail": max(ended) - restored if ended else 0.0,
    }


def _start(environment: dict[str, str], model: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.chat_server", str(port), model], env=environment)
    base = f"http://127.0.0.1:{port}"
    if wait_until_up(base, 30):
        return server, base
    server.kill()
    raise RuntimeError("the chat server did not start")
