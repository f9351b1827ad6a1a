"""POST /api/{user_id}/chat (JSON or SSE), GET /api/{user_id}/chat/{conversation_id}/stream, and
POST /api/{user_id}/chatkit (the ChatKit protocol): HTTP only. The turn service does the work."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated

from chatkit.types import (
    ChatKitReq,
    InputTranscribeReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    UserMessageInput,
    UserMessageTagContent,
)
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError

from functions.chat.caller import Caller
from functions.chat.chatkit import task_actions
from functions.chat.chatkit.endpoint import ChatKitStream
from functions.chat.chatkit.server import clamp_page_limit
from functions.chat.chatkit.store import not_supported
from functions.chat.chatkit.view import item_text
from functions.chat.http.detached import Keepalive, detached, detached_batches
from functions.chat.http.schemas import ChatRequest, ChatResponse
from functions.chat.http.sse import KEEPALIVE_COMMENT, failure_body, sse_event
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.tasks import operations as tasks
from functions.chat.tasks.operations import TaskSearchPage
from functions.chat.turn.events import TurnCompleted, TurnEvent, TurnFailed, TurnRefused
from functions.chat.turn.service import TurnService
from todo_common.errors import ApiError, error_responses
from todo_common.files.local import ROUTE
from todo_common.models import INTEGER_MAX, TaskId
from todo_common.pagination import invalid_cursor, is_position
from todo_common.text import StoredText, no_nul
from todo_common.web import CurrentUser, ServicesDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["chat"], responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504))
_CHATKIT_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)
_TASK_ID = TypeAdapter[int](TaskId)
_DIGITS = re.compile(r"[1-9][0-9]{0,9}")
_SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
KEEPALIVE_SECONDS = 10.0
# How a turn that did not complete answers as JSON.
_FAILURE_STATUS = {"timeout": 504, "database_unavailable": 503, "conversation_deleted": 409}


def body_limits(settings: ChatSettings) -> dict[str, int | None]:
    """The routes whose bodies may exceed the app's limit: ChatKit's, for dictation's audio (its route then holds
    every other request type to the app's limit), and the local store's uploads, which check their signed link first
    and then read no more than the size it was signed for (None: the route bounds its own body)."""
    return {r"/api/[^/]+/chatkit": settings.transcribe_max_bytes, rf"{ROUTE}/.+": None}


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
    if body.confirm_delete is not None:
        if body.conversation_id is None:
            raise ApiError(
                422, "conversation_required", "confirm_delete answers a question of a conversation: give its id."
            )
        answer = body.confirm_delete
        await task_actions.answer_delete_question(
            caller, body.conversation_id, answer.task_id, answer.decision == "delete"
        )
    events = _asking_first(
        caller,
        runtime.turns,
        await runtime.turns.open(caller, body.conversation_id, body.message, body.client_message_id),
    )
    if "text/event-stream" in request.headers.get("accept", ""):
        return _sse_response(events)
    final: TurnEvent | None = None
    async for event in detached(events):
        if not isinstance(event, Keepalive):
            final = event
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
    # A follower that goes away stops following: its client is the only one its events are for.
    return Response(status_code=204) if events is None else _sse_response(events, cancel_when_abandoned=True)


@router.post(
    "/api/{user_id}/chat/messages/{message_id}/stop",
    status_code=202,
    summary="Stop the answer being written (a dropped connection does not stop it; this does)",
)
async def stop(user_id: str, message_id: str, request: Request, user: CurrentUser, services: ServicesDep) -> Response:
    await runtime_of(request).turns.stops.request_stop(Caller(user.user_id, services.database), message_id)
    return Response(status_code=202)


async def _asking_first(
    caller: Caller, turns: TurnService, events: AsyncIterator[TurnEvent]
) -> AsyncIterator[TurnEvent]:
    """A plain turn's deletes that wait for the user: their questions are stored when the turn ends, for
    `confirm_delete` to answer."""
    async for event in events:
        if isinstance(event, (TurnCompleted, TurnFailed)):
            await task_actions.store_delete_questions(
                caller, turns, event.conversation_id, event.message_id, event.tool_calls
            )
        yield event


@router.post(
    "/api/{user_id}/chatkit/threads/{thread_id}/stop",
    status_code=202,
    summary="Stop the answer being written in a ChatKit thread (what a relayed abort of ChatKit's stream calls)",
)
async def stop_thread(
    user_id: str, thread_id: str, request: Request, user: CurrentUser, services: ServicesDep
) -> Response:
    await runtime_of(request).turns.stops.request_thread_stop(Caller(user.user_id, services.database), thread_id)
    return Response(status_code=202)


def _sse_response(events: AsyncIterator[TurnEvent], *, cancel_when_abandoned: bool = False) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for batch in detached_batches(events, KEEPALIVE_SECONDS, cancel_when_abandoned=cancel_when_abandoned):
            yield KEEPALIVE_COMMENT if isinstance(batch, Keepalive) else b"".join(map(sse_event, batch))

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


def _check_mentions(message: UserMessageInput) -> None:
    """A tagged task reaches the model by its id: the tag's `data.task_id` must be one the task column can hold, as
    a JSON integer or as the digits ChatKit's entity data carries (its `data` is a map of strings)."""
    for part in message.content:
        if isinstance(part, UserMessageTagContent):
            task_id = part.data.get("task_id")
            if isinstance(task_id, str) and _DIGITS.fullmatch(task_id):
                task_id = int(task_id)
            try:
                _TASK_ID.validate_python(task_id)
            except ValidationError:
                raise ApiError(
                    422,
                    "invalid_mention",
                    f"An @-mention of a task needs data.task_id: a whole number from 1 to {INTEGER_MAX}.",
                ) from None


# -- task search (the composer's @-mentions) -------------------------------------------------------------------


@router.get(
    "/api/{user_id}/tasks/search",
    response_model=TaskSearchPage,
    summary="Search the user's tasks by title, for @-mentions in the composer",
)
async def search_tasks(
    user_id: str,
    user: CurrentUser,
    services: ServicesDep,
    q: Annotated[StoredText, Query(max_length=200, description="Text the title contains (empty: every task).")] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    cursor: Annotated[int | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> TaskSearchPage:
    if cursor is not None and not is_position(cursor):
        raise invalid_cursor()
    caller = Caller(user.user_id, services.database)
    return await asyncio.to_thread(tasks.search_tasks, caller, q.strip(), limit=limit, after=cursor)


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
    limit = services.settings.max_request_bytes
    if len(raw) > limit and not isinstance(parsed, InputTranscribeReq):  # only dictation has the larger limit
        raise ApiError(413, "payload_too_large", f"The request body is larger than {limit} bytes.")
    if clamp_page_limit(parsed):
        raw = parsed.model_dump_json(by_alias=True).encode()
    if isinstance(parsed, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
        _check_length(item_text(parsed.params.input), runtime.settings.max_message_chars)
        _check_mentions(parsed.params.input)
    answer = await runtime.chatkit.handle(parsed, raw, Caller(user.user_id, services.database))
    if isinstance(answer, bytes):
        return Response(answer, media_type="application/json")
    return _chatkit_response(answer)


def _chatkit_response(stream: ChatKitStream) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for batch in detached_batches(stream.chunks, KEEPALIVE_SECONDS, stream.stop_on_abandon):
            yield KEEPALIVE_COMMENT if isinstance(batch, Keepalive) else b"".join(batch)

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
    if isinstance(parsed, ThreadsAddStructuredInputReq):
        raise not_supported("Structured input")
    return parsed
