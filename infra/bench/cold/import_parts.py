"""Each part of the chat function's import: `-X importtime` of `import app` in the Lambda sandbox (`make package` for
this machine's architecture, with bytecode), fresh processes, the time of each top-level package's own modules and
which module imported it first. What a turn does with each part comes from a trace of turns (see USE), not from
this run."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from infra.bench.cold.lambda_sandbox import ENVIRONMENT
from infra.package import host_architecture, package
from infra.runtime_python import RUNTIME_NAME
from tests.support.lambda_sandbox import Bundle, Sandbox, can_unshare, runtime_environment

RUNS = 5
SHOWN_SHARE = 0.01  # parts under 1% of the import are summed in one row
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")

# Whether a turn runs a part's code, traced with `sys.monitoring` over a plain turn on the offline model, the same turn
# against the local fake OpenAI server, a ChatKit `threads.create` turn and an MCP call (main at 2bf65d6).
USE = {
    "mcp_types": "yes: the task tools' results are its models",
    "agents": "yes, every turn",
    "openai": "yes, with a real model (not the offline one)",
    "sqlalchemy": "yes",
    "chatkit": "yes, every ChatKit turn (the web UI's path)",
    "mcp": "yes",
    "fastapi": "yes",
    "functions": "yes (the project's code)",
    "todo_common": "yes (the project's code)",
    "app": "builds the app",
    "pydantic": "yes",
    "psycopg": "yes",
    "griffe": "no",
    "cryptography": "only for JWKS tokens (EdDSA, ES256, RS256)",
    "jinja2": "yes, ChatKit's widgets",
}

NOTES = [
    "What no turn uses adds up to about 3% (`griffe`, `annotated_types`, `idna`, and `cryptography` with an HS256 "
    "chat token). Each was taken out of a copy of the bundle in turn: without `cryptography`, `opentelemetry`, "
    "`griffe`, `jinja2` or `truststore`, `import app` fails (the libraries import them unconditionally), so keeping "
    "them out would mean patching `mcp`, `agents`, `chatkit` or `httpcore2`. Deferring `chatkit` in the project's code "
    "would only move its cost to the first ChatKit request, which is most requests. `agents`, `openai`, `mcp` and "
    "`mcp_types` are about half of the import: the leaner peer's 7.2 G is out of reach without replacing the Agents "
    "SDK or `mcp`'s server. Outside `import app`, uvicorn's start imported a WebSocket implementation (about 18 ms) "
    "that the Web Adapter's plain HTTP never uses: `run.sh` starts uvicorn with `--ws none`.",
    "",
    "python3.13 against python3.12 (`LAMBDA_PYTHON_VERSION=3.13` builds the bundles for it and runs the sandbox on it; "
    "every dependency has a cp313 wheel; both interpreters pyenv builds with the same configuration; the sandbox's "
    "tests pass on both; main at 2bf65d6):",
    "",
    "| | python3.12 | python3.13 | 3.13 / 3.12 |",
    "|---|---|---|---|",
    "| session, instructions of a cold import | 3.42 G | 3.33 G | 0.97x |",
    "| history, instructions | 3.51 G | 3.42 G | 0.97x |",
    "| chat, instructions | 11.44 G | 11.24 G | 0.98x |",
    "| chat, `import app` wall, 3 series of 7 processes in turns, medians | 1888, 1829, 1876 ms "
    "| 1850, 1835, 1879 ms | within noise |",
    "| chat bundle | 106.4 MB | 106.5 MB | |",
    "",
    "The functions stay on python3.12: 3.13 counts 2% fewer instructions and imports no faster.",
]


@dataclass
class _Module:
    name: str
    own_us: int
    level: int
    children: list[_Module] = field(default_factory=list)

    @property
    def part(self) -> str:
        return self.name.split(".", 1)[0]


def run() -> str:
    if not can_unshare():
        raise SystemExit("the Lambda sandbox needs a private mount namespace (unshare -m)")
    sandbox = Sandbox(runtime=runtime_environment(), environment=ENVIRONMENT)
    scratch = Path(tempfile.mkdtemp(prefix="todo-chat-import-parts-"))
    try:
        package(scratch, host_architecture())
        bundle = Bundle("chat", scratch / "functions" / "chat", scratch / "layer")
        runs = [_import_tree(sandbox, bundle) for _ in range(RUNS)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    owns = [_own_by_part(root) for root in runs]
    total = statistics.median(sum(own.values()) for own in owns)
    importers = _first_importers(runs[0])
    parts = sorted({part for own in owns for part in own}, key=lambda part: -statistics.median(o[part] for o in owns))
    shown, rest = [], 0.0
    for part in parts:
        own_us = statistics.median(own.get(part, 0) for own in owns)
        if own_us / total < SHOWN_SHARE:
            rest += own_us
            continue
        shown.append(
            f"| `{part}` | {own_us / 1000:.0f} ms | {own_us / total:.1%} | {importers.get(part, '—')} "
            f"| {USE.get(part, '—')} |"
        )
    shown.append(f"| everything else, each under 1% | {rest / 1000:.0f} ms | {rest / total:.1%} | | |")
    return "\n".join(
        [
            "## Each part of the chat import",
            "",
            f"The chat bundle (`make package` for {host_architecture()}, with bytecode) in the Lambda sandbox on "
            f"{RUNTIME_NAME}: `-X importtime` of `import app`, {RUNS} fresh processes, medians; whole import "
            f"{total / 1000:.0f} ms under `-X importtime`. *own* is the time of the part's own modules, so the shares "
            "add up to the whole; *first imported by* is the module that imported it first. Reproduce with "
            "`make bench BENCH=import_parts`.",
            "",
            "| part | own | share | first imported by | a turn uses it |",
            "|---|---|---|---|---|",
            *shown,
            "",
            *NOTES,
        ]
    )


def _import_tree(sandbox: Sandbox, bundle: Bundle) -> _Module:
    """`import app`'s module, its imports nested under it as `-X importtime` prints them (a module after its own)."""
    command = [str(sandbox.runtime / "bin" / "python"), "-X", "importtime", *sandbox.bootstrap()[1:]]
    finished = subprocess.run(sandbox.command(bundle, command), capture_output=True, text=True, check=True)
    waiting: dict[int, list[_Module]] = defaultdict(list)  # modules printed, by level, until their importer is
    for line in finished.stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        level = (len(match[3]) - 1) // 2
        module = _Module(match[4], int(match[1]), level, waiting.pop(level + 1, []))
        if module.name == "app" and level == 0:
            return module
        waiting[level].append(module)
    raise RuntimeError(f"`import app` is not in -X importtime's output: {finished.stderr[-500:]}")


def _own_by_part(root: _Module) -> dict[str, float]:
    own: dict[str, float] = defaultdict(float)
    stack = [root]
    while stack:
        module = stack.pop()
        own[module.part] += module.own_us
        stack.extend(module.children)
    return own


def _first_importers(root: _Module) -> dict[str, str]:
    """For each part, the module outside it that imported it first (modules in the order their imports started)."""
    first: dict[str, str] = {}
    stack = [(root, "")]
    while stack:
        module, importer = stack.pop()
        if importer and module.part not in first and module.part != importer.split(".", 1)[0]:
            first[module.part] = importer
        stack.extend((child, module.name) for child in reversed(module.children))
    return first
