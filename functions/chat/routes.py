"""POST /api/{user_id}/chatkit (ChatKit protocol) and POST /api/{user_id}/chat (JSON or SSE)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from chatkit.server import NonStreamingResult
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    InputTranscribeReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
    is_streaming_req,
)
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from functions.chat.agent import ChatContext
from functions.chat.detached import KEEPALIVE, detached
from functions.chat.runtime import ChatRuntime
from functions.chat.sse import KEEPALIVE_COMMENT, sse_event
from functions.chat.store import RequestContext, item_text, not_supported
from functions.chat.turn import TurnCompleted, TurnEvent, TurnFailed, TurnStarted
from functions.chat.turn_store import ConversationBusy, StoredTurn, TurnStart
from todo_common.errors import ApiError, ErrorBody
from todo_common.text import StoredText, no_nul
from todo_common.web import CurrentUser, ServicesDep

T = TypeVar("T")
ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 429, 503)}
router = APIRouter(tags=["chat"], responses=ERRORS)  # type: ignore[arg-type]
_CHATKIT_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)
_SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_SECONDS = 10.0
LEASE_WAIT_SECONDS = 30.0
REPLAY_WAIT_SECONDS = 60.0


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StoredText = Field(min_length=1, description="What the user says.")
    conversation_id: StoredText | None = Field(
        default=None, min_length=1, max_length=64, description="Omit to start one."
    )
    client_message_id: StoredText | None = Field(
        default=None, min_length=1, max_length=128, description="Makes a retry return the same turn."
    )


class ToolCallOut(BaseModel):
    call_id: str | None = None
    name: str
    arguments: Any = None
    result: Any = None
    status: str


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str
    response: str
    tool_calls: list[ToolCallOut]
    status: str = "complete"


def runtime_of(request: Request) -> ChatRuntime:
    runtime: ChatRuntime = request.app.state.chat
    return runtime


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# -- plain chat ----------------------------------------------------------------------------------------------


@router.post(
    "/api/{user_id}/chat",
    response_model=ChatResponse,
    summary="Send a message; JSON answer, or an SSE stream with Accept: text/event-stream",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat(user_id: str, body: ChatRequest, request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    runtime = runtime_of(request)
    _check_length(body.message, runtime.settings.max_message_chars)
    wants_stream = "text/event-stream" in request.headers.get("accept", "")

    start = await _start_turn(runtime, user.user_id, body)
    if isinstance(start, StoredTurn):
        return await _replay(runtime, start, wants_stream)

    context = ChatContext(user_id=user.user_id, database=services.database)
    events = _released(runtime, start.conversation_id, runtime.engine.run(start, context))
    if wants_stream:
        return StreamingResponse(_sse(events), media_type="text/event-stream", headers=_SSE_HEADERS)
    final: TurnEvent | None = None
    async for event in detached(events):
        if event is not KEEPALIVE:
            final = event  # type: ignore[assignment]
    return _final_json(final)


async def _start_turn(runtime: ChatRuntime, user_id: str, body: ChatRequest) -> TurnStart | StoredTurn:
    return await _when_free(
        lambda: runtime.turns.start(
            user_id, body.conversation_id, body.message, client_message_id=body.client_message_id
        )
    )


async def _when_free(take_lease: Callable[[], T]) -> T:
    """Run `take_lease` (in a thread) until the conversation is free: turns queue up, they never interleave."""
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    delay = 0.05
    while True:
        try:
            return await asyncio.to_thread(take_lease)
        except ConversationBusy:
            if time.monotonic() + delay > deadline:
                raise ApiError(
                    409, "conversation_busy", "Another message in this conversation is still being answered."
                ) from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def _released(
    runtime: ChatRuntime, conversation_id: str, events: AsyncIterator[TurnEvent]
) -> AsyncIterator[TurnEvent]:
    """The turn's events; the lease is released with the stored answer, or here if the turn ended otherwise."""
    finished = False
    try:
        async for event in events:
            finished = isinstance(event, (TurnCompleted, TurnFailed))
            yield event
    finally:
        if not finished:
            await asyncio.shield(asyncio.to_thread(runtime.turns.release, conversation_id))


async def _sse(events: AsyncIterator[TurnEvent]) -> AsyncIterator[bytes]:
    async for event in detached(events, KEEPALIVE_SECONDS):
        yield KEEPALIVE_COMMENT if event is KEEPALIVE else sse_event(event)  # type: ignore[arg-type]


def _final_json(final: TurnEvent | None) -> JSONResponse:
    if isinstance(final, TurnCompleted):
        payload = ChatResponse(
            conversation_id=final.conversation_id,
            message_id=final.message_id,
            response=final.text,
            tool_calls=[ToolCallOut.model_validate(c) for c in final.tool_calls],
        )
        return JSONResponse(payload.model_dump(mode="json"))
    if isinstance(final, TurnFailed):
        return JSONResponse(
            {
                "error": {
                    "code": final.code,
                    "message": final.message,
                    "conversation_id": final.conversation_id,
                    "message_id": final.message_id,
                    "partial_response": final.partial_text,
                }
            },
            status_code=502,
        )
    raise ApiError(502, "model_error", "The assistant gave no answer.")


