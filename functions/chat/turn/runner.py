"""The run loop of a chat turn: the engine's events recorded while a heartbeat renews the lease and the user's Stop
is watched, under the turn's deadline; progress saved (best effort); the answer finished, its final write retried
through a database blip until shortly after the deadline. Every run ends with `TurnCompleted` or `TurnFailed`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from functions.chat.turn.engine import TurnEngine
from functions.chat.turn.events import (
    AgentEvent,
    TextDelta,
    ThoughtDone,
    ToolFinished,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnStarted,
    UsageReported,
)
from functions.chat.turn.store import TurnStore
from functions.chat.turn.thoughts import ThoughtRecord
from functions.chat.turn.types import DATABASE_ERRORS, TurnLost, TurnStart
from todo_common import metrics
from todo_common.tool_calls import ToolCallRecord

T = TypeVar("T")
logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.75
# The final write may go on this long after the deadline (still well inside the function's timeout).
FINISH_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


BUSY = Failure("conversation_busy", "Another message in this conversation is still being answered; try again soon.")
TIMEOUT = Failure("timeout", "The answer took too long and was stopped; what it had said so far is kept.")
DELETED = Failure("conversation_deleted", "The conversation was deleted while the answer was being written.")
DATABASE = Failure("database_unavailable", "The database could not be reached; the answer may be incomplete.")
INTERRUPTED = Failure("interrupted", "The answer was interrupted before it finished.")
STOPPED = Failure("stopped", "You stopped the answer; what it had said so far is kept.")
STOP_POLL_SECONDS = 0.5


class StopRequested(Exception):
    """The user asked the running turn to stop."""


class DeadlinePassed(Exception):
    """The turn's deadline passed."""


def model_failure(exc: BaseException) -> Failure:
    """What a user can do about a model that failed: the provider's own words are for the logs."""
    kind = type(exc).__name__
    if kind in ("AuthenticationError", "PermissionDeniedError"):
        return Failure("model_error", "The model provider refused the API key: check OPENAI_API_KEY.")
    if kind in ("APIConnectionError", "APITimeoutError", "ConnectError"):
        return Failure("model_error", "The model provider could not be reached: check OPENAI_BASE_URL and the network.")
    if kind == "RateLimitError":
        return Failure("model_error", "The model provider is rate limiting this app; try again in a moment.")
    if kind == "NotFoundError":
        return Failure("model_error", "The model provider does not know this model: check CHAT_MODEL.")
    return Failure("model_error", f"The assistant failed before finishing its answer ({kind}).")


@dataclass
class Recorder:
    """What the turn has produced so far, and the bookkeeping of its tool calls."""

    text: str = ""
    calls: list[ToolCallRecord] = field(default_factory=list)
    thoughts: list[ThoughtRecord] = field(default_factory=list)
    dirty: bool = False
    flushed_at: float = field(default_factory=time.monotonic)
    # When the database last told whether the user asked to stop (a progress save tells it too).
    stop_checked_at: float = field(default_factory=time.monotonic)
    usage: UsageReported | None = None  # known once the model's run ended

    def apply(self, event: AgentEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, ThoughtDone):
            self.thoughts.append(event.thought)
        else:
            index = next((i for i, c in enumerate(self.calls) if c.call_id == event.call.call_id), None)
            if index is None:
                self.calls.append(event.call)
            else:
                self.calls[index] = event.call
        self.dirty = True

    def final_calls(self) -> list[ToolCallRecord]:
        """A call still running when the turn ended did not finish: it failed."""
        return [c.model_copy(update={"status": "failure"}) if c.status == "running" else c for c in self.calls]


