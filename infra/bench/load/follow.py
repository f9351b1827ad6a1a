"""What followers of a running answer cost the database: transactions/s (`pg_stat_database.xact_commit` of the
bench's own database) while one answer is being written, with no follower, with followers that stay, and with
followers that go away right after the response's headers.

The chat app runs under uvicorn in a process of its own (`tests.support.chat_server`, a model that never answers,
so the answer stays `streaming` for the whole measurement), on PostgreSQL at 127.0.0.1. The per-user follower cap
is raised to the number of followers for the "stay" rows; a last row counts how many of them the default cap
(`CHAT_MAX_FOLLOWERS_PER_USER`, 10) lets in."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

import httpx
import sqlalchemy as sa

from infra.bench.harness.backend_process import server_environment
from infra.bench.harness.databases import fresh_postgres
from tests.support.server import free_port, wait_until_up

USER = "bench-user"
FOLLOWERS = 300
WINDOW_SECONDS = 10.0


def run() -> str:
    from infra.devtoken import dev_token

    url = fresh_postgres("todo_chat_bench_follow")
    environment = server_environment(url, LOG_LEVEL="ERROR", CHAT_TURN_DEADLINE_SECONDS="120")
    token = dev_token(USER)
    idle, gone, staying = _measure(url, {**environment, "CHAT_MAX_FOLLOWERS_PER_USER": str(FOLLOWERS)}, token)
    admitted = _admitted(url, environment, token)
    return "\n".join(
        [
            "## Following an answer",
            "",
            "Transactions/s of the bench's PostgreSQL database (`pg_stat_database.xact_commit` delta over "
            f"{WINDOW_SECONDS:.0f} s) while one answer is being written (a model that never answers; the turn "
            f"renews its lease and looks for a Stop), with {FOLLOWERS} followers of "
            "`GET /api/{user}/chat/{cid}/stream` from one user. One poll loop per answer per container (every "
            "0.25 s) serves all its followers and stops when the last one leaves. Before this design, 300 followers "
            "that went away raised the database from ~6 to ~1,180 transactions/s and kept polling until the turn "
            "ended. Reproduce: `python -m infra.bench follow`.",
            "",
            "| followers | transactions/s |",
            "|---|---|",
            f"| none | {idle:.1f} |",
            f"| {FOLLOWERS} that go away after the headers | {gone:.1f} |",
            f"| {FOLLOWERS} that stay | {staying:.1f} |",
            f"| admitted of {FOLLOWERS} with the default cap (10), the rest 429 | {admitted} |",
        ]
    )


def _measure(url: str, environment: dict[str, str], token: str) -> tuple[float, float, float]:
    server, base = _start(environment)
    try:
        conversation = _start_turn(base, token)
        time.sleep(1.0)
        idle = _rate(url)
        _followers(base, token, conversation, stay=False)
        time.sleep(1.0)  # the server notices the last one went away
        gone = _rate(url)
        with ExitStack() as stack:
            _followers(base, token, conversation, stay=True, stack=stack)
            time.sleep(2.0)  # their first reads (one each, of the conversation's answer) counted before the window
            staying = _rate(url)
    finally:
        server.kill()  # uvicorn would wait for the silent turn
        server.wait(10)
    return idle, gone, staying


def _admitted(url: str, environment: dict[str, str], token: str) -> int:
    server, base = _start(environment)
    try:
        conversation = _start_turn(base, token)
        with ExitStack() as stack:
            return _followers(base, token, conversation, stay=True, stack=stack)
    finally:
        server.kill()  # uvicorn would wait for the silent turn
        server.wait(10)


def _followers(base: str, token: str, conversation: str, *, stay: bool, stack: ExitStack | None = None) -> int:
    """`FOLLOWERS` followers, each its own connection; those that stay are closed with `stack`. How many got 200."""
    admitted = 0
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=FOLLOWERS + 10))
    if stack is not None:
        stack.callback(client.close)
    headers = {"Authorization": f"Bearer {token}"}
    lock = threading.Lock()

    def one() -> None:
        nonlocal admitted
        response = client.stream("GET", f"{base}/api/{USER}/chat/{conversation}/stream", headers=headers)
        opened = response.__enter__()
        with lock:
            admitted += opened.status_code == 200
        if stay and stack is not None and opened.status_code == 200:
            stack.callback(response.__exit__, None, None, None)
        else:
            response.__exit__(None, None, None)

    threads = [threading.Thread(target=one) for _ in range(FOLLOWERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if stack is None:
        client.close()
    return admitted


def _start_turn(base: str, token: str) -> str:
    """A turn left running in a thread; its conversation id."""
    found: list[str] = []

    def turn() -> None:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        with (
            contextlib.suppress(httpx.HTTPError),  # the server is killed mid-turn when the bench is done
            httpx.Client(timeout=300) as client,
            client.stream("POST", f"{base}/api/{USER}/chat", json={"message": "hello"}, headers=headers) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data:") and not found:
                    found.append(httpx.Response(200, content=line[5:]).json()["conversation_id"])

    threading.Thread(target=turn, daemon=True).start()
    deadline = time.monotonic() + 30
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
    if not found:
        raise RuntimeError("the turn did not start")
    return found[0]


def _rate(url: str) -> float:
    """Transactions/s committed in this database over `WINDOW_SECONDS` (its own two or three included)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    read = sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        before: int = connection.execute(read).scalar_one()
        time.sleep(WINDOW_SECONDS)
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        after: int = connection.execute(read).scalar_one()
    engine.dispose()
    return (after - before) / WINDOW_SECONDS


def _start(environment: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.chat_server", str(port), "silent"], env=environment)
    base = f"http://127.0.0.1:{port}"
    if wait_until_up(base, 90):
        return server, base
    server.kill()
    raise RuntimeError("the chat server did not start")
