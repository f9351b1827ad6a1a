"""The app factory: a function's `app.py` calls `build_app` with its routers and nothing else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from todo_common.dependencies import DOCUMENTED_SECURITY
from todo_common.errors import install_error_handlers
from todo_common.middleware import BodyLimitMiddleware, JsonCorsMiddleware, RequestContextMiddleware
from todo_common.services import Services


def build_app(
    title: str,
    services: Services,
    routers: Sequence[APIRouter],
    *,
    version: str = "1.0.0",
    body_limits: Mapping[str, int | None] | None = None,
) -> FastAPI:
    """The app; `body_limits` gives the paths (regular expressions) whose bodies have their own limit."""
    app = FastAPI(title=title, version=version, docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.services = services
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    _document_security(app, routers)
    # Starlette runs the middleware added last outermost.
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_request_bytes, path_limits=body_limits)
    app.add_middleware(RequestContextMiddleware, logger=services.logger)
    if services.settings.allowed_origins:
        app.add_middleware(
            JsonCorsMiddleware,
            allow_origins=list(services.settings.allowed_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id", "Last-Event-ID", "Mcp-Protocol-Version"],
            expose_headers=["X-Request-Id", "Retry-After", "Content-Disposition", "WWW-Authenticate"],
            max_age=600,
        )
    return app


def _document_security(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """The OpenAPI document names, for every route, the bearer schemes its authenticating dependency accepts (see
    `dependencies.accepts`), and declares those schemes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = generate()
        declared: dict[str, HTTPBearer] = {}
        routes = [route for router in routers for route in router.routes]
        for route in routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            schemes = _accepted_schemes(route.dependant)
            if not schemes:
                continue
            for method in route.methods or ():
                spec["paths"][route.path_format][method.lower()]["security"] = [{s.scheme_name: []} for s in schemes]
            declared.update((scheme.scheme_name, scheme) for scheme in schemes)
        if declared:
            spec.setdefault("components", {})["securitySchemes"] = {
                name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
                for name, scheme in declared.items()
            }
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _accepted_schemes(dependant: Dependant) -> tuple[HTTPBearer, ...]:
    for sub in dependant.dependencies:
        found = DOCUMENTED_SECURITY.get(sub.call) if sub.call is not None else None
        if found:
            return found
        found = _accepted_schemes(sub)
        if found:
            return found
    return ()
