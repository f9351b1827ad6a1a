"""The ASGI layers around every function's routes, outermost first: CORS, the request context (ids, the one
request log line, the one 500), the body limit. CORS is outermost so every answer, a 500 included, carries its
headers."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo_common.errors import error_response, internal_error_response
from todo_common.logs import redact, request_keys

logger = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LAMBDA_CONTEXT_HEADER = "x-amzn-lambda-context"  # the Lambda Web Adapter's invocation context, JSON
_cold_start = True


class RequestContextMiddleware:
    """Gives each request its correlation id and Lambda's request id, logs one line per request, and turns
    anything unexpected into the error shape: a stack trace never reaches the client."""

    def __init__(self, app: ASGIApp, logger: Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        keys = request_context_keys(scope)
        request_id = keys["correlation_id"]
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

        with request_keys(**keys):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                logger.exception("unhandled error")
                if not response_started:
                    await internal_error_response()(scope, receive, send_with_id)
            finally:
                self.logger.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": redact(str(scope.get("path", ""))),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )


def request_context_keys(scope: Scope) -> dict[str, Any]:
    """The log keys of one request: `correlation_id` (Lambda's request id when there is one, else the caller's
    valid `X-Request-Id`, else a fresh uuid), and on Lambda `function_request_id` and `cold_start`."""
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    lambda_request_id, function = _lambda_invocation(scope)
    if lambda_request_id:
        return {
            "correlation_id": lambda_request_id,
            "function_request_id": lambda_request_id,
            "cold_start": cold_start,
            **function,
        }
    caller_id = Headers(scope=scope).get("x-request-id")
    if caller_id and _REQUEST_ID.match(caller_id):
        return {"correlation_id": caller_id}
    return {"correlation_id": str(uuid.uuid4())}


def _lambda_invocation(scope: Scope) -> tuple[str | None, dict[str, Any]]:
    """Lambda's request id and the function's keys (as Powertools' `inject_lambda_context` logs them): from the
    context object Mangum puts in the scope, or the JSON header the Web Adapter forwards."""
    context = scope.get("aws.context")
    if context is not None:
        found = {
            "function_name": getattr(context, "function_name", None),
            "function_arn": getattr(context, "invoked_function_arn", None),
            "function_memory_size": getattr(context, "memory_limit_in_mb", None),
        }
        return _valid_id(getattr(context, "aws_request_id", None)), {k: v for k, v in found.items() if v is not None}
    raw = Headers(scope=scope).get(LAMBDA_CONTEXT_HEADER)
    if not raw:
        return None, {}
    try:
        forwarded = json.loads(raw)
    except ValueError:
        return None, {}
    if not isinstance(forwarded, dict):
        return None, {}
    arn = forwarded.get("invoked_function_arn")
    return _valid_id(forwarded.get("request_id")), {"function_arn": arn} if isinstance(arn, str) else {}


def _valid_id(value: object) -> str | None:
    return value if isinstance(value, str) and _REQUEST_ID.match(value) else None


class JsonCorsMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the error shape instead of plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode(errors="replace").removeprefix("Disallowed CORS ") or "request"
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return error_response(
            400, "cors_refused", f"This cross-origin request is not allowed (refused: {refused}).", headers
        )


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before any handler runs, whether or not Content-Length is sent.

    The (small) body is read here and replayed to the app, so a handler never sees a body cut short. A path matching
    one of `path_limits` (a regular expression for the whole path) has that limit instead; None there leaves the body
    unread to a route that bounds it itself."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int | None] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = [(re.compile(pattern), limit) for pattern, limit in (path_limits or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        max_bytes = next((limit for pattern, limit in self.path_limits if pattern.fullmatch(path)), self.max_bytes)
        if max_bytes is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _too_large(max_bytes, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await _too_large(max_bytes, scope, receive, send)
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


async def _too_large(max_bytes: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(413, "payload_too_large", f"The request body is larger than {max_bytes} bytes.")
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
