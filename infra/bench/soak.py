"""Load: 50 users chatting at once through the local gateway (offline model, PostgreSQL) for a bounded time, then
a check that every message is stored once, in order. `make soak` (SOAK_USERS, SOAK_SECONDS to change)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.bench.databases import fresh_postgres
from infra.bench.servers import free_port, server_environment, wait_until_up

DATABASE = "todo_chat_soak"
USERS = int(os.environ.get("SOAK_USERS", "50"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))


@dataclass
class UserLoad:
    user_id: str
    token: str
    conversation_id: str | None = None
    sent: list[str] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run() -> str:
    url = fresh_postgres(DATABASE)
    port = free_port()
    environment = server_environment(url, PORT=str(port))
    server = subprocess.Popen(  # the same gateway `make dev` runs, in its own process
        [sys.executable, "-m", "infra.devserver"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base)
        from infra.devtoken import dev_token

        users = [UserLoad(f"soak-user-{i:02d}", dev_token(f"soak-user-{i:02d}")) for i in range(USERS)]
        started = time.perf_counter()
        server_cpu, client_cpu = _cpu_seconds(server.pid), time.process_time()
        asyncio.run(_load(base, users))
        elapsed = time.perf_counter() - started
        server_cpu, client_cpu = _cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
        lost, duplicated, out_of_order = asyncio.run(_verify(base, users))
    finally:
        server.terminate()
        server.wait(10)
    turns = [t for u in users for t in u.turns]
    first = [t for u in users for t in u.first_bytes]
    errors = [e for u in users for e in u.errors]
    return "\n".join(
        [
            "## Load",
            "",
            f"{USERS} users chat at once for {SECONDS:.0f} s through the local gateway (`python -m infra.devserver`, "
            "its own process, uvicorn, offline model, PostgreSQL on 127.0.0.1), each sending its next message as "
            "soon as the last answer ended, streamed (SSE), with a `client_message_id`; every fifth message is sent "
            "twice (a client retry). Then each user's conversation is read back through the history function.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| turns completed | {len(turns)} in {elapsed:.0f} s ({len(turns) / elapsed:.1f} turns/s) |",
            f"| gateway CPU per turn | {_ms(server_cpu / max(1, len(turns)))} ({server_cpu:.1f} s in all) |",
            f"| load client CPU | {client_cpu:.1f} s |",
            f"| turn latency p50 / p99 | {_ms(statistics.median(turns))} / {_ms(_p99(turns))} |",
            f"| first streamed byte p50 / p99 | {_ms(statistics.median(first))} / {_ms(_p99(first))} |",
            f"| failed requests | {len(errors)} |",
            f"| messages lost | {lost} |",
            f"| messages duplicated | {duplicated} |",
            f"| conversations out of order | {out_of_order} |",
            "",
            "On 2 cores the server and the 50 clients share the CPU: latency here is CPU-bound queueing; on Lambda "
            "each concurrent conversation gets its own container. The gateway's CPU time per turn (user + system, "
            "from /proc, during the load) is the figure to compare between runs on a shared machine, where "
            "turns/s follows the CPU the other processes leave.",
        ]
    )


async def _load(base: str, users: list[UserLoad]) -> None:
    deadline = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=USERS + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        await asyncio.gather(*(_chat(http, user, deadline) for user in users))


async def _chat(http: httpx.AsyncClient, user: UserLoad, deadline: float) -> None:
    index = 0
    while time.monotonic() < deadline:
        text = f"add task {index} for {user.user_id}" if index % 3 else "list"
        client_id = f"{user.user_id}-{index}"
        for attempt in range(2 if index % 5 == 4 else 1):
            await _turn(http, user, text, client_id, record=attempt == 0)
        user.sent.append(text)
        index += 1


async def _turn(http: httpx.AsyncClient, user: UserLoad, text: str, client_id: str, *, record: bool) -> None:
    body = {"message": text, "client_message_id": client_id, "conversation_id": user.conversation_id}
    headers = {"Authorization": f"Bearer {user.token}", "Accept": "text/event-stream"}
    started = time.perf_counter()
    try:
        async with http.stream("POST", f"/api/{user.user_id}/chat", json=body, headers=headers) as response:
            if response.status_code != 200:
                user.errors.append(f"{response.status_code}")
                return
            first = None
            async for line in response.aiter_lines():
                if first is None:
                    first = time.perf_counter() - started
                if line.startswith("data:") and user.conversation_id is None and "conversation_id" in line:
                    user.conversation_id = line.split('"conversation_id":"')[1].split('"')[0]
    except httpx.HTTPError as exc:
        user.errors.append(type(exc).__name__)
        return
    if record and first is not None:
        user.first_bytes.append(first)
        user.turns.append(time.perf_counter() - started)


async def _verify(base: str, users: list[UserLoad]) -> tuple[int, int, int]:
    lost = duplicated = out_of_order = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for user in users:
            stored: list[dict[str, str]] = []
            cursor = None
            while user.conversation_id:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = (
                    await http.get(
                        f"/api/{user.user_id}/conversations/{user.conversation_id}/messages",
                        params=params,
                        headers={"Authorization": f"Bearer {user.token}"},
                    )
                ).json()
                stored += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            questions = [m["content"] for m in stored if m["role"] == "user"]
            lost += max(0, len(user.sent) - len(questions))
            duplicated += max(0, len(questions) - len(user.sent))
            roles = [m["role"] for m in stored]
            alternating = roles == ["user", "assistant"] * (len(roles) // 2)
            complete = all(m["status"] == "complete" for m in stored)
            if questions != user.sent[: len(questions)] or not alternating or not complete:
                out_of_order += 1
    return lost, duplicated, out_of_order


def _wait_until_up(base: str) -> None:
    if not wait_until_up(base):
        raise RuntimeError("the gateway did not start")


def _p99(values: list[float]) -> float:
    return sorted(values)[int(0.99 * (len(values) - 1))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user and system (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
