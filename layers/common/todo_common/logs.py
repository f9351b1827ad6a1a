"""Structured JSON logs (Powertools) with the request id as correlation id."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger


def configure_logging(service: str, level: str) -> Logger:
    """The function's Powertools logger; the standard library's loggers write through it too."""
    logger = Logger(service=service, level=level)
    root = logging.getLogger()
    if not any(getattr(handler, "_todo_chat", False) for handler in root.handlers):
        for handler in logger.handlers:
            handler._todo_chat = True  # type: ignore[attr-defined]
            root.addHandler(handler)
    root.setLevel(level)
    return logger