async def _replay(runtime: ChatRuntime, stored: StoredTurn, wants_stream: bool) -> Response:
    """The turn a retried `client_message_id` already started: waited for if still running, never rerun."""
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while stored.assistant_message is not None and stored.assistant_message.status == "streaming":
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
        found = await asyncio.to_thread(
            runtime.turns.find_by_client_id, stored.user_message.user_id, stored.user_message.client_message_id or ""
        )
        stored = found or stored
    answer = stored.assistant_message
    message_id = answer.id if answer else ""
    final: TurnEvent
    if answer is not None and answer.status == "error":
        final = TurnFailed(
            stored.conversation_id,
            message_id,
            "model_error",
            "The assistant failed before finishing its answer.",
            answer.content,
            answer.tool_calls,
        )
    else:
        final = TurnCompleted(
            stored.conversation_id, message_id, answer.content if answer else "", answer.tool_calls if answer else []
        )
    if not wants_stream:
        return _final_json(final)

    async def replayed() -> AsyncIterator[bytes]:
        yield sse_event(TurnStarted(stored.conversation_id, stored.user_message.id, message_id))
        yield sse_event(final)

    return StreamingResponse(replayed(), media_type="text/event-stream", headers=_SSE_HEADERS)


def _check_length(text: str, limit: int) -> None:
    try:
        no_nul(text)
    except ValueError:
        raise ApiError(422, "validation_error", "Invalid message: it must not contain NUL characters.") from None
    if len(text) > limit:
        raise ApiError(413, "message_too_long", f"Messages are limited to {limit} characters.")


# -- ChatKit -------------------------------------------------------------------------------------------------


@router.post(
    "/api/{user_id}/chatkit",
    summary="ChatKit protocol endpoint (self-hosted ChatKit)",
    responses={200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
async def chatkit(user_id: str, request: Request, user: CurrentUser) -> Response:
    runtime = runtime_of(request)
    raw = await request.body()
    try:
        parsed = _CHATKIT_REQUEST.validate_json(raw)
    except ValidationError as exc:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
        raise ApiError(422, "invalid_chatkit_request", "The body is not a ChatKit request this server knows.") from None
    if isinstance(parsed, (AttachmentsCreateReq, AttachmentsDeleteReq)):
        raise not_supported("Attachments")
    if isinstance(parsed, InputTranscribeReq):
        raise not_supported("Dictation")
    if isinstance(parsed, ThreadsAddStructuredInputReq):
        raise not_supported("Structured input")
    if isinstance(parsed, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        _check_length(item_text(parsed.params.input), runtime.settings.max_message_chars)
        if parsed.params.input.attachments:
            raise not_supported("Attachments")

    context = RequestContext(user.user_id)
    thread_id: str | None = getattr(getattr(parsed, "params", None), "thread_id", None)
    if thread_id is not None:
        await runtime.chatkit.store.load_thread(thread_id, context)  # 403/404 before any stream starts
    if isinstance(parsed, ThreadsAddClientToolOutputReq):
        await _require_pending_client_tool_call(runtime, parsed.params.thread_id, context)

    if not is_streaming_req(parsed):
        result = await runtime.chatkit.process(raw, context)
        assert isinstance(result, NonStreamingResult)
        return Response(result.json, media_type="application/json")

    sends_message = isinstance(parsed, (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq))
    if thread_id is None:
        if sends_message:
            await asyncio.to_thread(runtime.turns.check_rate, user.user_id)
        stream = await runtime.chatkit.process(raw, context)
        return StreamingResponse(_chatkit_sse(stream), media_type="text/event-stream", headers=_SSE_HEADERS)

    await _when_free(lambda: runtime.turns.acquire(user.user_id, thread_id, count_toward_rate=sends_message))
    try:
        stream = await runtime.chatkit.process(raw, context)
    except BaseException:
        await asyncio.to_thread(runtime.turns.release, thread_id)
        raise
    return StreamingResponse(
        _chatkit_sse(_released_bytes(runtime, thread_id, stream)), media_type="text/event-stream", headers=_SSE_HEADERS
    )


async def _require_pending_client_tool_call(runtime: ChatRuntime, thread_id: str, context: RequestContext) -> None:
    """The agent has no client-side tools; a tool output only makes sense after a pending client tool call."""
    last = await runtime.chatkit.store.load_thread_items(thread_id, None, 1, "desc", context)
    pending = last.data and isinstance(last.data[0], ClientToolCallItem) and last.data[0].status == "pending"
    if not pending:
        raise ApiError(409, "no_pending_tool_call", "This thread is not waiting for a client tool's output.")


async def _released_bytes(runtime: ChatRuntime, thread_id: str, stream: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await asyncio.shield(asyncio.to_thread(runtime.turns.release, thread_id))


async def _chatkit_sse(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in detached(aiter(stream), KEEPALIVE_SECONDS):
        yield KEEPALIVE_COMMENT if chunk is KEEPALIVE else chunk  # type: ignore[misc]
