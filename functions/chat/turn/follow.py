"""Following an answer being written, cheaply: one poll loop per answer per container, shared by its followers.

Each follower of a running answer (the follow endpoint, a retried `client_message_id`) waits for the next version
of the answer that the answer's one poll loop read; the loop starts with the first follower and is cancelled when
the last one leaves, so N followers cost one read every `poll_seconds`, and followers that went away cost none.
A user may follow at most `per_user` answers at once in a container (429 beyond)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from functions.chat.turn.store import DATABASE_ERRORS, TurnStore
from todo_common.errors import ApiError
from todo_common.models import Message

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
                    current = await asyncio.to_thread(self.store.answer, *key)
                    watch.publish(current)
                    if current is None or current.status != "streaming":
                        return
        finally:
            self._forget(key, watch)

    def _forget(self, key: tuple[str, str], watch: _Watch) -> None:
        if self._watches.get(key) is watch:
            del self._watches[key]
