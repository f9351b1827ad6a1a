"""The turn service: the one caller of the lease, for the plain endpoint and ChatKit alike.

It waits while another turn of the conversation runs, takes the lease, replays or re-attaches a retried
`client_message_id`, follows a running answer, and has the run loop (`turn.runner`) run the turn. See
docs/architecture.md, "The contract of a chat turn"."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from functions.chat.turn.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnRefused,
    TurnStarted,
)
from functions.chat.turn.runner import (
    BUSY,
    DATABASE,
    DATABASE_ERRORS,
    DELETED,
    FINISH_GRACE_SECONDS,
    INTERRUPTED,
    STOPPED,
    TIMEOUT,
    Failure,
    TurnRunner,
    best_effort,
    retrying,
)
from functions.chat.turn.store import ConversationBusy, Lease, StoredTurn, TurnStart, TurnStore
from todo_common import metrics
from todo_common.errors import ApiError
from todo_common.models import Message
from todo_common.tool_calls import records_of

T = TypeVar("T")
FOLLOW_POLL_SECONDS = 0.25


class TurnService:
    def __init__(self, store: TurnStore, runner: TurnRunner, settings: ChatSettings) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings

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
        first = await self._when_free(
            lambda: self.store.claim(caller.user_id, conversation_id, text, client_message_id=client_message_id),
            started,
        )
        if isinstance(first, TurnRefused):
            yield first
            return
        async for event in self._proceed(caller, first, started):
            yield event

    async def _when_free(self, claim: Callable[[], T], started: float) -> T | TurnRefused:
        """The one wait for a busy conversation: `claim` tried again, with backoff, while another turn holds the
        lease; refused when it is still busy after the wait limit, when the claim is refused meanwhile (now over the
        rate limit), or when the database cannot be reached."""
        delay = 0.05
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
            try:
                return await asyncio.to_thread(claim)
            except ConversationBusy:
                if time.monotonic() - started > self._wait_limit():
                    metrics.record_refusal("busy")
                    return TurnRefused(409, BUSY.code, BUSY.message)
            except ApiError as exc:
                _record_refusal(exc)
                return TurnRefused(exc.status, exc.code, exc.message, dict(exc.headers or {}))
            except DATABASE_ERRORS:
                return TurnRefused(503, DATABASE.code, "The database could not be reached; nothing was stored.")

    async def _proceed(self, caller: Caller, first: TurnStart | StoredTurn, started: float) -> AsyncIterator[TurnEvent]:
        if isinstance(first, TurnStart):
            async for event in self.runner.run(caller, first, started=started):
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
        async for event in self.runner.run(caller, rerun, started=started):
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
            current = await best_effort(lambda: self.store.answer(caller.user_id, answer.id), current)
        yield TurnFailed(answer.conversation_id, answer.id, DELETED.code, DELETED.message, shown_text, [])

    async def follow_conversation(self, caller: Caller, conversation_id: str) -> AsyncIterator[TurnEvent] | None:
        """The conversation's answer in progress, followed (None when no answer is being written)."""
        answer, question = await asyncio.to_thread(self.store.latest_answer, caller.user_id, conversation_id)
        if answer is None or answer.status != "streaming":
            return None
        return self.follow(caller, answer, question.id if question else "")

    # -- a held lease, for a client that stores the question itself (ChatKit) --------------------------------

    async def new_leased_conversation(self, caller: Caller) -> Lease:
        """A new, empty conversation whose lease the caller holds; 429 raises."""
        try:
            return await asyncio.to_thread(self.store.create_leased, caller.user_id)
        except ApiError as exc:
            _record_refusal(exc)
            raise

    async def take_lease(self, caller: Caller, conversation_id: str, *, counts_as_message: bool) -> Lease | None:
        """The conversation's lease, None while another turn holds it; 403/404/429 raise."""
        try:
            return await asyncio.to_thread(
                self.store.take_lease, caller.user_id, conversation_id, counts_as_message=counts_as_message
            )
        except ConversationBusy:
            return None
        except ApiError as exc:
            _record_refusal(exc)
            raise

    async def wait_for_lease(
        self, caller: Caller, conversation_id: str, *, counts_as_message: bool
    ) -> Lease | TurnRefused:
        """The lease of a busy conversation, once its turn ends (`TurnRefused` if it stays busy)."""
        return await self._when_free(
            lambda: self.store.take_lease(caller.user_id, conversation_id, counts_as_message=counts_as_message),
            time.monotonic(),
        )

    async def reply(
        self, caller: Caller, lease: Lease, *, stop: asyncio.Event, deletes_ask_first: bool
    ) -> tuple[TurnStart, AsyncIterator[TurnEvent]]:
        """The answer to the question just stored in the leased conversation; the lease's holder releases it."""
        start = await asyncio.to_thread(self.store.start_reply, lease, caller.user_id)
        return start, self.runner.run(caller, start, release=False, stop=stop, deletes_ask_first=deletes_ask_first)

    async def release(self, lease: Lease) -> None:
        await retrying(lambda: self.store.release(lease), until=time.monotonic() + FINISH_GRACE_SECONDS)

    # -- running a turn ---------------------------------------------------------------------------------------
    async def request_stop(self, caller: Caller, message_id: str) -> None:
        """Ask the turn writing `message_id` to stop (404 unless it is the caller's answer being written)."""
        if not await asyncio.to_thread(self.store.request_stop, caller.user_id, message_id):
            raise ApiError(404, "not_found", "No answer of yours is being written with this id.")

    async def check_rate(self, caller: Caller) -> None:
        """429 (with the wait) when the caller is over the message rate limit; counts nothing itself."""
        try:
            await asyncio.to_thread(self.store.check_rate, caller.user_id)
        except ApiError as exc:
            _record_refusal(exc)
            raise

    async def request_thread_stop(self, caller: Caller, conversation_id: str) -> None:
        """Ask the turn writing an answer in the caller's conversation to stop: 404 unless the conversation is the
        caller's, 409 when no answer is being written there."""
        found = await asyncio.to_thread(self.store.request_thread_stop, caller.user_id, conversation_id)
        if found is None:
            raise ApiError(404, "not_found", "You have no conversation with this id.")
        if not found:
            raise ApiError(409, "nothing_to_stop", "No answer is being written in this conversation.")

    def _wait_limit(self) -> float:
        """How long a message may wait for a busy conversation: what leaves its own turn half of the deadline."""
        return self.settings.turn_deadline_seconds / 2


def _record_refusal(refused: ApiError) -> None:
    if refused.code == "rate_limited":
        metrics.record_refusal("rate_limited")


def _final_of(answer: Message) -> TurnCompleted | TurnFailed:
    calls = records_of(answer.tool_calls)
    if answer.status == "complete":
        return TurnCompleted(answer.conversation_id, answer.id, answer.content, calls)
    known = {f.code: f for f in (TIMEOUT, DELETED, DATABASE, INTERRUPTED, STOPPED)}
    failure = known.get(answer.error_code or "", Failure(answer.error_code or "model_error", INTERRUPTED.message))
    if failure.code == "model_error":
        failure = Failure("model_error", "The assistant failed before finishing its answer.")
    return TurnFailed(answer.conversation_id, answer.id, failure.code, failure.message, answer.content, calls)
