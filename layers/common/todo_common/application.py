"""The app factory: a function's `app.py` calls `build_app` with its routers and nothing else."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, FastAPI

from todo_common.errors import install_error_handlers
from todo_common.middleware import BodyLimitMiddleware, JsonCorsMiddleware, RequestContextMiddleware
from todo_common.services import Services


def build_app(title: str, services: Services, routers: Sequence[APIRouter], *, version: str = "1.0.0") -> FastAPI:
    app = FastAPI(title=title, version=version, docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.services = services
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    # Starlette runs the middleware added last outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware, logger=services.logger)
    if services.settings.allowed_origins:
        app.add_middleware(
            JsonCorsMiddleware,
            allow_origins=list(services.settings.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id", "Last-Event-ID", "Mcp-Protocol-Version"],
            expose_headers=["X-Request-Id", "Retry-After", "Content-Disposition", "WWW-Authenticate"],
            max_age=600,
        )
    return app
