"""The lease of a ChatKit request that runs a turn: taken through the turn service before any stream starts (so
403/404/429 keep their HTTP status), waited for inside the stream while another turn holds the thread, held for the
whole stream, released when it ends. The context that holds it is the one the SDK hands to `respond`."""

from __future__ import annotations

import dataclasses
import time

from chatkit.types import (
    ChatKitReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
)

from functions.chat.chatkit.context import ChatKitContext
from functions.chat.turn.events import TurnRefused
from functions.chat.turn.service import TurnService

# The requests that run a turn, and those of them that count as a message against the rate limit.
TURN_REQUESTS = (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq, ThreadsAddClientToolOutputReq)
COUNTED_REQUESTS = (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq)


class Leasing:
    def __init__(self, turns: TurnService) -> None:
        self.turns = turns

    async def take(self, request: ChatKitReq, context: ChatKitContext) -> ChatKitContext | None:
        """The context holding the request's lease: a new conversation for `threads.create`, the thread's lease
        otherwise (None while another turn holds it). 403/404/429 raise."""
        thread_id: str | None = getattr(request.params, "thread_id", None)
        if thread_id is None:
            lease = await self.turns.new_leased_conversation(context.caller)
            return dataclasses.replace(context, lease=lease, new_thread_id=lease.conversation_id)
        counted = isinstance(request, COUNTED_REQUESTS)
        taken = await self.turns.take_lease(context.caller, thread_id, counts_as_message=counted)
        return None if taken is None else dataclasses.replace(context, lease=taken)

    async def wait(self, request: ChatKitReq, context: ChatKitContext) -> ChatKitContext | TurnRefused:
        """The context holding the thread's lease once its running turn ends (`TurnRefused` if it stays busy)."""
        thread_id: str | None = getattr(request.params, "thread_id", None)
        assert thread_id is not None  # `take` waits for nothing on a new thread
        counted = isinstance(request, COUNTED_REQUESTS)
        waited = await self.turns.wait_for_lease(context.caller, thread_id, counts_as_message=counted)
        return waited if isinstance(waited, TurnRefused) else dataclasses.replace(context, lease=waited)

    async def keep(self, context: ChatKitContext) -> None:
        """Renew the request's lease for all its work (ChatKit's steps around the turn too), up to the turn's
        deadline: a retry on a long thread never lets another turn take the conversation meanwhile."""
        if context.lease is not None:
            await self.turns.keep_lease(context.lease, time.monotonic() + self.turns.settings.turn_deadline_seconds)

    async def release(self, context: ChatKitContext) -> None:
        if context.lease is not None:
            await self.turns.release(context.lease)
