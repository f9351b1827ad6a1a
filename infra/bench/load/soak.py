"""Load: 50 users chatting at once through the local gateway (offline model, PostgreSQL) for a bounded time, then
a check that every message is stored once, in order. `make soak` (SOAK_USERS, SOAK_SECONDS to change)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.bench.harness.backend_process import server_environment
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms, percentile
from infra.bench.harness.paired import baseline_label
from tests.support.server import free_port, wait_until_up

DATABASE = "todo_chat_soak"
USERS = int(os.environ.get("SOAK_USERS", "50"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
WORKERS = tuple(int(n) for n in os.environ.get("SOAK_WORKERS", "1,2").split(","))
# A checkout of an earlier commit: its gateway, one process, soaked by the same client first (BENCH_SOAK_BASELINE).
BASELINE = os.environ.get("BENCH_SOAK_BASELINE")
BASELINE_LABEL = baseline_label("BENCH_SOAK_BASELINE", BASELINE or "")
ROUNDS = int(os.environ.get("SOAK_ROUNDS", "3" if BASELINE else "1"))


@dataclass
class UserLoad:
    user_id: str
    token: str
    conversation_id: str | None = None
    sent: list[str] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Soak:
    name: str
    workers: int
    elapsed: float
    server_cpu: float
    client_cpu: float
    users: list[UserLoad]
    lost: int
    duplicated: int
    out_of_order: int

    @property
    def turns(self) -> list[float]:
        return [t for u in self.users for t in u.turns]

    @property
    def rate(self) -> float:
        return len(self.turns) / self.elapsed

    @property
    def first_bytes(self) -> list[float]:
        return [t for u in self.users for t in u.first_bytes]

    @property
    def errors(self) -> list[str]:
        return [e for u in self.users for e in u.errors]


def run() -> str:
    rounds = [_round() for _ in range(ROUNDS)]
    columns = list(zip(*rounds, strict=True))  # each: one configuration, its run in every round
    header = " | ".join(column[0].name for column in columns)

    def per_round(figure: str, cell: Callable[[Soak], str]) -> str:
        return f"| {figure} | " + " | ".join(" · ".join(cell(r) for r in column) for column in columns) + " |"

    def pooled(figure: str, cell: Callable[[list[Soak]], str]) -> str:
        return f"| {figure} | " + " | ".join(cell(list(column)) for column in columns) + " |"

    def turns(runs: list[Soak]) -> list[float]:
        return [t for r in runs for t in r.turns]

    def first_bytes(runs: list[Soak]) -> list[float]:
        return [t for r in runs for t in r.first_bytes]

    def against_baseline(runs: list[Soak]) -> str:  # each run against the baseline's run of its own round
        ratios = [run.rate / round_[0].rate for run, round_ in zip(runs, rounds, strict=True)]
        median = f" (median {statistics.median(ratios):.2f}x)" if len(ratios) > 2 else ""
        return " · ".join(f"{ratio:.2f}x" for ratio in ratios) + median

    def failures(runs: list[Soak]) -> str:
        errors = [e for r in runs for e in r.errors]
        return f"{len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else "")

    rounds_said = f"{ROUNDS} rounds, each running every configuration in turn; " if ROUNDS > 1 else ""
    return "\n".join(
        [
            "## Load",
            "",
            f"{USERS} users chat at once for {SECONDS:.0f} s through the local gateway (`python -m infra.devserver`, "
            "its own process or `GATEWAY_WORKERS` processes that share nothing but the database, as Lambda's "
            "containers do; uvicorn, offline model, PostgreSQL on 127.0.0.1), each sending its next message as "
            "soon as the last answer ended, streamed (SSE), with a `client_message_id`; two messages in three add a "
            "task, every fifth message is sent twice (a client retry). Then each user's conversation is read back "
            f"through the history function. {rounds_said}figures separated by · are one per round, the others "
            "pooled over the rounds.",
            "",
            f"| figure | {header} |",
            "|---|" + "---|" * len(columns),
            per_round("turns completed", lambda r: f"{len(r.turns)} in {r.elapsed:.0f} s ({r.rate:.1f}/s)"),
            *([pooled(f"turns/s against {BASELINE_LABEL} (same round)", against_baseline)] if BASELINE else []),
            per_round("gateway CPU per turn", lambda r: f"{ms(r.server_cpu / max(1, len(r.turns)), 0)}"),
            per_round("load client CPU", lambda r: f"{r.client_cpu:.1f} s"),
            pooled(
                "turn latency p50 / p99",
                lambda c: f"{ms(statistics.median(turns(c)), 0)} / {ms(percentile(turns(c), 99), 0)}",
            ),
            pooled(
                "first byte p50 / p99",
                lambda c: f"{ms(statistics.median(first_bytes(c)), 0)} / {ms(percentile(first_bytes(c), 99), 0)}",
            ),
            pooled("failed requests", failures),
            pooled("messages lost", lambda c: str(sum(r.lost for r in c))),
            pooled("messages duplicated", lambda c: str(sum(r.duplicated for r in c))),
            pooled("conversations out of order", lambda c: str(sum(r.out_of_order for r in c))),
            "",
            "On 2 cores the gateway, PostgreSQL and the 50 clients share the CPU: latency here is CPU-bound "
            "queueing; on Lambda each concurrent conversation gets its own container. One gateway process keeps one "
            "core busy and leaves the other half idle; a second process uses it. The gateway's CPU time per turn "
            "(user + system of its processes, from /proc, during the load) is the figure to compare between runs "
            "on a shared machine, where turns/s follows the CPU the other processes leave.",
        ]
    )


def _round() -> list[Soak]:
    """One run of every configuration, back to back: the baseline's gateway first when there is one."""
    runs = [_soak(1, Path(BASELINE))] if BASELINE else []
    return runs + [_soak(workers) for workers in WORKERS]


