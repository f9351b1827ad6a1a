"""A local Lambda Runtime API (the 2018-06-01 interface the runtime's client polls): hands out queued events as
invocations and collects each response or error, so a sandboxed `awslambdaric` runs handlers exactly as on Lambda."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RESULT = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")


@dataclass
class Outcome:
    request_id: str
    kind: str  # "response" or "error"
    body: Any


@dataclass
class RuntimeApi:
    function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:todo-chat-sandbox"
    pending: queue.Queue[tuple[str, bytes]] = field(default_factory=queue.Queue)
    outcomes: queue.Queue[Outcome] = field(default_factory=queue.Queue)
    init_errors: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                request_id, body = api.pending.get()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 30) * 1000)))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", api.function_arn)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(payload) if payload else None
                if self.path == "/2018-06-01/runtime/init/error":
                    api.init_errors.append(body)
                elif match := _RESULT.match(self.path):
                    api.outcomes.put(Outcome(match.group(1), match.group(2), body))
                else:
                    self.send_error(404)
                    return
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def invoke(self, event: Any, alive: Callable[[], bool], timeout: float = 60) -> Outcome:
        """One invocation: queue the event, wait for the runtime to answer it (while `alive()` says it runs)."""
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, json.dumps(event).encode()))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive():
            try:
                outcome = self.outcomes.get(timeout=0.2)
            except queue.Empty:
                continue
            assert outcome.request_id == request_id, (outcome, request_id)
            return outcome
        raise RuntimeError(f"no answer to invocation {request_id} (init errors: {self.init_errors})")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
