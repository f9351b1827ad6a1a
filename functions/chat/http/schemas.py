"""What the plain chat endpoint takes and answers (never the table models themselves)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from todo_common.models import TaskId
from todo_common.text import StoredText
from todo_common.tool_calls import ToolCallRecord


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than spaces")
    return value


class DeleteAnswer(BaseModel):
    """The user's answer to a delete the assistant asked about (`delete_task` answered `awaiting_confirmation`)."""

    model_config = ConfigDict(extra="forbid")

    task_id: TaskId = Field(description="The task the question named.")
    decision: Literal["delete", "keep"] = Field(description="`delete` deletes the task; `keep` keeps it.")


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
    confirm_delete: DeleteAnswer | None = Field(
        default=None,
        description="Answers the delete this conversation is waiting on (a model never deletes a task on its own): "
        "stored, and the task deleted or kept, before the message is answered, so the model reads the outcome. "
        "Needs conversation_id; a question is answered once (409 already_answered, 409 no_pending_confirmation).",
    )


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str
    response: str
    tool_calls: list[ToolCallRecord]
    status: Literal["complete"] = "complete"
