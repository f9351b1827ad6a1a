"""Operational metrics as CloudWatch Embedded Metric Format (Powertools Metrics): one JSON line on stdout per flush,
which Lambda's log pipeline turns into metrics with no extra infrastructure (and `make dev` shows in its output).

Callers record as things happen and flush at the end of a unit of work: `MetricsMiddleware` flushes after every
request (session, history, and chat's non-streamed answers); a chat turn calls `flush()` when it has finished.

The names are a contract: the template's alarms and dashboard read them (docs/deploy.md, "Metrics the code emits"),
one metric name per outcome and no dimension beyond `service`."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools.metrics import Metrics as _Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from starlette.types import ASGIApp, Receive, Scope, Send

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "TodoChat"
TURN_OUTCOMES = ("complete", "error", "timeout", "interrupted", "stopped")
REFUSALS = ("rate_limited", "busy")

_metrics = _Metrics(namespace=NAMESPACE, service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "todo-chat")


def _camel(value: str) -> str:
    return "".join(part.capitalize() for part in value.replace("-", "_").split("_") if part) or "Unknown"


def record_turn(outcome: str, first_byte_ms: float | None, duration_ms: float | None) -> None:
    """A finished chat turn: `Turns<Outcome>` (Complete, Error, Timeout, Interrupted, Stopped), `FirstByteMs` (when a
    byte was sent) and `TurnDurationMs` (unknown for a turn found interrupted: its process died)."""
    name = outcome if outcome in TURN_OUTCOMES else "other"
    _metrics.add_metric(name=f"Turns{_camel(name)}", unit=MetricUnit.Count, value=1)
    if first_byte_ms is not None:
        _metrics.add_metric(name="FirstByteMs", unit=MetricUnit.Milliseconds, value=first_byte_ms)
    if duration_ms is not None:
        _metrics.add_metric(name="TurnDurationMs", unit=MetricUnit.Milliseconds, value=duration_ms)


def record_tool_call(name: str, status: str) -> None:
    """`ToolCalls`, and `ToolCalls<Status>` (Success, Failure); the tool's name goes to the line's metadata."""
    _metrics.add_metric(name="ToolCalls", unit=MetricUnit.Count, value=1)
    _metrics.add_metric(name=f"ToolCalls{_camel(status)}", unit=MetricUnit.Count, value=1)
    _metrics.add_metadata(key=f"tool_{_camel(status).lower()}", value=name)


def record_refusal(reason: str) -> None:
    """A turn refused before it ran: `Refusals`, and `Refusals<Reason>` (RateLimited, Busy)."""
    _metrics.add_metric(name="Refusals", unit=MetricUnit.Count, value=1)
    kind = _camel(reason if reason in REFUSALS else "other")
    _metrics.add_metric(name=f"Refusals{kind}", unit=MetricUnit.Count, value=1)


def record_model_error(code: str) -> None:
    _metrics.add_metric(name="ModelErrors", unit=MetricUnit.Count, value=1)
    _metrics.add_metadata(key="model_error", value=code)


def record_model_tokens(input_tokens: int, output_tokens: int) -> None:
    """The model tokens a chat turn used: `ModelInputTokens`, `ModelOutputTokens` and `ModelTokens` (their sum, what
    the spend alarm watches)."""
    _metrics.add_metric(name="ModelInputTokens", unit=MetricUnit.Count, value=input_tokens)
    _metrics.add_metric(name="ModelOutputTokens", unit=MetricUnit.Count, value=output_tokens)
    _metrics.add_metric(name="ModelTokens", unit=MetricUnit.Count, value=input_tokens + output_tokens)


def record_history_latency(ms: float) -> None:
    _metrics.add_metric(name="HistoryLatencyMs", unit=MetricUnit.Milliseconds, value=ms)


_discarding = False


@contextmanager
def discarded() -> Iterator[None]:
    """Within it, every flush drops what was recorded instead of writing it (work that no user asked for, such as
    priming before a snapshot, must not count as turns)."""
    global _discarding
    _discarding = True
    try:
        yield
    finally:
        _metrics.clear_metrics()
        _discarding = False


def flush() -> None:
    """Write what was recorded as one EMF line and start over; nothing at all when nothing was recorded."""
    if _discarding:
        _metrics.clear_metrics()
        return
    if not _metrics.metric_set:
        _metrics.metadata_set.clear()
        return
    if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED: Powertools would keep them forever
        _metrics.clear_metrics()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _metrics.flush_metrics()


class MetricsMiddleware:
    """Flushes after each request; with `record_latency`, records the request's duration as `HistoryLatencyMs`."""

    def __init__(self, app: ASGIApp, record_latency: bool = False) -> None:
        self.app = app
        self.record_latency = record_latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            if self.record_latency:
                record_history_latency((time.perf_counter() - started) * 1000)
            flush()
