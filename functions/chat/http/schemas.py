"""What the plain chat endpoint takes and answers (never the table models themselves)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from todo_common.text import StoredText
from todo_common.tool_calls import ToolCallRecord


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than spaces")
    return value


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[StoredText, AfterValidator(_not_blank)] = Field(min_length=1, description="What the user says.")
    conversation_id: StoredText | None = Field(
        default=None, min_length=1, max_length=64, description="Omit to start one."
    )
    client_message_id: StoredText | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="An idempotency key: a retry with the same key and message returns (or resumes) the same turn; "
        "the same key with another message is refused with 409 idempotency_key_reused.",
    )


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str
    response: str
    tool_calls: list[ToolCallRecord]
    status: Literal["complete"] = "complete"
