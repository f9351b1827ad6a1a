"""The whole test suite's wall time as `make test` runs it (branch coverage on, SQLite and PostgreSQL), in one
process and on `make test`'s parallel workers, taken in turns; the machine's load average beside each run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WORKERS = (0, 3)  # 0: everything in one process; 3: `make test`'s default
_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped)")
_PYTEST_TIME = re.compile(r" in ([\d.]+)s")


def run() -> str:
    rows = [_row(workers) for workers in WORKERS]
    return "\n".join(
        [
            "## Test suite time",
            "",
            "The whole suite (`python -m pytest --cov --cov-fail-under=90`, what `make test` runs after its installs "
            "and beside the example's build), in one process and on pytest-xdist workers (`-n N`: each module whole "
            "on one worker, the long ones handed out first), one run each, in turns. The machine is shared: the load "
            "average (1 min) is given at the start and the end of each run; wall times follow the CPU the other "
            "processes leave. "
            "*pytest* is pytest's own time (without the interpreter's start).",
            "",
            "| workers | wall | pytest | tests | load average start / end |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def _row(workers: int) -> str:
    command = [sys.executable, "-m", "pytest", "-q", "-n", str(workers)]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--cov", "--cov-fail-under=90"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    summary = (result.stdout.strip().splitlines() or [""])[-1]
    counts = ", ".join(f"{n} {word}" for n, word in _SUMMARY.findall(summary)) or f"exit status {result.returncode}"
    own = _PYTEST_TIME.search(summary)
    label = "1 (one process)" if workers == 0 else str(workers)
    pytest_time = f"{float(own.group(1)):.0f} s" if own else "—"
    return f"| {label} | {wall:.0f} s | {pytest_time} | {counts} | {load_before:.1f} / {os.getloadavg()[0]:.1f} |"
