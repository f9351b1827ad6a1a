"""One ChatKit request, from a parsed body to what the route sends: JSON, or a stream of ChatKit events.

Refusals that ChatKit would fail on later raise before any stream starts (the route answers them with their HTTP
status); a refusal the user can act on in a well-formed request (a closed thread, the rate limit, a thread that
stays busy) is a ChatKit `error` event in the stream. A request that runs a turn streams under its lease."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.types import ChatKitReq, ErrorEvent, ThreadsCustomActionReq, ThreadsSyncCustomActionReq, is_streaming_req

from functions.chat.caller import Caller
from functions.chat.chatkit.context import ChatKitContext
from functions.chat.chatkit.leasing import TURN_REQUESTS, Leasing
from functions.chat.chatkit.server import ThreadNotOpen, TodoChatKitServer
from functions.chat.tasks.rate_limit import RateLimit
from functions.chat.turn.events import TurnRefused
from todo_common.errors import ApiError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatKitStream:
    chunks: AsyncIterator[bytes]
    # Set when the client leaves before the stream's end: ChatKit's Stop, where that reaches the app (not through a
    # Lambda Function URL, where `allow_cancel` is off). None: leaving stops nothing.
    stop_on_abandon: asyncio.Event | None = None


class ChatKitEndpoint:
    def __init__(self, server: TodoChatKitServer, leasing: Leasing, actions: RateLimit, *, allow_cancel: bool) -> None:
        self.server = server
        self.leasing = leasing
        self.actions = actions
        self.allow_cancel = allow_cancel

    async def handle(self, request: ChatKitReq, raw: bytes, caller: Caller) -> bytes | ChatKitStream:
        """The answer to `request` (whose body is `raw`): JSON bytes, or a stream."""
        context = ChatKitContext(caller)
        try:
            await self.server.guard(request, context)  # 4xx before any stream starts
        except ThreadNotOpen as closed:
            return ChatKitStream(_refused(str(closed)))
        if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
            try:
                await asyncio.to_thread(self.actions.spend, caller.user_id)
            except ApiError as over:
                if isinstance(request, ThreadsSyncCustomActionReq):
                    raise  # a JSON answer: the refusal keeps its status
                return ChatKitStream(_refused(over.message))
        if await self.server.retry_target(request, context):
            raw = request.model_dump_json(by_alias=True).encode()
        if not is_streaming_req(request):
            result = await self.server.process(raw, context)
            assert isinstance(result, NonStreamingResult)
            return result.json
        if not isinstance(request, TURN_REQUESTS):
            return ChatKitStream(self._processed(raw, context))
        try:
            held = await self.leasing.take(request, context)  # 403/404 raise here
        except ApiError as refused:
            if refused.code not in ("rate_limited", "daily_budget_spent"):
                raise
            return ChatKitStream(_refused(refused.message))  # a well-formed request: the reason goes in the stream
        stop = context.stop if self.allow_cancel else None
        return ChatKitStream(self._under_lease(request, raw, context, held), stop)

    async def _under_lease(
        self, request: ChatKitReq, raw: bytes, context: ChatKitContext, held: ChatKitContext | None
    ) -> AsyncIterator[bytes]:
        """The stream of a request that runs a turn, under its lease: waited for first if the thread was busy, then
        held until the stream ends."""
        if held is None:
            waited = await self.leasing.wait(request, context)
            if isinstance(waited, TurnRefused):
                yield error_event(waited.message, allow_retry=True)
                return
            held = waited
        keeper = asyncio.create_task(self.leasing.keep(held))
        try:
            async for chunk in self._processed(raw, held, request):
                yield chunk
        finally:
            keeper.cancel()
            await asyncio.shield(self.leasing.release(held))

    async def _processed(
        self, raw: bytes, context: ChatKitContext, request: ChatKitReq | None = None
    ) -> AsyncIterator[bytes]:
        try:
            if request is not None:
                await self.server.prepare(request, context)  # under the request's lease
            result = await self.server.process(raw, context)
            assert isinstance(result, StreamingResult)
            async for chunk in result:
                yield chunk
        except ApiError as refused:  # changed since the request's checks (an attachment another thread just took)
            yield error_event(refused.message, allow_retry=True)
        except Exception:
            logger.exception("ChatKit stream failed")
            yield error_event("Something went wrong while answering; try again.", allow_retry=True)


async def _refused(message: str) -> AsyncIterator[bytes]:
    yield error_event(message, allow_retry=True)


def error_event(message: str, *, allow_retry: bool) -> bytes:
    event = ErrorEvent(code="custom", message=message, allow_retry=allow_retry)
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"
