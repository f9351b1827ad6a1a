"""The local gateway behind `make dev`: every function's app on one port, routed as the SAM template routes them,
and a small chat page at `/` for trying it in a browser."""

from __future__ import annotations

import os
import re
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route as PageRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.devtoken import DEMO_USER, dev_token, load_dev_environment
from infra.migrate import prepare

Route = tuple[re.Pattern[str], ASGIApp]


class Gateway:
    """Dispatches by path, like API Gateway in front of the functions; anything else goes to `fallback`."""

    def __init__(self, routes: Sequence[Route], fallback: ASGIApp) -> None:
        self.routes = list(routes)
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            for pattern, app in self.routes:
                if pattern.match(scope["path"]):
                    await app(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


DEV_PAGE = Path(__file__).with_name("devpage") / "index.html"
ACCENT = (0x0F, 0xFF, 0x50)


def favicon_ico(size: int = 32) -> bytes:
    """A small ICO (one PNG inside): a check mark on an accent-green disc, drawn here so no binary is tracked."""
    rows = []
    centre, radius = (size - 1) / 2, size / 2 - 1
    for y in range(size):
        row = bytearray(b"\x00")  # PNG filter type: none
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius**2
            # The check: a short stroke down to (13, 22), a long one up to (24, 10), each about 3 px wide.
            short = 7 <= x <= 13 and abs((y - 16) - (x - 7)) <= 2
            long = 13 <= x <= 24 and abs((y - 22) + (x - 13) * 12 / 11) <= 2.2
            r, g, b = (0x0E, 0x11, 0x16) if short or long else ACCENT
            row += bytes((r, g, b, 255 if inside else 0))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png


def dev_page_app() -> Starlette:
    icon = favicon_ico()

    async def page(_request: Request) -> Response:
        return FileResponse(DEV_PAGE, media_type="text/html")

    async def favicon(_request: Request) -> Response:
        return Response(icon, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return JSONResponse({"error": {"code": "not_found", "message": "There is no such route."}}, status_code=404)

    return Starlette(
        routes=[PageRoute("/", page), PageRoute("/favicon.ico", favicon)], exception_handlers={404: not_found}
    )


def build_gateway() -> Gateway:
    from functions.chat.app import app as chat
    from functions.history.app import app as history
    from functions.session.app import app as session

    return Gateway(
        [
            (re.compile(r"^/api/[^/]+/chatkit/session/?$"), session),
            (re.compile(r"^/api/[^/]+/conversations(/.*)?$"), history),
            (re.compile(r"^/api/[^/]+/(chatkit|chat)(/.*)?$"), chat),  # after the session's own chatkit path
            (re.compile(r"^/api/[^/]+/tasks/search$"), chat),
            (re.compile(r"^/api/attachments/"), chat),  # the local file store's signed uploads and previews
            (re.compile(r"^/(mcp|healthz|\.well-known/oauth-protected-resource)(/.*)?$"), chat),
        ],
        fallback=dev_page_app(),
    )


def main() -> None:
    load_dev_environment()
    # One process serves every user here, unlike a Lambda container (one request at a time, one connection).
    os.environ.setdefault("DATABASE_POOL_SIZE", "10")
    prepare(os.environ.get("DATABASE_URL") or "sqlite:///.data/todo-chat.db")
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    workers = int(os.environ.get("GATEWAY_WORKERS", "1"))
    # The local file store's upload and preview links point back at this gateway.
    os.environ.setdefault("CHAT_ATTACHMENTS_URL", f"http://{host}:{port}")
    gateway = build_gateway() if workers == 1 else None  # else each worker builds its own
    token = dev_token()
    model = "OpenAI" if os.environ.get("OPENAI_API_KEY") else "the offline model"
    database = (os.environ.get("DATABASE_URL") or "SQLite").split("@")[-1]
    print(f"\n  todo-chat backend on http://{host}:{port}  (database: {database}, {model})")
    print(f"  chat page:  http://{host}:{port}/?token={token}")
    print(f"  dev token for {DEMO_USER} (12 h):\n\n    {token}\n")
    print("  token for another user:  make token USER=OTHER_USER_ID\n")
    # uvloop and httptools, as uvicorn picks them itself when installed. Against asyncio and h11 they were 1.1x
    # faster in one run of docs/benchmarks.md's "server" section and 0.93x in another: within run-to-run noise.
    # More than one worker: processes that share nothing but the database, as Lambda's containers do.
    uvicorn.run(
        "infra.devserver:build_gateway" if gateway is None else gateway,
        factory=gateway is None,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
