"""The local gateway behind `make dev`: every function's app on one port, routed as the SAM template routes them."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import uvicorn
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


def build_gateway() -> Gateway:
    from functions.history.app import app as history
    from functions.session.app import app as session

    return Gateway(
        [
            (re.compile(r"^/api/[^/]+/chatkit/session/?$"), session),
            (re.compile(r"^/api/[^/]+/conversations(/.*)?$"), history),
        ],
        fallback=history,
    )


def main() -> None:
    load_dev_environment()
    upgrade(os.environ.get("DATABASE_URL") or "sqlite:///.data/todo-chat.db")
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    gateway = build_gateway()
    print(f"\n  todo-chat backend on http://{host}:{port}")
    print(f"  dev token for {DEMO_USER} (12 h):\n\n    {dev_token()}\n")
    print("  token for another user:  .venv/bin/python -m infra.devtoken OTHER_USER_ID\n")
    uvicorn.run(gateway, host=host, port=port, log_level="info")


if __name__ == "__main__":
    main()
