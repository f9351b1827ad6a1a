"""Instructions of a cold import in the Lambda sandbox, counted by valgrind (callgrind): unlike seconds, the count
does not move with the machine's load, so a change to what a cold start does can be measured on a busy machine.

One whole cold process per bundle (interpreter start, `import app`, exit), `make package` for this machine's
architecture with its bytecode. BENCH_SANDBOX_BASELINE names another build (`make package` output of an earlier
commit, its bytecode compiled by python3.12) to count beside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra.bench.cold.lambda_sandbox import BASELINE, ENVIRONMENT, FUNCTIONS
from infra.bench.harness.paired import baseline_label
from infra.package import host_architecture, package
from tests.support.lambda_sandbox import Bundle, Sandbox, can_unshare, runtime_environment


def run() -> str:
    if shutil.which("valgrind") is None or not can_unshare():
        raise SystemExit("counting instructions needs valgrind and a private mount namespace (unshare -m)")
    sandbox = Sandbox(runtime=runtime_environment(), environment=ENVIRONMENT)
    baseline = os.environ.get(BASELINE)
    scratch = Path(tempfile.mkdtemp(prefix="todo-chat-instructions-"))
    try:
        package(scratch, host_architecture())
        builds = [scratch, *([Path(baseline)] if baseline else [])]
        rows = []
        for name in FUNCTIONS:
            counts = [
                _instructions(sandbox, Bundle(name, root / "functions" / name, root / "layer")) for root in builds
            ]
            cells = [f"{count / 1e9:.2f} G" for count in counts]
            if baseline:
                cells.append(f"{counts[0] / counts[1]:.2f}x")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    header = "| function | this build |" + (" baseline build | this / baseline |" if baseline else "")
    return "\n".join(
        [
            "## Instructions of a cold import",
            "",
            f"One cold process per bundle in the Lambda sandbox (`make package` for {host_architecture()}, with "
            "bytecode): interpreter start, `import app`, exit, its instructions counted by valgrind's callgrind, "
            "which no machine load changes."
            + (f" Baseline: {baseline_label(BASELINE, baseline)}." if baseline else ""),
            "",
            header,
            "|---|---|" + ("---|---|" if baseline else ""),
            *rows,
            "",
            *WHAT_THE_CHAT_IMPORT_HOLDS,
        ]
    )


# Why each part of the chat function's import is there (`python -X importtime -c "import functions.chat.app"`).
WHAT_THE_CHAT_IMPORT_HOLDS = [
    "What the chat import still holds, and why (shares of its own import time, `-X importtime`):",
    "",
    "- `openai` (about a sixth) and `agents` (about a sixth, `griffe` with it for the function tools' docstrings): "
    "the agent and its model client, on every turn.",
    "- `mcp` with `mcp_types` (about a fifth): the task tools are an MCP server in process; `MCPServer` imports its "
    "resources (`httpx2`), its streamable HTTP transport (`sse_starlette`, `uvicorn`, `click`), request state "
    "(`cryptography`) and `opentelemetry` (`mcp.server._otel`) at import, with no lighter entry point. `fastapi` also "
    "imports `opentelemetry` when it is installed.",
    "- `chatkit` (with `jinja2`, for its widget templates): the ChatKit protocol's types and server.",
    "- `sqlalchemy`, `psycopg`, `pydantic`, `fastapi`, `starlette`: the web and database stack every function has.",
    "- `botocore`: its package root only, from `aws_lambda_powertools`' own `__init__` (its user-agent hook); "
    "Parameters (boto3) is imported only when a secret ARN is configured (`todo_common.settings.read_aws_secret`).",
    "- Kept out: `mangum` (made on first use of `app.handler`; the deployed function runs under uvicorn), and, in "
    "the bundle, `rich` and `httpx`, which only the development environment has (`MCPServer` configures logging "
    "with `rich` when it can import it).",
]


def _instructions(sandbox: Sandbox, bundle: Bundle) -> int:
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    finished = subprocess.run(
        sandbox.command(bundle, [*valgrind, *sandbox.bootstrap()]), capture_output=True, text=True, check=True
    )
    counted = re.search(r"Collected : (\d+)", finished.stderr)
    if counted is None:
        raise RuntimeError(f"valgrind counted nothing: {finished.stderr[-500:]}")
    return int(counted.group(1))
