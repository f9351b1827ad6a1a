"""Following an answer being written, cheaply: one poll loop per answer per container, shared by its followers.

Each follower of a running answer (the follow endpoint, a retried `client_message_id`) waits for the next version
of the answer that the answer's one poll loop read; the loop starts with the first follower and is cancelled when
the last one leaves, so N followers cost one read every `poll_seconds`, and followers that went away cost none.
A user may follow at most `per_user` answers at once in a container (429 beyond). A follower is sent what the
answer has said so far, then only what is new in each version, then the answer's final event."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

from functions.chat.turn.events import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnStarted,
)
from functions.chat.turn.runner import DATABASE, DELETED, INTERRUPTED, STOPPED, TIMEOUT, Failure
from functions.chat.turn.store import TurnStore
from functions.chat.turn.types import DATABASE_ERRORS
from todo_common.errors import ApiError
from todo_common.models import Message
from todo_common.tool_calls import records_of

T = TypeVar("T")

# A follower refused for the cap is told to come back after about one poll's worth of turns ending.
RETRY_AFTER_SECONDS = 5


@dataclass(eq=False)
class _Watch:
    """One answer's poll loop and the last version of the answer it read."""

    latest: Message | None
    version: int = 0
    followers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def publish(self, answer: Message | None) -> None:
        self.latest, self.version = answer, self.version + 1
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class Followers:
    def __init__(self, store: TurnStore, *, poll_seconds: float, per_user: int) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.per_user = per_user
        self._watches: dict[tuple[str, str], _Watch] = {}
        self._following: Counter[str] = Counter()

    async def follow(self, user_id: str, answer: Message, user_message_id: str) -> AsyncIterator[TurnEvent]:
        """Re-attach to a running answer: what it has said so far, then what is read next, until it ends. A
        follower over the user's cap is refused (429) here, before any event; the returned events hold the
        follower's place until they end or are dropped."""
        self.admit(user_id)
        events = self._followed(user_id, answer, user_message_id)
        # Started, so its `finally` (which gives the place back) runs however the events are dropped.
        first = await anext(events)
        return _prepend(first, events)

    async def _followed(self, user_id: str, answer: Message, user_message_id: str) -> AsyncGenerator[TurnEvent, None]:
        try:
            yield TurnStarted(answer.conversation_id, user_message_id, answer.id)
            shown = _Shown()
            for event in shown.news(answer):
                yield event
            if answer.status != "streaming":
                return
            async for current in self.versions(user_id, answer):
                if current is None:
                    yield TurnFailed(answer.conversation_id, answer.id, DELETED.code, DELETED.message, shown.text, [])
                    return
                for event in shown.news(current):
                    yield event
        finally:
            self.leave(user_id)

    def admit(self, user_id: str) -> None:
        """Count one more follower of this user's (429 over the cap); `leave` gives the place back."""
        if self._following[user_id] >= self.per_user:
            raise ApiError(
                429,
                "too_many_followers",
                f"You can follow {self.per_user} answers at once; close another one, or try again in "
                f"{RETRY_AFTER_SECONDS} s.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self._following[user_id] += 1

    def leave(self, user_id: str) -> None:
        self._following[user_id] -= 1
        if self._following[user_id] <= 0:
            del self._following[user_id]

    def following(self, user_id: str) -> int:
        return self._following[user_id]

    def polling(self) -> int:
        """How many poll loops run now."""
        return sum(1 for watch in self._watches.values() if watch.task is not None and not watch.task.done())

    async def versions(self, user_id: str, answer: Message) -> AsyncIterator[Message | None]:
        """The versions of `answer` read after this call (None: it is gone), until one is no longer streaming."""
        key = (user_id, answer.id)
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch(answer)
            watch.task = asyncio.create_task(self._poll(key, watch))
        watch.followers += 1
        try:
            seen = watch.version
            while True:
                changed = watch.changed
                if watch.version == seen:
                    await changed.wait()
                seen = watch.version
                yield watch.latest
                if watch.latest is None or watch.latest.status != "streaming":
                    return
        finally:
            watch.followers -= 1
            if watch.followers == 0 and watch.task is not None:
                watch.task.cancel()
                self._forget(key, watch)

    async def _poll(self, key: tuple[str, str], watch: _Watch) -> None:
        try:
            while True:
                await asyncio.sleep(self.poll_seconds)
                with contextlib.suppress(*DATABASE_ERRORS):  # a blip: the next poll reads it
                    current = await asyncio.to_thread(self.store.reads.answer, *key)
                    watch.publish(current)
                    if current is None or current.status != "streaming":
                        return
        finally:
            self._forget(key, watch)

    def _forget(self, key: tuple[str, str], watch: _Watch) -> None:
        if self._watches.get(key) is watch:
            del self._watches[key]


@dataclass
class _Shown:
    """What a follower has been shown of an answer, to send only what is new in the next version."""

    text: str = ""
    calls: dict[str, str] = field(default_factory=dict)

    def news(self, current: Message) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        if current.content.startswith(self.text) and len(current.content) > len(self.text):
            events.append(TextDelta(current.content[len(self.text) :]))
            self.text = current.content
        for call in records_of(current.tool_calls):
            if call.call_id not in self.calls:
                self.calls[call.call_id] = "running"
                events.append(ToolStarted(call.model_copy(update={"status": "running", "result": None})))
            if call.status != "running" and self.calls[call.call_id] == "running":
                self.calls[call.call_id] = call.status
                events.append(ToolFinished(call))
        if current.status != "streaming":
            events.append(_final_of(current))
        return events


async def _prepend(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for item in rest:
        yield item


def _final_of(answer: Message) -> TurnCompleted | TurnFailed:
    calls = records_of(answer.tool_calls)
    if answer.status == "complete":
        return TurnCompleted(answer.conversation_id, answer.id, answer.content, calls)
    known = {f.code: f for f in (TIMEOUT, DELETED, DATABASE, INTERRUPTED, STOPPED)}
    failure = known.get(answer.error_code or "", Failure(answer.error_code or "model_error", INTERRUPTED.message))
    if failure.code == "model_error":
        failure = Failure("model_error", "The assistant failed before finishing its answer.")
    return TurnFailed(answer.conversation_id, answer.id, failure.code, failure.message, answer.content, calls)
