"""What every function's FastAPI app has: its services, the error mapping, CORS, a request id, and limits on
request bodies. A function's `app.py` calls `build_app` with its routers and nothing else."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools import Logger
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_common.auth import ALL_TOKEN_KINDS, Principal, TokenKind, TokenVerifier
from todo_common.db import Database
from todo_common.errors import error_response, forbidden, install_error_handlers, unauthorized
from todo_common.logs import configure_logging
from todo_common.settings import Settings

logger = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class Services:
    """Everything a container builds once: settings, the database, the token verifier, the logger."""

    settings: Settings
    database: Database
    verifier: TokenVerifier
    logger: Logger

    @classmethod
    def from_settings(cls, settings: Settings, service: str) -> Services:
        return cls(
            settings=settings,
            database=Database.from_url(settings.database_url),
            verifier=TokenVerifier(settings),
            logger=configure_logging(service, settings.log_level),
        )

    @classmethod
    def from_environment(cls, service: str) -> Services:
        return cls.from_settings(Settings.from_environ(), service)


def build_app(title: str, services: Services, routers: Sequence[APIRouter], *, version: str = "1.0.0") -> FastAPI:
    app = FastAPI(title=title, version=version, docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.services = services
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=services.settings.max_request_bytes)
    if services.settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(services.settings.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id", "Last-Event-ID"],
            expose_headers=["X-Request-Id", "Retry-After", "Content-Disposition"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, logger=services.logger)
    return app


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return token.strip()


def authenticate(request: Request, accept: frozenset[TokenKind] = ALL_TOKEN_KINDS) -> Principal:
    return get_services(request).verifier.verify(bearer_token(request), accept)


def require_path_user(principal: Principal, user_id: str) -> None:
    if principal.user_id != user_id:
        raise forbidden()


def current_user(request: Request, user_id: str) -> Principal:
    """The verified caller, who must be the `{user_id}` of the path (else 403)."""
    principal = authenticate(request)
    require_path_user(principal, user_id)
    return principal


def current_better_auth_user(request: Request, user_id: str) -> Principal:
    """As `current_user`, but only a Better Auth token will do (a chat token cannot mint another)."""
    principal = authenticate(request, frozenset({"better_auth"}))
    require_path_user(principal, user_id)
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
BetterAuthUser = Annotated[Principal, Depends(current_better_auth_user)]


class RequestContextMiddleware:
    """Gives each request an id (Lambda's request id when there is one), logs the outcome, and turns anything
    unexpected into the error shape; a stack trace never reaches the client."""

    def __init__(self, app: ASGIApp, logger: Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        self.logger.set_correlation_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error")
            if not response_started:
                response = error_response(
                    500, "internal_error", "Something went wrong on our side; it has been logged."
                )
                await response(scope, receive, send_with_id)
        finally:
            self.logger.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


def _request_id(scope: Scope) -> str:
    context = scope.get("aws.context")
    aws_request_id = getattr(context, "aws_request_id", None)
    if isinstance(aws_request_id, str) and aws_request_id:
        return aws_request_id
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _REQUEST_ID.match(candidate):
                return candidate
    return secrets.token_hex(8)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before any handler runs, whether or not Content-Length is sent.

    The (small) body is read here and replayed to the app, so a handler never sees a body cut short."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large", f"The request body is larger than {self.max_bytes} bytes.")
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
