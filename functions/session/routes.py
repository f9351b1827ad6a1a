"""POST /api/{user_id}/chatkit/session: trade a Better Auth token for a short-lived chat token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from functions.session.schemas import ChatSession, ModelChoice, SessionRequest
from todo_common import conversations
from todo_common.auth import mint_chat_token
from todo_common.errors import error_responses
from todo_common.web import BetterAuthUser, ServicesDep

ERRORS = error_responses(400, 401, 403, 404, 413, 422, 500, 503)
router = APIRouter(tags=["session"], responses=ERRORS)


@router.post("/api/{user_id}/chatkit/session", response_model=ChatSession, summary="Start or resume a chat session")
def create_session(
    user_id: str,
    request: Request,
    user: BetterAuthUser,
    services: ServicesDep,
    body: Annotated[SessionRequest | None, Body()] = None,
) -> JSONResponse:
    wanted = body or SessionRequest()
    conversation_id: str | None = None
    if wanted.conversation_id:
        found = services.database.read(
            lambda session: conversations.owned_conversation(session, user.user_id, wanted.conversation_id or "")
        )
        conversation_id = found.id
    elif wanted.new_conversation:
        created = services.database.write(lambda session: conversations.create_conversation(session, user.user_id))
        conversation_id = created.id

    token, expires = mint_chat_token(services.settings, user.user_id)
    base = services.settings.chat_base_url or str(request.base_url).rstrip("/")
    session = ChatSession(
        token=token,
        expires_at=datetime.fromtimestamp(expires, UTC),
        chatkit_url=f"{base}/api/{user_id}/chatkit",
        chat_url=f"{base}/api/{user_id}/chat",
        user_id=user.user_id,
        conversation_id=conversation_id,
        dictation=services.settings.dictation,
        attachments=services.settings.attachments,
        models=[
            ModelChoice(id=name, label=name, default=index == 0)
            for index, name in enumerate(services.settings.offered_models)
        ],
    )
    return JSONResponse(
        session.model_dump(mode="json", exclude_none=True),
        status_code=201 if wanted.new_conversation else 200,
        headers={"Cache-Control": "no-store"},
    )