class TurnRunner:
    def __init__(self, store: TurnStore, engine: TurnEngine, settings: ChatSettings) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings

    async def run(
        self,
        caller: Caller,
        start: TurnStart,
        *,
        started: float | None = None,
        release: bool = True,
        stop: asyncio.Event | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events; by the last one the answer is stored with its final status (when the database can
        be reached at all) and, with `release`, the lease is given up. `stop` is the request's own Stop signal."""
        began = started or time.monotonic()
        stop = stop or asyncio.Event()
        deadline = began + self.settings.turn_deadline_seconds
        for _ in range(start.lease.repaired):
            metrics.record_turn("interrupted", None, None)
        yield TurnStarted(start.conversation_id, start.user_message_id, start.assistant_message_id)
        first_byte_ms = (time.monotonic() - began) * 1000
        recorder = Recorder()
        events: asyncio.Queue[AgentEvent | UsageReported | BaseException | None] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(start, caller, events))
        watcher = asyncio.create_task(self._watch(start, stop, recorder, events))
        # The deadline is one timer for the whole turn (not a timeout, and a task, around every event).
        timer = asyncio.get_running_loop().call_later(
            max(0.0, deadline - time.monotonic()), events.put_nowait, DeadlinePassed()
        )
        failure: Failure | None = None
        try:
            while True:
                item = await events.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    failure = self._failure_of(item)
                    break
                if isinstance(item, UsageReported):
                    recorder.usage = item
                    continue
                recorder.apply(item)
                if isinstance(item, ToolFinished):
                    metrics.record_tool_call(item.call.name, item.call.status)
                yield item
                await self._maybe_flush(start, recorder, events)
        finally:
            timer.cancel()
            for task in (producer, watcher):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(producer, watcher, return_exceptions=True)
        final = await self._finish(start, recorder, failure, deadline, release=release)
        if recorder.usage is not None:
            metrics.record_model_tokens(recorder.usage.input_tokens, recorder.usage.output_tokens)
        _record(final, first_byte_ms, (time.monotonic() - began) * 1000)
        yield final

    async def _produce(
        self,
        start: TurnStart,
        caller: Caller,
        events: asyncio.Queue[AgentEvent | UsageReported | BaseException | None],
    ) -> None:
        try:
            async for event in self.engine.run(start.context, caller):
                events.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            logger.exception("chat turn failed", extra={"conversation_id": start.conversation_id})
            events.put_nowait(exc)
            return
        events.put_nowait(None)

    async def _watch(
        self,
        start: TurnStart,
        stop: asyncio.Event,
        recorder: Recorder,
        events: asyncio.Queue[AgentEvent | UsageReported | BaseException | None],
    ) -> None:
        """The heartbeat and the user's Stop, in one task. The lease is renewed every third of its length while the
        turn runs; a lease found lost (the conversation deleted) stops the turn. A Stop is this request's own signal
        (a ChatKit client that went away), seen at once, or a stop request stored by any container
        (`request_stop`), looked for every `STOP_POLL_SECONDS` unless a progress save just told it."""
        lease, renew_every = start.lease, self.settings.lease_seconds / 3
        renew_at = time.monotonic() + renew_every
        while True:
            wake = min(renew_at, recorder.stop_checked_at + STOP_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, wake - time.monotonic()))
            if stop.is_set():
                events.put_nowait(StopRequested())
                return
            now = time.monotonic()
            if now >= renew_at:
                renew_at = now + renew_every
                try:
                    await asyncio.to_thread(self.store.leases.renew, lease)
                except TurnLost as lost:
                    events.put_nowait(lost)
                    return
                except DATABASE_ERRORS:
                    logger.warning(
                        "lease renewal failed; the turn goes on", extra={"conversation_id": lease.conversation_id}
                    )
            if now - recorder.stop_checked_at >= STOP_POLL_SECONDS:
                recorder.stop_checked_at = now
                if await best_effort(lambda: self.store.reads.stop_requested(start.assistant_message_id), False):
                    events.put_nowait(StopRequested())
                    return

    def _failure_of(self, exc: BaseException) -> Failure:
        if isinstance(exc, DeadlinePassed):
            return TIMEOUT
        if isinstance(exc, StopRequested):
            return STOPPED
        if isinstance(exc, TurnLost):
            return DELETED
        if isinstance(exc, DATABASE_ERRORS):
            return DATABASE
        return model_failure(exc)

    async def _maybe_flush(
        self,
        start: TurnStart,
        recorder: Recorder,
        events: asyncio.Queue[AgentEvent | UsageReported | BaseException | None],
    ) -> None:
        """Progress saves are best effort: a failed one is logged, and the turn goes on. A save also tells whether
        the user asked to stop."""
        if not recorder.dirty or time.monotonic() - recorder.flushed_at < FLUSH_SECONDS:
            return
        recorder.dirty, recorder.flushed_at = False, time.monotonic()
        text, calls, thoughts = recorder.text, list(recorder.calls), list(recorder.thoughts)
        try:
            stop = await asyncio.to_thread(
                self.store.save_progress, start.lease, start.assistant_message_id, text, calls, thoughts
            )
        except DATABASE_ERRORS:
            logger.warning("progress save failed; the turn goes on", extra={"conversation_id": start.conversation_id})
            return
        if stop is not None:
            recorder.stop_checked_at = recorder.flushed_at
        if stop:
            events.put_nowait(StopRequested())

    async def _finish(
        self, start: TurnStart, recorder: Recorder, failure: Failure | None, deadline: float, *, release: bool
    ) -> TurnCompleted | TurnFailed:
        calls = recorder.final_calls()
        cid, mid = start.conversation_id, start.assistant_message_id

        def write() -> bool:
            return self.store.finish(
                start.lease,
                mid,
                content=recorder.text,
                calls=calls,
                thoughts=recorder.thoughts,
                status="complete" if failure is None else "error",
                error_code=None if failure is None else failure.code,
                release=release,
                usage=recorder.usage,
            )

        try:
            written = await asyncio.shield(
                retrying(write, until=max(deadline, time.monotonic()) + FINISH_GRACE_SECONDS)
            )
        except DATABASE_ERRORS:
            logger.error("the answer could not be stored", extra={"conversation_id": cid})
            return TurnFailed(cid, mid, DATABASE.code, DATABASE.message, recorder.text, calls)
        if not written:
            return TurnFailed(cid, mid, DELETED.code, DELETED.message, recorder.text, calls)
        if failure is not None:
            return TurnFailed(cid, mid, failure.code, failure.message, recorder.text, calls)
        return TurnCompleted(cid, mid, recorder.text, calls)


async def retrying(work: Callable[[], T], *, until: float) -> T:
    """`work` in a thread, tried again with backoff while the database cannot be reached, until `until`."""
    delay = 0.1
    while True:
        try:
            return await asyncio.to_thread(work)
        except DATABASE_ERRORS:
            if time.monotonic() + delay > until:
                raise
            logger.warning("database unavailable; retrying in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


async def best_effort(read: Callable[[], T], fallback: T) -> T:
    try:
        return await asyncio.to_thread(read)
    except DATABASE_ERRORS:
        return fallback


def _record(final: TurnCompleted | TurnFailed, first_byte_ms: float, duration_ms: float) -> None:
    """The turn's metrics, flushed now: a turn is the streaming function's unit of work."""
    outcome = "complete" if isinstance(final, TurnCompleted) else final.code
    if outcome == "model_error":
        metrics.record_model_error(outcome)
    named = outcome if outcome in ("complete", "timeout", "stopped", "interrupted") else "error"
    metrics.record_turn(named, first_byte_ms, duration_ms)
    metrics.flush()
