"""A user's Stop: of an answer by its id (the plain endpoint), or of whatever answer is being written in a thread
(ChatKit's Stop relayed behind a Function URL). The request is stored on the answer; the turn that writes it sees
it within a poll and ends it as `stopped`."""

from __future__ import annotations

import asyncio
import time

from functions.chat.caller import Caller
from functions.chat.turn.runner import STOP_POLL_SECONDS
from functions.chat.turn.store import TurnStore
from todo_common.errors import ApiError

# How long a stop waits for the turn to end its answer: a running turn sees the request within a poll, so one that
# has not answered after this is not running (its process died and its lease has not run out yet).
STOP_ANSWER_SECONDS = 5.0


class TurnStops:
    def __init__(self, store: TurnStore) -> None:
        self.store = store

    async def request_stop(self, caller: Caller, message_id: str) -> None:
        """Stop the turn writing `message_id` and wait until its answer has ended: 404 unless it is the caller's
        answer being written under a live lease, 409 when no turn takes the request (a turn that died)."""
        if not await asyncio.to_thread(self.store.request_stop, caller.user_id, message_id):
            raise ApiError(404, "not_found", "No answer of yours is being written with this id.")
        give_up_at = time.monotonic() + STOP_ANSWER_SECONDS
        while time.monotonic() < give_up_at:
            await asyncio.sleep(STOP_POLL_SECONDS / 4)
            answer = await asyncio.to_thread(self.store.reads.answer, caller.user_id, message_id)
            if answer is None or answer.status != "streaming":
                return
        raise ApiError(
            409,
            "turn_not_responding",
            "This answer is not being written any more: its turn stopped responding, and the answer will show as "
            "interrupted, with what it said so far, once that turn's lease runs out.",
        )

    async def request_thread_stop(self, caller: Caller, conversation_id: str) -> None:
        """Ask the turn writing an answer in the caller's conversation to stop: 404 unless the conversation is the
        caller's, 409 when no answer is being written there."""
        found = await asyncio.to_thread(self.store.request_thread_stop, caller.user_id, conversation_id)
        if found is None:
            raise ApiError(404, "not_found", "You have no conversation with this id.")
        if not found:
            raise ApiError(409, "nothing_to_stop", "No answer is being written in this conversation.")
