"""One request straight into an ASGI app, in this process and event loop: what the app itself costs, without an
HTTP client, a socket or a test client's thread in between."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.types import ASGIApp, Message


async def asgi_get(
    app: ASGIApp, path: str, headers: dict[str, str], params: dict[str, str] | None = None
) -> tuple[int, bytes]:
    chunks: list[bytes] = []
    status = await _get(app, path, headers, params, chunks.append)
    return status, b"".join(chunks)


async def asgi_get_size(app: ASGIApp, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Status and body size of a response whose body is dropped as it comes (for memory measurements)."""
    size = 0

    def count(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    status = await _get(app, path, headers, None, count)
    return status, size


async def _get(
    app: ASGIApp, path: str, headers: dict[str, str], params: dict[str, str] | None, take: Callable[[bytes], None]
) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params or {}).encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("history", 80),
        "state": {},
    }
    status = 0
    requested, answered = False, asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()  # a streaming response listens for the client leaving: only once it is done
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            take(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    return status
