"""GET/PATCH/DELETE /api/{user_id}/conversations[...]: the user's chat history.

The three page reads are `async` and run their query inline, on the event loop: no thread-pool hop per request. A
Lambda container serves one request at a time, and a read is one autocommit SELECT, which never waits on a row lock
(PostgreSQL's MVCC, SQLite's WAL), so it cannot stall behind a chat turn's transaction. Writes (a rename or delete
may wait on a turn's row lock) and the streamed export keep FastAPI's thread pool."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlmodel import Session

from functions.history import export
from functions.history.caller import HistoryCaller
from functions.history.schemas import (
    ConversationPage,
    ConversationPublic,
    ConversationRename,
    MessagePage,
    SearchText,
)
from todo_common import conversations
from todo_common.errors import error_responses
from todo_common.text import StoredText
from todo_common.web import ServicesDep

ERRORS = error_responses(400, 401, 403, 404, 413, 422, 500, 503)
router = APIRouter(prefix="/api/{user_id}/conversations", tags=["history"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[StoredText | None, Query(max_length=512, description="`next_cursor` of the previous page.")]


@router.get("", response_model=ConversationPage, summary="List conversations, most recently updated first")
async def list_conversations(
    caller: HistoryCaller,
    limit: Limit = 20,
    cursor: Cursor = None,
    q: Annotated[SearchText | None, Query(description="Search titles and messages (1-200 characters).")] = None,
) -> Response:
    page = caller.database.read_core(
        lambda connection: conversations.list_conversations(
            connection, caller.user_id, limit=limit, cursor=cursor, query=q
        )
    )
    return _json(
        ConversationPage.model_validate({"items": page.items, "next_cursor": page.next_cursor}, from_attributes=True)
    )


@router.get("/{conversation_id}", response_model=ConversationPublic, summary="Get one conversation")
async def get_conversation(conversation_id: str, caller: HistoryCaller) -> Response:
    summary = caller.database.read_core(
        lambda connection: conversations.conversation_summary(connection, caller.user_id, conversation_id)
    )
    return _json(ConversationPublic.model_validate(summary))


@router.get("/{conversation_id}/messages", response_model=MessagePage, summary="List a conversation's messages")
async def list_messages(
    conversation_id: str,
    caller: HistoryCaller,
    limit: Limit = 50,
    cursor: Cursor = None,
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    page = caller.database.read_core(
        lambda connection: conversations.list_messages(
            connection, caller.user_id, conversation_id, limit=limit, cursor=cursor, order=order
        )
    )
    return _json(MessagePage.model_validate({"items": page.items, "next_cursor": page.next_cursor}))


@router.patch("/{conversation_id}", response_model=ConversationPublic, summary="Rename a conversation")
def rename_conversation(conversation_id: str, body: ConversationRename, caller: HistoryCaller) -> ConversationPublic:
    def rename(session: Session) -> conversations.ConversationSummary:
        conversations.rename_conversation(session, caller.user_id, conversation_id, body.title)
        return conversations.conversation_summary(session, caller.user_id, conversation_id)

    return ConversationPublic.model_validate(caller.database.write(rename))


@router.delete("/{conversation_id}", status_code=204, summary="Delete a conversation and all its messages")
def delete_conversation(conversation_id: str, caller: HistoryCaller, services: ServicesDep) -> Response:
    conversations.delete_conversation_and_files(caller.database, services.files, caller.user_id, conversation_id)
    return Response(status_code=204)


@router.get(
    "/{conversation_id}/export",
    summary="Download a whole conversation",
    description="Streamed a page at a time; a conversation too large for one response of the HTTP API answers 413 "
    "`export_too_large`: read it through the messages endpoint, a page at a time.",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
def export_conversation(
    conversation_id: str,
    caller: HistoryCaller,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    def look(session: Session) -> tuple[conversations.ConversationSummary, tuple[int, int]]:
        summary = conversations.conversation_summary(session, caller.user_id, conversation_id)
        return summary, conversations.stored_size(session, conversation_id)

    summary, (messages, stored_chars) = caller.database.read(look)
    export.check_exportable(export.estimated_bytes(messages, stored_chars), caller.user_id, conversation_id)
    conversation = ConversationPublic.model_validate(summary)
    write, media_type, extension = export.WRITERS[format]
    body = write(conversation, export.pages(caller.database, conversation_id))
    filename = export.download_filename(conversation, extension)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(body, media_type=media_type, headers=headers)


def _json(model: BaseModel) -> Response:
    """The page as JSON, converted once: a model returned as is would be validated again against `response_model`."""
    return Response(model.model_dump_json(), media_type="application/json")
