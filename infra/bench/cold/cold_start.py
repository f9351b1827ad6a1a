"""Cold start of each function: a fresh process imports `functions.<name>.app` and serves one request through its
Lambda handler, as a new container does; and which heavy modules each one loads."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from infra.bench.harness.formatting import ms

RUNS = 7
FUNCTIONS = ("session", "history", "chat")
HEAVY = ("openai", "agents", "chatkit", "mcp", "boto3")

_PROBE = """
import json, sys, time
started = time.perf_counter()
import functions.{name}.app as module
imported = time.perf_counter()
event = {{
    "version": "2.0", "routeKey": "$default", "rawPath": "{path}", "rawQueryString": "",
    "headers": {{"authorization": "Bearer " + sys.argv[1], "content-type": "application/json", "host": "bench"}},
    "requestContext": {{"http": {{"method": "{method}", "path": "{path}", "protocol": "HTTP/1.1",
                                  "sourceIp": "127.0.0.1", "userAgent": "bench"}},
                        "requestId": "bench", "routeKey": "$default", "stage": "$default"}},
    "body": {body!r}, "isBase64Encoded": False,
}}
class Context:
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return 30000
result = module.handler(event, Context())
served = time.perf_counter()
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"import": imported - started, "first": served - started, "status": result["statusCode"],
                  "heavy": heavy}}))
"""

_REQUESTS = {
    "session": ("POST", "/api/bench-user/chatkit/session", "{}"),
    "history": ("GET", "/api/bench-user/conversations", ""),
    "chat": ("POST", "/api/bench-user/chat", '{"message": "list"}'),
}


def run() -> str:
    os.environ.setdefault("BETTER_AUTH_SECRET", "bench-better-auth-secret-0123456789abcdef")
    os.environ.setdefault("CHAT_TOKEN_SECRET", "bench-chat-token-secret-0123456789abcdef")
    environment = _environment()
    from infra.devtoken import dev_token
    from infra.migrate import upgrade

    upgrade(environment["DATABASE_URL"])
    token = dev_token("bench-user")
    rows = []
    for name in FUNCTIONS:
        method, path, body = _REQUESTS[name]
        code = _PROBE.format(name=name, method=method, path=path, body=body, heavy=list(HEAVY))
        samples = [_probe(code, token, environment) for _ in range(RUNS)]
        statuses = {s["status"] for s in samples}
        rows.append(
            f"| {name} | {ms(statistics.median(s['import'] for s in samples), 0)} "
            f"| {ms(statistics.median(s['first'] for s in samples), 0)} | {sorted(statuses)} "
            f"| {', '.join(samples[0]['heavy']) or 'none'} |"
        )
    return "\n".join(
        [
            "## Cold start",
            "",
            f"A fresh Python process per run imports `functions.<name>.app` and serves one request through its "
            f"Lambda `handler` (SQLite, HS256 token, offline model); median of {RUNS} runs. Lambda adds its own "
            "runtime start (~100-200 ms) on top; SnapStart removes most of the import part for session and history.",
            "",
            "| function | import | import + first request | status | heavy modules loaded |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "Session and history load none of `openai`, `agents`, `chatkit`, `mcp` (also asserted by "
            "`tests/deploy/test_imports.py`). The chat function's import is dominated by the agent stack itself; "
            "see the chat section for its bare-import floor.",
        ]
    )


def _environment() -> dict[str, str]:
    scratch = tempfile.mkdtemp(prefix="todo-chat-bench-")
    return {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{scratch}/bench.db",
        "LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "",
    }


def _probe(code: str, token: str, environment: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-c", code, token], env=environment, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result
