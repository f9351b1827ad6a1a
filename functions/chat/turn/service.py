"""The turn service: the one caller of the lease, for the plain endpoint and ChatKit alike.

It waits while another turn of the conversation runs, takes the lease, replays or re-attaches a retried
`client_message_id`, follows a running answer, and has the run loop (`turn.runner`) run the turn. See
docs/architecture.md, "The contract of a chat turn"."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from functions.chat.agent.titles import TitleWriter
from functions.chat.caller import Caller
from functions.chat.settings import ChatSettings
from functions.chat.turn.events import (
    TurnCompleted,
    TurnEvent,
    TurnRefused,
    TurnStarted,
)
from functions.chat.turn.follow import Followers
from functions.chat.turn.runner import (
    BUSY,
    DATABASE,
    FINISH_GRACE_SECONDS,
    TurnRunner,
    retrying,
)
from functions.chat.turn.stops import TurnStops
from functions.chat.turn.store import TurnStore
from functions.chat.turn.types import (
    DATABASE_ERRORS,
    ConversationBusy,
    Lease,
    StoredTurn,
    TurnLost,
    TurnStart,
    WidgetRow,
)
from todo_common import metrics
from todo_common.errors import ApiError
from todo_common.models import Message
from todo_common.tool_calls import records_of

T = TypeVar("T")
logger = logging.getLogger(__name__)
FOLLOW_POLL_SECONDS = 0.25


class TurnService:
    def __init__(self, store: TurnStore, runner: TurnRunner, settings: ChatSettings, titles: TitleWriter) -> None:
        self.store = store
        self.runner = runner
        self.settings = settings
        self.followers = Followers(store, poll_seconds=FOLLOW_POLL_SECONDS, per_user=settings.max_followers_per_user)
        self.titles = titles
        self.stops = TurnStops(store)

    # -- the plain endpoint ---------------------------------------------------------------------------------

    async def open(
        self, caller: Caller, conversation_id: str | None, text: str, client_message_id: str | None
    ) -> AsyncIterator[TurnEvent]:
        """Start a turn, or find the one a retried `client_message_id` started. Refusals known at once (403,
        404, 409 for a reused key, 429) raise `ApiError` before any event; the events follow."""
        started = time.monotonic()
        try:
            with _refusals_recorded():
                await asyncio.to_thread(self.store.leases.check_budget, caller.user_id)
                first = await asyncio.to_thread(
                    self.store.leases.claim, caller.user_id, conversation_id, text, client_message_id=client_message_id
                )
        except ConversationBusy:
            return self._after_wait(caller, conversation_id, text, client_message_id, started)
        if isinstance(first, StoredTurn) and first.answer is not None and first.answer.status == "streaming":
            return await self.followers.follow(caller.user_id, first.answer, first.user_message.id)
        return self._proceed(caller, first, started)

    async def _after_wait(
        self, caller: Caller, conversation_id: str | None, text: str, client_message_id: str | None, started: float
    ) -> AsyncIterator[TurnEvent]:
        """A message to a busy conversation waits while the other turn runs (its lease is renewed only while it
        does), then runs; a conversation still busy when too little time is left is refused."""
        first = await self._when_free(
            lambda: self.store.leases.claim(caller.user_id, conversation_id, text, client_message_id=client_message_id),
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
            try:
                followed = await self.followers.follow(caller.user_id, answer, turn.user_message.id)
            except ApiError as exc:
                yield TurnRefused(exc.status, exc.code, exc.message, dict(exc.headers or {}))
                return
            async for event in followed:
                yield event
            return
        if answer.status == "complete":
            yield TurnStarted(turn.conversation_id, turn.user_message.id, answer.id)
            yield TurnCompleted(turn.conversation_id, answer.id, answer.content, records_of(answer.tool_calls))
            return
        try:
            rerun = await asyncio.to_thread(self.store.leases.claim_rerun, caller.user_id, turn)
        except ConversationBusy:
            yield TurnRefused(409, BUSY.code, BUSY.message)
            return
        async for event in self.runner.run(caller, rerun, started=started):
            yield event

    async def follow_conversation(self, caller: Caller, conversation_id: str) -> AsyncIterator[TurnEvent] | None:
        """The conversation's answer in progress, followed (None when no answer is being written)."""
        answer, question = await asyncio.to_thread(self.store.reads.latest_answer, caller.user_id, conversation_id)
        if answer is None or answer.status != "streaming":
            return None
        return await self.followers.follow(caller.user_id, answer, question.id if question else "")

    # -- a held lease, for a client that stores the question itself (ChatKit) --------------------------------

    async def new_leased_conversation(self, caller: Caller) -> Lease:
        """A new, empty conversation whose lease the caller holds; 429 raises."""
        with _refusals_recorded():
            await asyncio.to_thread(self.store.leases.check_budget, caller.user_id)
            return await asyncio.to_thread(self.store.leases.create_leased, caller.user_id)

    async def take_lease(self, caller: Caller, conversation_id: str, *, counts_as_message: bool) -> Lease | None:
        """The conversation's lease, None while another turn holds it; 403/404/429 raise."""
        try:
            with _refusals_recorded():
                if counts_as_message:
                    await asyncio.to_thread(self.store.leases.check_budget, caller.user_id)
                return await asyncio.to_thread(
                    self.store.leases.take_lease, caller.user_id, conversation_id, counts_as_message=counts_as_message
                )
        except ConversationBusy:
            return None

    async def wait_for_lease(
        self, caller: Caller, conversation_id: str, *, counts_as_message: bool
    ) -> Lease | TurnRefused:
        """The lease of a busy conversation, once its turn ends (`TurnRefused` if it stays busy)."""
        return await self._when_free(
            lambda: self.store.leases.take_lease(caller.user_id, conversation_id, counts_as_message=counts_as_message),
            time.monotonic(),
        )

    async def reply(
        self, caller: Caller, lease: Lease, *, stop: asyncio.Event
    ) -> tuple[TurnStart, AsyncIterator[TurnEvent]]:
        """The answer to the question just stored in the leased conversation; the lease's holder releases it."""
        start = await asyncio.to_thread(self.store.start_reply, lease, caller.user_id)
        return start, self.runner.run(caller, start, release=False, stop=stop)

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
        await retrying(lambda: self.store.leases.release(lease), until=time.monotonic() + FINISH_GRACE_SECONDS)

    # -- running a turn ---------------------------------------------------------------------------------------
    async def keep_lease(self, lease: Lease, until: float) -> None:
        """Renew a lease held for a whole request (ChatKit's own steps before and after the turn too, not only the
        turn's) up to `until`; it stops when the lease is found lost. Run as a task, cancelled by the holder."""
        every = self.settings.lease_seconds / 3
        while time.monotonic() + every < until:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self.store.leases.renew, lease)
            except TurnLost:
                return
            except DATABASE_ERRORS:
                logger.warning("the lease could not be renewed; trying again", exc_info=True)

    async def drop_items_after(self, caller: Caller, lease: Lease, message_id: str) -> None:
        """A retry of the user's message `message_id`: what came after it goes, in one statement, under `lease`."""
        await asyncio.to_thread(self.store.drop_items_after, lease, caller.user_id, message_id)

    async def check_rate(self, caller: Caller) -> None:
        """429 (with the wait) when the caller is over the message rate limit; counts nothing itself."""
        with _refusals_recorded():
            await asyncio.to_thread(self.store.leases.check_rate, caller.user_id)

    async def add_widgets(self, caller: Caller, conversation_id: str, widgets: Sequence[WidgetRow]) -> list[Message]:
        """Store the widgets a turn shows, after its answer (an id already stored is skipped); their rows."""
        return await asyncio.to_thread(self.store.items.add_widgets, caller.user_id, conversation_id, widgets)

    def _wait_limit(self) -> float:
        """How long a message may wait for a busy conversation: what leaves its own turn half of the deadline."""
        return self.settings.turn_deadline_seconds / 2


@contextmanager
def _refusals_recorded() -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        _record_refusal(exc)
        raise


def _record_refusal(refused: ApiError) -> None:
    if refused.code == "rate_limited":
        metrics.record_refusal("rate_limited")
