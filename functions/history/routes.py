"""GET/PATCH/DELETE /api/{user_id}/conversations[...]: the user's chat history."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import Session

from functions.history.caller import HistoryServices, HistoryUser
from functions.history.export import download_filename, to_markdown
from functions.history.schemas import (
    ConversationExport,
    ConversationPage,
    ConversationPublic,
    ConversationRename,
    MessagePage,
    MessagePublic,
    SearchText,
)
from todo_common import conversations
from todo_common.errors import error_responses
from todo_common.text import StoredText

ERRORS = error_responses(400, 401, 403, 404, 413, 422, 500, 503)
router = APIRouter(prefix="/api/{user_id}/conversations", tags=["history"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (1-100).")]
Cursor = Annotated[StoredText | None, Query(max_length=512, description="`next_cursor` of the previous page.")]


@router.get("", response_model=ConversationPage, summary="List conversations, most recently updated first")
def list_conversations(
    user: HistoryUser,
    services: HistoryServices,
    limit: Limit = 20,
    cursor: Cursor = None,
    q: Annotated[SearchText | None, Query(description="Search titles and messages (1-200 characters).")] = None,
) -> Response:
    page = services.database.read(
        lambda session: conversations.list_conversations(session, user.user_id, limit=limit, cursor=cursor, query=q)
    )
    return _json(
        ConversationPage(items=[ConversationPublic.model_validate(c) for c in page.items], next_cursor=page.next_cursor)
    )


@router.get("/{conversation_id}", response_model=ConversationPublic, summary="Get one conversation")
def get_conversation(conversation_id: str, user: HistoryUser, services: HistoryServices) -> Response:
    summary = services.database.read(
        lambda session: conversations.conversation_summary(session, user.user_id, conversation_id)
    )
    return _json(ConversationPublic.model_validate(summary))


@router.get("/{conversation_id}/messages", response_model=MessagePage, summary="List a conversation's messages")
def list_messages(
    conversation_id: str,
    user: HistoryUser,
    services: HistoryServices,
    limit: Limit = 50,
    cursor: Cursor = None,
    order: Literal["asc", "desc"] = "asc",
) -> Response:
    page = services.database.read(
        lambda session: conversations.list_messages(
            session, user.user_id, conversation_id, limit=limit, cursor=cursor, order=order
        )
    )
    return _json(MessagePage.model_validate({"items": page.items, "next_cursor": page.next_cursor}))


@router.patch("/{conversation_id}", response_model=ConversationPublic, summary="Rename a conversation")
def rename_conversation(
    conversation_id: str, body: ConversationRename, user: HistoryUser, services: HistoryServices
) -> ConversationPublic:
    def rename(session: Session) -> conversations.ConversationSummary:
        conversations.rename_conversation(session, user.user_id, conversation_id, body.title)
        return conversations.conversation_summary(session, user.user_id, conversation_id)

    return ConversationPublic.model_validate(services.database.write(rename))


@router.delete("/{conversation_id}", status_code=204, summary="Delete a conversation and all its messages")
def delete_conversation(conversation_id: str, user: HistoryUser, services: HistoryServices) -> Response:
    services.database.write(lambda session: conversations.delete_conversation(session, user.user_id, conversation_id))
    return Response(status_code=204)


@router.get(
    "/{conversation_id}/export",
    summary="Download a whole conversation",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
def export_conversation(
    conversation_id: str,
    user: HistoryUser,
    services: HistoryServices,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    export = services.database.read(lambda session: _load_export(session, user.user_id, conversation_id))
    if format == "markdown":
        body, media_type, extension = to_markdown(export), "text/markdown; charset=utf-8", "md"
    else:
        body, media_type, extension = export.model_dump_json(indent=2), "application/json", "json"
    filename = download_filename(export, extension)
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _json(model: BaseModel) -> Response:
    """The page as JSON, converted once: a model returned as is would be validated again against `response_model`."""
    return Response(model.model_dump_json(), media_type="application/json")


def _load_export(session: Session, user_id: str, conversation_id: str) -> ConversationExport:
    summary = conversations.conversation_summary(session, user_id, conversation_id)
    messages = conversations.all_messages(session, conversation_id)
    return ConversationExport(
        conversation=ConversationPublic.model_validate(summary),
        messages=[MessagePublic.model_validate(m) for m in messages],
    )