def _soak(workers: int, checkout: Path | None = None) -> Soak:
    """The load on this code's gateway with `workers` processes, or on the one of `checkout` (an earlier commit)."""
    # The baseline's gateway migrates its database itself, to its own schema.
    url = fresh_postgres(f"{DATABASE}_{workers}{'_baseline' if checkout else ''}", migrate=checkout is None)
    port = free_port()
    environment = server_environment(url, PORT=str(port), GATEWAY_WORKERS=str(workers))
    if checkout is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(checkout), str(checkout / "layers" / "common")])
    server = subprocess.Popen(  # the same gateway `make dev` runs, in its own process(es)
        [sys.executable, "-m", "infra.devserver"],
        cwd=checkout,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base)
        from infra.devtoken import dev_token

        users = [UserLoad(f"soak-user-{i:02d}", dev_token(f"soak-user-{i:02d}")) for i in range(USERS)]
        started = time.perf_counter()
        server_cpu, client_cpu = _tree_cpu_seconds(server.pid), time.process_time()
        asyncio.run(_load(base, users))
        elapsed = time.perf_counter() - started
        server_cpu, client_cpu = _tree_cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
        lost, duplicated, out_of_order = asyncio.run(_verify(base, users))
    finally:
        server.terminate()
        server.wait(10)
    name = f"{BASELINE_LABEL}, 1 process" if checkout else f"{workers} gateway process{'es' if workers > 1 else ''}"
    return Soak(name, workers, elapsed, server_cpu, client_cpu, users, lost, duplicated, out_of_order)


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
                user.errors.append(f"{response.status_code} {_error_code(await response.aread())}")
                return
            first = None
            async for line in response.aiter_lines():
                if first is None:
                    first = time.perf_counter() - started
                if line.startswith("data:") and user.conversation_id is None and "conversation_id" in line:
                    user.conversation_id = line.split('"conversation_id":"')[1].split('"')[0]
    except httpx.HTTPError as exc:
        user.errors.append(f"{type(exc).__name__} after {time.perf_counter() - started:.1f} s: {exc}"[:120])
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


def _error_code(body: bytes) -> str:
    """The `error.code` of an error answer (the API's machine-readable body), else the body's start."""
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return body[:60].decode(errors="replace")


def _wait_until_up(base: str) -> None:
    if not wait_until_up(base):
        raise RuntimeError("the gateway did not start")


def _tree_cpu_seconds(pid: int) -> float:
    """The CPU time so far, user and system, of a process and its children (uvicorn's workers) (Linux)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return _cpu_seconds(pid) + sum(_cpu_seconds(int(child)) for child in children)


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user and system (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
