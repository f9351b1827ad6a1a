"""The chat function's first request after a SnapStart restore, against a warm one: in the Lambda sandbox, `run.sh`
started as the Web Adapter starts it (PostgreSQL on 127.0.0.1, offline model), then the hooks in Lambda's order
(before-checkpoint, after-restore), then turns; the same without the before-checkpoint hook (no priming) beside it."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.bench.cold.lambda_sandbox import ENVIRONMENT
from infra.bench.harness.databases import fresh_postgres
from infra.bench.harness.formatting import ms
from infra.package import host_architecture, package
from tests.support.lambda_sandbox import (
    SNAPSTART_HOOKS,
    Bundle,
    Sandbox,
    can_unshare,
    running_chat,
    runtime_environment,
)
from todo_common.auth import mint_chat_token
from todo_common.settings import Settings

DATABASE = "todo_chat_bench_snapstart"
USER = "bench-user"
ROUNDS = int(os.environ.get("BENCH_SNAPSTART_ROUNDS", "5"))
WARM_TURNS = 20


def run() -> str:
    if not can_unshare():
        raise SystemExit("the Lambda sandbox needs a private mount namespace (unshare -m)")
    url = fresh_postgres(DATABASE)
    environment = {**ENVIRONMENT, "DATABASE_URL": url, "CHAT_RATE_LIMIT_PER_MINUTE": "10000", "LOG_LEVEL": "WARNING"}
    sandbox = Sandbox(runtime=runtime_environment(), environment=environment)
    token = mint_chat_token(Settings(chat_token_secret=ENVIRONMENT["CHAT_TOKEN_SECRET"]), USER)[0]
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="todo-chat-snapstart-bench-"))
    figures: dict[str, list[Round]] = {"primed": [], "unprimed": []}
    try:
        package(scratch, host_architecture())
        bundle = Bundle("chat", scratch / "functions" / "chat", scratch / "layer")
        for _ in range(ROUNDS):
            for kind in figures:  # in turns, so both see the same load
                figures[kind].append(_round(sandbox, bundle, token, primed=kind == "primed", log=scratch / "log"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()[0]
    primed, unprimed = figures["primed"], figures["unprimed"]
    warm = statistics.median(statistics.median(row.warm) for row in (*primed, *unprimed))
    first_primed = statistics.median(row.first for row in primed)
    first_unprimed = statistics.median(row.first for row in unprimed)
    return "\n".join(
        [
            "## The first request after a SnapStart restore",
            "",
            f"The chat bundle (`make package` for {host_architecture()}) in the Lambda sandbox, `run.sh` started "
            "as the Web Adapter starts it (uvicorn; PostgreSQL on 127.0.0.1, offline model), ready once `/healthz` "
            "answers; then, as Lambda calls them, the before-checkpoint hook (where the snapshot is taken) and "
            "the after-restore hook; then a plain JSON turn with a tool call (`add buy milk`) on a new "
            f"conversation, timed by the client over loopback, then {WARM_TURNS} more like it (warm). Unprimed: "
            f"the same process without the before-checkpoint hook. {ROUNDS} fresh processes of each, in turns; "
            f"medians. Load average (1 min) of the shared machine: {load_before:.1f} at the start, "
            f"{load_after:.1f} at the end. Reproduce with "
            "`python -m infra.bench snapstart`.",
            "",
            "| process | before-checkpoint hook | after-restore hook | first turn | warm turn | first / warm |",
            "|---|---|---|---|---|---|",
            f"| primed | {_median_ms(row.before for row in primed)} | {_median_ms(row.after for row in primed)} | "
            f"{ms(first_primed)} | {ms(warm)} | {first_primed / warm:.2f}x |",
            f"| unprimed | — | {_median_ms(row.after for row in unprimed)} | {ms(first_unprimed)} | {ms(warm)} | "
            f"{first_unprimed / warm:.2f}x |",
            "",
            "Target: the first turn after a restore at most 1.5x a warm one. What the primed first turn still pays: a "
            "new database connection (the hook closed the pool: a connection must not be in a snapshot) and the "
            "PostgreSQL statements' first compilation (the priming ran them on SQLite, whose compiled forms differ).",
        ]
    )


@dataclass(frozen=True)
class Round:
    """One fresh process: its hooks' times, its first turn's and its warm turns', in seconds."""

    before: float
    after: float
    first: float
    warm: list[float]


def _round(sandbox: Sandbox, bundle: Bundle, token: str, *, primed: bool, log: Path) -> Round:
    headers = {"Authorization": f"Bearer {token}"}
    with running_chat(sandbox, bundle, log) as url, httpx.Client(base_url=url, timeout=120) as http:

        def turn() -> httpx.Response:
            return http.post(f"/api/{USER}/chat", json={"message": "add buy milk"}, headers=headers)

        before = _timed(lambda: http.post(SNAPSTART_HOOKS["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"])) if primed else 0
        after = _timed(lambda: http.post(SNAPSTART_HOOKS["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"]))
        first = _timed(turn)
        return Round(before, after, first, [_timed(turn) for _ in range(WARM_TURNS)])


def _timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code in (200, 204), response.text
    return elapsed


def _median_ms(values: Iterable[float]) -> str:
    return ms(statistics.median(values))
