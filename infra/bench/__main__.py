"""Run the benchmark sections and write their figures to `docs/benchmarks.md`.

`python -m infra.bench` runs every section; `python -m infra.bench history` only the named ones (the other
sections keep what the file already holds)."""

from __future__ import annotations

import importlib
import platform
import re
import sys
import time
from pathlib import Path

# Each section and the module whose `run()` writes it, in the report's order.
SECTIONS = {
    "cold_start": "cold.cold_start",
    "lambda_sandbox": "cold.lambda_sandbox",
    "snapstart": "cold.snapstart",
    "instructions": "cold.instructions",
    "import_parts": "cold.import_parts",
    "history": "history.latency",
    "export": "history.export",
    "agent": "turn.agent",
    "chat": "turn.chat",
    "turn": "turn.overhead",
    "long_turn": "turn.long_turn",
    "network": "turn.network",
    "server": "turn.web_server",
    "recovery": "turn.recovery",
    "follow": "load.follow",
    "quotas": "load.quotas",
    "package": "cold.package",
    "soak": "load.soak",
    "suite": "suite.wall_time",
}
REPORT = Path("docs/benchmarks.md")
_MARK = "<!-- section: {} -->"


def main(argv: list[str]) -> None:
    wanted = argv or list(SECTIONS)
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"unknown sections: {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    existing = _existing_sections()
    for name in wanted:
        module = importlib.import_module(f"infra.bench.{SECTIONS[name]}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        existing[name] = module.run().strip()
        print(existing[name], f"\n({time.perf_counter() - started:.0f} s)\n", flush=True)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(_render(existing))
    print(f"wrote {REPORT}")


def _existing_sections() -> dict[str, str]:
    if not REPORT.exists():
        return {}
    text = REPORT.read_text()
    found: dict[str, str] = {}
    for name in SECTIONS:
        match = re.search(re.escape(_MARK.format(name)) + r"\n(.*?)(?=\n<!-- section: |\Z)", text, re.S)
        if match:
            found[name] = match.group(1).strip()
    return found


def _render(sections: dict[str, str]) -> str:
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    header = [
        "# Benchmarks",
        "",
        f"Reproduce with `make bench` (or `make bench BENCH=history` for one section). Machine: {machine}, "
        "2 cores. Figures are medians unless said otherwise; each section says how it measures.",
        "",
    ]
    body = [f"{_MARK.format(name)}\n{sections[name]}\n" for name in SECTIONS if name in sections]
    return "\n".join(header + body)


if __name__ == "__main__":
    main(sys.argv[1:])
