"""The turn service: the one caller of the lease, for the plain endpoint and ChatKit alike.

It waits while another turn of the conversation runs, takes the lease, replays or re-attaches a retried
`client_message_id`, runs the engine under the turn's deadline while a heartbeat renews the lease, records the
answer's progress (best effort), and finishes it: the final write is retried through a database blip until shortly
after the deadline, and every turn ends with `TurnCompleted` or `TurnFailed`. See docs/architecture.md, "The
contract of a chat turn"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from functions.chat.thoughts import ThoughtRecord
from functions.chat.titles import TitleWriter
from functions.chat.turn import (
    AgentEvent,
    TextDelta,
    ThoughtDone,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEngine,
    TurnEvent,
    TurnFailed,
    TurnRefused,
    TurnStarted,
)
from functions.chat.turn_store import ConversationBusy, Lease, StoredTurn, TurnLost, TurnStart, TurnStore
from todo_common import metrics
from todo_common.db import DatabaseUnavailable
from todo_common.errors import ApiError
from todo_common.models import Message
from todo_common.tool_calls import ToolCallRecord, records_of

T = TypeVar("T")
logger = logging.getLogger(__name__)
DATABASE_ERRORS = (DatabaseUnavailable, DBAPIError)
FLUSH_SECONDS = 0.75
FOLLOW_POLL_SECONDS = 0.25
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


class TurnService:
    def __init__(self, store: TurnStore, engine: TurnEngine, settings: ChatSettings, titles: TitleWriter) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.titles = titles

    # -- the plain endpoint ---------------------------------------------------------------------------------

    async def open(
        self, caller: Caller, conversation_id: str | None, text: str, client_message_id: str | None
    ) -> AsyncIterator[TurnEvent]:
        """Start a turn, or find the one a retried `client_message_id` started. Refusals known at once (403,
        404, 409 for a reused key, 429) raise `ApiError` before any event; the events follow."""
        started = time.monotonic()
        try:
            first = await asyncio.to_thread(
                self.store.claim, caller.user_id, conversation_id, text, client_message_id=client_message_id
            )
        except ConversationBusy:
            return self._after_wait(caller, conversation_id, text, client_message_id, started)
        except ApiError as exc:
            _record_refusal(exc)
            raise
        return self._proceed(caller, first, started)

    async def _after_wait(
        self, caller: Caller, conversation_id: str | None, text: str, client_message_id: str | None, started: float
    ) -> AsyncIterator[TurnEvent]:
        """A message to a busy conversation waits while the other turn runs (its lease is renewed only while it
        does), then runs; a conversation still busy when too little time is left is refused."""
        delay = 0.05
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                first = await asyncio.to_thread(
                    self.store.claim, caller.user_id, conversation_id, text, client_message_id=client_message_id
                )
            except ConversationBusy:
                if time.monotonic() - started > self._wait_limit():
                    metrics.record_refusal("busy")
                    yield TurnRefused(409, BUSY.code, BUSY.message)
                    return
                continue
            except ApiError as exc:
                _record_refusal(exc)
                yield TurnRefused(exc.status, exc.code, exc.message, dict(exc.headers or {}))
                return
            except DATABASE_ERRORS:
                yield TurnRefused(503, DATABASE.code, "The database could not be reached; nothing was stored.")
                return
            async for event in self._proceed(caller, first, started):
                yield event
            return

    async def _proceed(self, caller: Caller, first: TurnStart | StoredTurn, started: float) -> AsyncIterator[TurnEvent]:
        if isinstance(first, TurnStart):
            async for event in self.run(caller, first, started=started):
                yield event
            return
        async for event in self._retried(caller, first, started):
            yield event

    async def _retried(self, caller: Caller, turn: StoredTurn, started: float) -> AsyncIterator[TurnEvent]:
        """A retried `client_message_id`: the stored answer if it completed, the running turn followed if it still
        runs, and the model run again if the answer failed or was interrupted."""
        answer = turn.answer
        assert answer is not None  # the claim stores the question and its answer together
        if answer.status == "streaming":
            async for event in self.follow(caller, answer, turn.user_message.id):
                yield event
            return
        if answer.status == "complete":
            yield TurnStarted(turn.conversation_id, turn.user_message.id, answer.id)
            yield TurnCompleted(turn.conversation_id, answer.id, answer.content, records_of(answer.tool_calls))
            return
        try:
            rerun = await asyncio.to_thread(self.store.claim_rerun, caller.user_id, turn)
        except ConversationBusy:
            yield TurnRefused(409, BUSY.code, BUSY.message)
            return
        async for event in self.run(caller, rerun, started=started):
            yield event

    async def follow(self, caller: Caller, answer: Message, user_message_id: str) -> AsyncIterator[TurnEvent]:
        """Re-attach to a running answer: what it has said so far, then what is saved next, until it ends."""
        yield TurnStarted(answer.conversation_id, user_message_id, answer.id)
        shown_text, shown_calls = "", dict[str, str]()
        current: Message | None = answer
        while current is not None:
            if current.content.startswith(shown_text) and len(current.content) > len(shown_text):
                yield TextDelta(current.content[len(shown_text) :])
                shown_text = current.content
            for call in records_of(current.tool_calls):
                if call.call_id not in shown_calls:
                    shown_calls[call.call_id] = "running"
                    yield ToolStarted(call.model_copy(update={"status": "running", "result": None}))
                if call.status != "running" and shown_calls[call.call_id] == "running":
                    shown_calls[call.call_id] = call.status
                    yield ToolFinished(call)
            if current.status != "streaming":
                yield _final_of(current)
                return
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            current = await self._best_effort(lambda: self.store.answer(caller.user_id, answer.id), current)
        yield TurnFailed(answer.conversation_id, answer.id, DELETED.code, DELETED.message, shown_text, [])

    async def follow_conversation(self, caller: Caller, conversation_id: str) -> AsyncIterator[TurnEvent] | None:
        """The conversation's answer in progress, followed (None when no answer is being written)."""
        answer, question = await asyncio.to_thread(self.store.latest_answer, caller.user_id, conversation_id)
        if answer is None or answer.status != "streaming":
            return None
        return self.follow(caller, answer, question.id if question else "")

    # -- ChatKit ----------------------------------------------------------------------------------------------

    async def lease_for_chatkit(
        self, caller: Caller, thread_id: str | None, *, counts_as_message: bool
    ) -> Lease | None:
        """The lease for a ChatKit request that runs a turn: a new conversation for `threads.create`, the thread's
        lease otherwise (None while another turn holds it). 403/404/429 raise before any stream starts."""
        try:
            if thread_id is None:
                lease = await asyncio.to_thread(self.store.create_leased, caller.user_id)
                caller.reserved_thread_id = lease.conversation_id
                return lease
            return await asyncio.to_thread(
                self.store.take_lease, caller.user_id, thread_id, counts_as_message=counts_as_message
            )
        except ConversationBusy:
            return None
        except ApiError as exc:
            _record_refusal(exc)
            raise

    async def wait_for_lease(self, caller: Caller, thread_id: str, *, counts_as_message: bool) -> Lease | TurnRefused:
        started, delay = time.monotonic(), 0.05
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                lease = await self.lease_for_chatkit(caller, thread_id, counts_as_message=counts_as_message)
            except ApiError as exc:
                return TurnRefused(exc.status, exc.code, exc.message, dict(exc.headers or {}))
            if lease is not None:
                return lease
            if time.monotonic() - started > self._wait_limit():
                metrics.record_refusal("busy")
                return TurnRefused(409, BUSY.code, BUSY.message)

    async def under_lease(
        self,
        caller: Caller,
        lease: Lease | None,
        thread_id: str | None,
        produce: Callable[[], AsyncIterator[bytes]],
        *,
        counts_as_message: bool,
    ) -> AsyncIterator[bytes | TurnRefused]:
        """A ChatKit stream that runs a turn, under the request's lease: waited for first if the thread was busy
        (`TurnRefused` if it stays busy), handed to the ChatKit server through the caller, released at the end."""
        if lease is None:
            assert thread_id is not None
            waited = await self.wait_for_lease(caller, thread_id, counts_as_message=counts_as_message)
            if isinstance(waited, TurnRefused):
                yield waited
                return
            lease = waited
        caller.lease = lease
        try:
            async for chunk in produce():
                yield chunk
        finally:
            await asyncio.shield(self.release(lease))

    async def chatkit_reply(self, caller: Caller, lease: Lease) -> tuple[TurnStart, AsyncIterator[TurnEvent]]:
        """The answer to the user item ChatKit just stored, under the request's lease (released by the request)."""
        start = await asyncio.to_thread(self.store.start_reply, lease, caller.user_id)
        return start, self.run(caller, start, release=False)

    async def generated_title(self, caller: Caller, start: TurnStart, final: TurnCompleted) -> str | None:
        """After the first answer of a conversation this turn titled: a short title for it, written only if the
        user has not renamed the conversation meanwhile. The title written, or None."""
        if start.new_title is None or not start.context:
            return None
        title = await self.titles.title(start.context[-1].content, final.text)
        if not title or title == start.new_title:
            return None
        try:
            written = await asyncio.to_thread(
                self.store.retitle, caller.user_id, start.conversation_id, start.new_title, title
            )
        except DATABASE_ERRORS:  # the answer is stored; the provisional title stays
            logger.warning("the generated title could not be stored", extra={"conversation_id": start.conversation_id})
            return None
        return title if written else None

    async def release(self, lease: Lease) -> None:
        await self._retrying(lambda: self.store.release(lease), until=time.monotonic() + FINISH_GRACE_SECONDS)

    # -- running a turn ---------------------------------------------------------------------------------------

    async def run(
        self, caller: Caller, start: TurnStart, *, started: float | None = None, release: bool = True
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events; by the last one the answer is stored with its final status (when the database can
        be reached at all) and, with `release`, the lease is given up."""
        began = started or time.monotonic()
        deadline = began + self.settings.turn_deadline_seconds
        for _ in range(start.lease.repaired):
            metrics.record_turn("interrupted", None, None)
        yield TurnStarted(start.conversation_id, start.user_message_id, start.assistant_message_id)
        first_byte_ms = (time.monotonic() - began) * 1000
        recorder = Recorder()
        events: asyncio.Queue[AgentEvent | BaseException | None] = asyncio.Queue()
        producer = asyncio.create_task(self._produce(start, caller, events))
        watcher = asyncio.create_task(self._watch(start, caller, recorder, events))
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
        _record(final, first_byte_ms, (time.monotonic() - began) * 1000)
        yield final

    async def _produce(
        self, start: TurnStart, caller: Caller, events: asyncio.Queue[AgentEvent | BaseException | None]
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
        caller: Caller,
        recorder: Recorder,
        events: asyncio.Queue[AgentEvent | BaseException | None],
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
                await asyncio.wait_for(caller.stop_requested.wait(), max(0.0, wake - time.monotonic()))
            if caller.stop_requested.is_set():
                events.put_nowait(StopRequested())
                return
            now = time.monotonic()
            if now >= renew_at:
                renew_at = now + renew_every
                try:
                    await asyncio.to_thread(self.store.renew, lease)
                except TurnLost as lost:
                    events.put_nowait(lost)
                    return
                except DATABASE_ERRORS:
                    logger.warning(
                        "lease renewal failed; the turn goes on", extra={"conversation_id": lease.conversation_id}
                    )
            if now - recorder.stop_checked_at >= STOP_POLL_SECONDS:
                recorder.stop_checked_at = now
                if await self._best_effort(lambda: self.store.stop_requested(start.assistant_message_id), False):
                    events.put_nowait(StopRequested())
                    return

    async def request_stop(self, caller: Caller, message_id: str) -> None:
        """Ask the turn writing `message_id` to stop (404 unless it is the caller's answer being written)."""
        if not await asyncio.to_thread(self.store.request_stop, caller.user_id, message_id):
            raise ApiError(404, "not_found", "No answer of yours is being written with this id.")

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
        self, start: TurnStart, recorder: Recorder, events: asyncio.Queue[AgentEvent | BaseException | None]
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
            )

        try:
            written = await asyncio.shield(
                self._retrying(write, until=max(deadline, time.monotonic()) + FINISH_GRACE_SECONDS)
            )
        except DATABASE_ERRORS:
            logger.error("the answer could not be stored", extra={"conversation_id": cid})
            return TurnFailed(cid, mid, DATABASE.code, DATABASE.message, recorder.text, calls)
        if not written:
            return TurnFailed(cid, mid, DELETED.code, DELETED.message, recorder.text, calls)
        if failure is not None:
            return TurnFailed(cid, mid, failure.code, failure.message, recorder.text, calls)
        return TurnCompleted(cid, mid, recorder.text, calls)

    async def _retrying(self, work: Callable[[], T], *, until: float) -> T:
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

    async def _best_effort(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return await asyncio.to_thread(read)
        except DATABASE_ERRORS:
            return fallback

    def _wait_limit(self) -> float:
        """How long a message may wait for a busy conversation: what leaves its own turn half of the deadline."""
        return self.settings.turn_deadline_seconds / 2


def _record_refusal(refused: ApiError) -> None:
    if refused.code == "rate_limited":
        metrics.record_refusal("rate_limited")


def _record(final: TurnCompleted | TurnFailed, first_byte_ms: float, duration_ms: float) -> None:
    """The turn's metrics, flushed now: a turn is the streaming function's unit of work."""
    outcome = "complete" if isinstance(final, TurnCompleted) else final.code
    if outcome == "model_error":
        metrics.record_model_error(outcome)
    named = outcome if outcome in ("complete", "timeout", "stopped", "interrupted") else "error"
    metrics.record_turn(named, first_byte_ms, duration_ms)
    metrics.flush()


def _final_of(answer: Message) -> TurnCompleted | TurnFailed:
    calls = records_of(answer.tool_calls)
    if answer.status == "complete":
        return TurnCompleted(answer.conversation_id, answer.id, answer.content, calls)
    known = {f.code: f for f in (TIMEOUT, DELETED, DATABASE, INTERRUPTED, STOPPED)}
    failure = known.get(answer.error_code or "", Failure(answer.error_code or "model_error", INTERRUPTED.message))
    if failure.code == "model_error":
        failure = Failure("model_error", "The assistant failed before finishing its answer.")
    return TurnFailed(answer.conversation_id, answer.id, failure.code, failure.message, answer.content, calls)
