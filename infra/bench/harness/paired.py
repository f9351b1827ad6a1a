"""Figures of this checkout and of a baseline checkout (an earlier commit), taken in turns so that both see the same
machine: each round runs one process of this code and one of the baseline's, the same harness (this repository's
`infra`) importing the baseline's `functions` and layer."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from infra.bench.harness.formatting import ms

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 3


def baseline_label(variable: str, baseline: str | Path) -> str:
    """How a report names the baseline that `variable` (BENCH_<SECTION>_BASELINE) points at: `<variable>_LABEL`
    (the commit it is, say), else its path."""
    return os.environ.get(f"{variable}_LABEL") or f"`{baseline}`"


def paired_figures(module: str, baseline: Path, rounds: int = ROUNDS) -> tuple[list[dict[str, float]], ...]:
    """`python -m <module> --p50s` (which prints one JSON object of figures) run `rounds` times for this checkout
    and for `baseline`, alternately: (this code's figures, the baseline's), one dict per round."""
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as shim:
        (Path(shim) / "infra").symlink_to(ROOT / "infra")
        for _ in range(rounds):
            ours.append(_figures(module, ROOT, [ROOT, ROOT / "layers" / "common"]))
            theirs.append(_figures(module, Path(shim), [Path(shim), baseline, baseline / "layers" / "common"]))
    return ours, theirs


def comparison_rows(ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> list[str]:
    """One table row per figure: min / median of the rounds for each side, and the ratio of the medians."""
    rows = []
    for name in ours[0]:
        mine = [round_[name] for round_ in ours]
        base = [round_[name] for round_ in theirs]
        ratio = statistics.median(mine) / statistics.median(base)
        rows.append(
            f"| {name} | {ms(min(mine), 2)} / {ms(statistics.median(mine), 2)} "
            f"| {ms(min(base), 2)} / {ms(statistics.median(base), 2)} | {ratio:.2f}x |"
        )
    return rows


def print_figures(figures: dict[str, float]) -> None:
    """What a `--p50s` process prints: its last line, read by `paired_figures`."""
    print(json.dumps(figures))


def _figures(module: str, cwd: Path, path: list[Path]) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, path))}
    command = [sys.executable, "-m", module, "--p50s"]
    printed = subprocess.run(command, cwd=cwd, env=environment, check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(printed.strip().splitlines()[-1])
    return figures
