"""The time of an import in a fresh Python process, as a cold start pays it."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Mapping


def median_import_seconds(statement: str, runs: int, environment: Mapping[str, str] | None = None) -> float:
    """The median over `runs` fresh processes of the time `statement` (an import) takes."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    timings = []
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", code],
            env=dict(environment or os.environ),
            capture_output=True,
            text=True,
            check=True,
        )
        timings.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(timings)
