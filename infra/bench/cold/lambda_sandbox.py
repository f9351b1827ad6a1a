"""Cold import of the built bundles in the Lambda sandbox (tests/support/lambda_sandbox.py): a fresh python3.12,
isolated, the layer read-only at /opt/python, the function folder read-only. Each run is one new process importing
`app` as Lambda's bootstrap does; with the bundle's bytecode, and with every `__pycache__` removed (what a bundle
without bytecode costs on a read-only file system)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from infra.bench.harness.paired import baseline_label
from infra.package import host_architecture, package
from tests.support.lambda_sandbox import Bundle, Sandbox, can_unshare, runtime_environment

RUNS = 7
BASELINE = "BENCH_SANDBOX_BASELINE"  # another build, `make package` output of an earlier commit with its bytecode
FUNCTIONS = ("session", "history", "chat")
ENVIRONMENT = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://bench@127.0.0.1:5432/bench",  # no connection is opened at import
    "BETTER_AUTH_SECRET": "bench-better-auth-secret-0123456789abcdef",
    "CHAT_TOKEN_SECRET": "bench-chat-token-secret-0123456789abcdef",
    "JWT_ISSUER": "https://auth.example.com",  # production checks iss/aud of shared-secret tokens
    "JWT_AUDIENCE": "https://auth.example.com",
    "ALLOWED_ORIGINS": "https://todo.example.com",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
}


def run() -> str:
    if not can_unshare():
        raise SystemExit("the Lambda sandbox needs a private mount namespace (unshare -m)")
    sandbox = Sandbox(runtime=runtime_environment(), environment=ENVIRONMENT)
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="todo-chat-sandbox-bench-"))
    try:
        with_bytecode = scratch / "with"
        package(with_bytecode, host_architecture())
        without = scratch / "without"
        shutil.copytree(with_bytecode, without, symlinks=True)
        for cache in list(without.rglob("__pycache__")):
            shutil.rmtree(cache)
        rows = []
        compared = _against_baseline(sandbox, with_bytecode)
        for name in FUNCTIONS:
            cells = []
            for built in (without, with_bytecode):
                bundle = Bundle(name, built / "functions" / name, built / "layer")
                imports, walls = _samples(sandbox, bundle)
                cells.append(f"{_s(min(imports))} / {_s(statistics.median(imports))}")
                cells.append(f"{_s(statistics.median(walls))}")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_after = os.getloadavg()[0]
    return "\n".join(
        [
            "## Cold import in the Lambda sandbox",
            "",
            f"`make package` for {host_architecture()}, run as Lambda runs it (see `tests/support/lambda_sandbox.py`): "
            f"{RUNS} fresh processes per cell, each importing `app` once. *import* is the time of `import app` "
            "(min / median), *process* the whole process's wall time (median), interpreter start and sandbox "
            "mounts included (and its exit, which a cold start does not wait for). Without bytecode is the same bundle "
            f"with every `__pycache__` removed. Load average (1 min) of the shared machine: {load_before:.1f} at the "
            f"start, {load_after:.1f} at the end; on a quiet machine every figure is lower, the ratios hold.",
            "",
            "| function | import, no bytecode | process | import, with bytecode | process |",
            "|---|---|---|---|---|",
            *rows,
            *compared,
        ]
    )


def _against_baseline(sandbox: Sandbox, built: Path) -> list[str]:
    """With BENCH_SANDBOX_BASELINE set to another build (`make package` output of an earlier commit, its bytecode
    compiled by python3.12): both builds' imports, their samples taken in turns so that the machine's load hits both
    alike (the `instructions` section counts what each does, whatever the load)."""
    baseline = os.environ.get(BASELINE)
    if not baseline:
        return []
    rows = []
    for name in FUNCTIONS:
        bundles = [Bundle(name, root / "functions" / name, root / "layer") for root in (built, Path(baseline))]
        this, old = _paired(sandbox, bundles)
        cells = [f"{_s(min(this))} / {_s(statistics.median(this))}", f"{_s(min(old))} / {_s(statistics.median(old))}"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return [
        "",
        f"Against the baseline build ({baseline_label(BASELINE, baseline)}), both with bytecode, {RUNS} runs each "
        "taken in turns; import min / median.",
        "",
        "| function | this build | baseline build |",
        "|---|---|---|",
        *rows,
    ]


def _paired(sandbox: Sandbox, bundles: list[Bundle]) -> tuple[list[float], list[float]]:
    commands = [sandbox.command(bundle, sandbox.bootstrap()) for bundle in bundles]
    for command in commands:
        subprocess.run(command, capture_output=True, check=True)  # warm-up: the page cache, not the bytecode
    samples: list[list[float]] = [[], []]
    for _ in range(RUNS):
        for index, command in enumerate(commands):
            samples[index].append(_cold_process(command)[0])
    return samples[0], samples[1]


def _samples(sandbox: Sandbox, bundle: Bundle) -> tuple[list[float], list[float]]:
    command = sandbox.command(bundle, sandbox.bootstrap())
    subprocess.run(command, capture_output=True, check=True)  # warm-up: the page cache, not the bytecode
    imports, walls = [], []
    for _ in range(RUNS):
        imported, wall = _cold_process(command)
        imports.append(imported)
        walls.append(wall)
    return imports, walls


def _cold_process(command: list[str]) -> tuple[float, float]:
    """One new process importing `app`: the import's own time, as it printed it, and the process's wall time."""
    started = time.perf_counter()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    first = next(json.loads(line) for line in output.splitlines() if line.startswith('{"sandbox"'))
    return float(first["import_s"]), wall


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"
