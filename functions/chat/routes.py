"""POST /api/{user_id}/chat (JSON or SSE), GET /api/{user_id}/chat/{conversation_id}/stream, and
POST /api/{user_id}/chatkit (the ChatKit protocol): HTTP only. The turn service does the work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    ErrorEvent,
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
from pydantic import TypeAdapter, ValidationError

from functions.chat.caller import Caller
from functions.chat.chatkit_view import item_text
from functions.chat.detached import KEEPALIVE, detached
from functions.chat.runtime import ChatRuntime
from functions.chat.schemas import ChatRequest, ChatResponse
from functions.chat.sse import KEEPALIVE_COMMENT, failure_body, sse_event
from functions.chat.store import not_supported
from functions.chat.turn import TurnCompleted, TurnEvent, TurnFailed, TurnRefused
from todo_common.errors import ApiError, error_responses
from todo_common.text import no_nul
from todo_common.web import CurrentUser, ServicesDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["chat"], responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504))
_CHATKIT_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)
_SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_SECONDS = 10.0
# How a turn that did not complete answers as JSON.
_FAILURE_STATUS = {"timeout": 504, "database_unavailable": 503, "conversation_deleted": 409}
_TURN_REQUESTS = (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq, ThreadsAddClientToolOutputReq)
_MESSAGE_REQUESTS = (ThreadsCreateReq, ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq)


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
    caller = Caller(user.user_id, services.database)
    events = await runtime.turns.open(caller, body.conversation_id, body.message, body.client_message_id)
    if "text/event-stream" in request.headers.get("accept", ""):
        return _sse_response(events)
    final: TurnEvent | None = None
    async for event in detached(events):
        if event is not KEEPALIVE:
            final = event  # type: ignore[assignment]
    return _final_json(final)


@router.get(
    "/api/{user_id}/chat/{conversation_id}/stream",
    summary="Follow the answer being written in a conversation (SSE); 204 when none is",
    responses={200: {"content": {"text/event-stream": {}}}, 204: {"description": "No answer is being written."}},
)
async def follow(
    user_id: str, conversation_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    events = await runtime_of(request).turns.follow_conversation(
        Caller(user.user_id, services.database), conversation_id
    )
    return Response(status_code=204) if events is None else _sse_response(events)


def _sse_response(events: AsyncIterator[TurnEvent]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for event in detached(events, KEEPALIVE_SECONDS):
            yield KEEPALIVE_COMMENT if event is KEEPALIVE else sse_event(event)  # type: ignore[arg-type]

    return StreamingResponse(body(), media_type="text/event-stream", headers=_SSE_HEADERS)


def _final_json(final: TurnEvent | None) -> JSONResponse:
    if isinstance(final, TurnCompleted):
        payload = ChatResponse(
            conversation_id=final.conversation_id,
            message_id=final.message_id,
            response=final.text,
            tool_calls=final.tool_calls,
        )
        return JSONResponse(payload.model_dump(mode="json"))
    if isinstance(final, TurnFailed):
        return JSONResponse({"error": failure_body(final)}, status_code=_FAILURE_STATUS.get(final.code, 502))
    if isinstance(final, TurnRefused):
        raise ApiError(final.status, final.code, final.message, headers=final.headers or None)
    raise ApiError(502, "model_error", "The assistant gave no answer.")


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
async def chatkit(user_id: str, request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    runtime = runtime_of(request)
    raw = await request.body()
    parsed = _parse_chatkit(raw)
    if isinstance(parsed, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        _check_length(item_text(parsed.params.input), runtime.settings.max_message_chars)
    caller = Caller(user.user_id, services.database)
    await runtime.chatkit.guard(parsed, caller)  # 4xx before any stream starts

    if not is_streaming_req(parsed):
        result = await runtime.chatkit.process(raw, caller)
        assert isinstance(result, NonStreamingResult)
        return Response(result.json, media_type="application/json")
    if not isinstance(parsed, _TURN_REQUESTS):
        return _chatkit_response(_processed(runtime, raw, caller))
    thread_id: str | None = getattr(parsed.params, "thread_id", None)
    counts = isinstance(parsed, _MESSAGE_REQUESTS)
    lease = await runtime.turns.lease_for_chatkit(caller, thread_id, counts_as_message=counts)  # 403/404/429 here
    held = runtime.turns.under_lease(
        caller, lease, thread_id, lambda: _processed(runtime, raw, caller), counts_as_message=counts
    )
    return _chatkit_response(held)


async def _processed(runtime: ChatRuntime, raw: bytes, caller: Caller) -> AsyncIterator[bytes]:
    try:
        result = await runtime.chatkit.process(raw, caller)
        assert isinstance(result, StreamingResult)
        async for chunk in result:
            yield chunk
    except Exception:
        logger.exception("ChatKit stream failed")
        yield _chatkit_error("Something went wrong while answering; try again.", allow_retry=True)


def _chatkit_response(stream: AsyncIterator[bytes | TurnRefused]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for chunk in detached(stream, KEEPALIVE_SECONDS):
            if chunk is KEEPALIVE:
                yield KEEPALIVE_COMMENT
            elif isinstance(chunk, TurnRefused):
                yield _chatkit_error(chunk.message, allow_retry=True)
            else:
                yield chunk  # type: ignore[misc]

    return StreamingResponse(body(), media_type="text/event-stream", headers=_SSE_HEADERS)


def _parse_chatkit(raw: bytes) -> ChatKitReq:
    try:
        parsed = _CHATKIT_REQUEST.validate_json(raw)
    except ValidationError as exc:
        invalid = [err for err in exc.errors() if err.get("type") == "json_invalid"]
        if any("recursion limit" in str(err.get("msg")) for err in invalid):
            raise ApiError(400, "json_too_deep", "The request body is nested too deeply.") from None
        if invalid:
            raise ApiError(400, "malformed_json", "The request body is not valid JSON.") from None
        raise ApiError(422, "invalid_chatkit_request", "The body is not a ChatKit request this server knows.") from None
    if isinstance(parsed, (AttachmentsCreateReq, AttachmentsDeleteReq)):
        raise not_supported("Attachments")
    if isinstance(parsed, InputTranscribeReq):
        raise not_supported("Dictation")
    if isinstance(parsed, ThreadsAddStructuredInputReq):
        raise not_supported("Structured input")
    if isinstance(parsed, (ThreadsCreateReq, ThreadsAddUserMessageReq)) and parsed.params.input.attachments:
        raise not_supported("Attachments")
    return parsed


def _chatkit_error(message: str, *, allow_retry: bool) -> bytes:
    event = ErrorEvent(code="custom", message=message, allow_retry=allow_retry)
    return b"data: " + event.model_dump_json(by_alias=True, exclude_none=True).encode() + b"\n\n"
