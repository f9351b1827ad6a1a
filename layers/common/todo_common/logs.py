"""Structured JSON logs (Powertools): one line per event, the request's own keys on every line, no tokens.

Every record, from the Powertools logger or any standard library logger (uvicorn, SQLAlchemy, our modules), goes
through exactly one handler: the Powertools JSON handler, installed on the root logger; the Powertools logger
itself does not propagate. The per-request keys (correlation id, Lambda request id, cold start) live in a context
variable, so concurrent requests under uvicorn each log their own, never the last one's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import IO, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.filters import SuppressFilter

_REQUEST_KEYS: ContextVar[Mapping[str, Any]] = ContextVar("todo_chat_request_keys", default=MappingProxyType({}))
_SECRET_QUERY = re.compile(r"(?i)([?&](?:token|access_token|id_token|client_secret|code)=)[^&#\s\"']*")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_MARK = "_todo_chat"
REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def redact(text: str) -> str:
    """`text` without query-string tokens (`?token=…`) or bearer credentials."""
    return _BEARER.sub(rf"\1{REDACTED}", _SECRET_QUERY.sub(rf"\1{REDACTED}", text))


class RedactTokens(logging.Filter):
    """Rewrites a record's message and arguments so no token reaches a log line (uvicorn's access log prints
    the full path, query string included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


class RequestKeys(logging.Filter):
    """Copies the current request's keys onto each record; the Powertools formatter prints them as fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _REQUEST_KEYS.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


@contextmanager
def request_keys(**keys: Any) -> Iterator[None]:
    """Adds `keys` to every log line written while the block runs, in this context (task) only."""
    token = _REQUEST_KEYS.set({**_REQUEST_KEYS.get(), **keys})
    try:
        yield
    finally:
        _REQUEST_KEYS.reset(token)


def configure_logging(service: str, level: str, *, stream: IO[str] | None = None) -> Logger:
    """The function's Powertools logger; its handler becomes the root's, so every logger writes through it once."""
    logger = Logger(service=service, level=level, stream=stream)
    logger._logger.propagate = False  # its handler is also the root's: propagating would print every line twice
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    for handler in logger._logger.handlers:
        if not getattr(handler, _MARK, False):
            setattr(handler, _MARK, True)
            handler.addFilter(RequestKeys())
            handler.addFilter(RedactTokens())
        # Powertools adds a filter to the root's handlers that drops records of loggers named like a service
        # ("chat" drops functions.chat.*): on the one handler we have, that would silence our own modules.
        for suppress in [f for f in handler.filters if isinstance(f, SuppressFilter)]:
            handler.removeFilter(suppress)
        root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        # uvicorn configures its loggers (plain text) before it imports the app; from here on they write JSON lines
        # through the root's handler like everything else.
        server_logger = logging.getLogger(name)
        for own in list(server_logger.handlers):
            server_logger.removeHandler(own)
        server_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        # A logger-level filter: it holds for any handler a later uvicorn logging config gives the access log.
        access.addFilter(RedactTokens())
    return logger
