"""The one error shape, `{"error": {"code": "<snake_case>", "message": "<sentence>"}}`, and the mapping of every
failure to it: no route ever answers with a stack trace or a bare 500 page."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from todo_common.db import DatabaseUnavailable

E = TypeVar("E", bound=Exception)

logger = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An expected failure with its HTTP status, a stable machine-readable code and a human sentence."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        fields: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = list(fields) if fields is not None else None


def unauthorized(message: str = "A valid bearer token is required.") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="todo-chat"'})


def forbidden(message: str = "You may not access another user's data.") -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a router or route: each status answers with the one error shape."""
    return {status: {"model": ErrorBody, "description": HTTPStatus(status).phrase} for status in statuses}


def internal_error_response() -> JSONResponse:
    """The only 500 any function sends: no stack trace, no exception text."""
    return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    fields: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=dict(headers or {}))


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def install_error_handlers(app: FastAPI) -> None:
    _handle(app, ApiError, _api_error)
    _handle(app, RequestValidationError, _validation_error)
    _handle(app, StarletteHTTPException, _http_error)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DataError, _data_error)
    _handle(app, DBAPIError, _database_error)
    # No handler for Exception: Starlette would run it in ServerErrorMiddleware, outside CORS. Anything unexpected
    # propagates to the request-context middleware (inside CORS), which alone answers 500.


def _handle(app: FastAPI, kind: type[E], handler: Callable[[Request, E], Awaitable[JSONResponse]]) -> None:
    """Register `handler` for `kind`: Starlette types every handler as taking any exception; this one takes its own."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, kind)  # Starlette calls it only for `kind`
        return await handler(request, exc)

    app.add_exception_handler(kind, handle)


async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.headers, exc.fields)


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(err.get("type") == "json_invalid" for err in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    fields = [
        {"location": [str(part) for part in err.get("loc", ())], "message": str(err.get("msg", "invalid"))}
        for err in errors
    ]
    first = fields[0] if fields else {"location": [], "message": "invalid"}
    where = ".".join(first["location"][1:] or first["location"]) or "request"
    return error_response(422, "validation_error", f"Invalid {where}: {first['message']}.", fields=fields)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, RecursionError):
        return error_response(400, "json_too_deep", "The request body is nested too deeply.")
    if status == 400 and exc.__cause__ is not None:
        # FastAPI's "error parsing the body": anything json.loads refused that is not a JSONDecodeError.
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    code = _STATUS_CODES.get(status, "http_error")
    if status == 404:
        message = "There is no such route."
    else:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    return error_response(status, code, message, exc.headers)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", exc.__class__.__name__)
    return error_response(
        503, "database_unavailable", "The database is unavailable; try again shortly.", {"Retry-After": "2"}
    )


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot hold (out of range, bad encoding) slipped past validation: still the caller's input.
    logger.warning("database refused a value: %s", exc.__class__.__name__)
    return error_response(422, "invalid_value", "A value in the request cannot be stored.")


async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
    if exc.connection_invalidated:
        return await _database_unavailable(request, exc)
    raise exc
