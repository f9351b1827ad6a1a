"""The local gateway behind `make dev`: every function's app on one port, routed as the SAM template routes them,
and a small chat page at `/` for trying it in a browser."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route as PageRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.devtoken import DEMO_USER, dev_token, load_dev_environment
from infra.migrate import upgrade

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


def dev_page_app() -> Starlette:
    async def page(_request: Request) -> Response:
        return FileResponse(DEV_PAGE, media_type="text/html")

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return JSONResponse({"error": {"code": "not_found", "message": "There is no such route."}}, status_code=404)

    return Starlette(routes=[PageRoute("/", page)], exception_handlers={404: not_found})


def build_gateway() -> Gateway:
    from functions.chat.app import app as chat
    from functions.history.app import app as history
    from functions.session.app import app as session

    return Gateway(
        [
            (re.compile(r"^/api/[^/]+/chatkit/session/?$"), session),
            (re.compile(r"^/api/[^/]+/conversations(/.*)?$"), history),
            (re.compile(r"^/api/[^/]+/(chatkit|chat)/?$"), chat),
            (re.compile(r"^/(mcp|healthz)(/.*)?$"), chat),
        ],
        fallback=dev_page_app(),
    )


def main() -> None:
    load_dev_environment()
    # One process serves every user here, unlike a Lambda container (one request at a time, one connection).
    os.environ.setdefault("DATABASE_POOL_SIZE", "10")
    upgrade(os.environ.get("DATABASE_URL") or "sqlite:///.data/todo-chat.db")
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    gateway = build_gateway()
    token = dev_token()
    model = "OpenAI" if os.environ.get("OPENAI_API_KEY") else "the offline model"
    database = (os.environ.get("DATABASE_URL") or "SQLite").split("@")[-1]
    print(f"\n  todo-chat backend on http://{host}:{port}  (database: {database}, {model})")
    print(f"  chat page:  http://{host}:{port}/?token={token}")
    print(f"  dev token for {DEMO_USER} (12 h):\n\n    {token}\n")
    print("  token for another user:  .venv/bin/python -m infra.devtoken OTHER_USER_ID\n")
    uvicorn.run(gateway, host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
