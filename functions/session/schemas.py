"""Request and response of the session function."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from todo_common.text import StoredText


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: StoredText | None = Field(
        default=None, min_length=1, max_length=64, description="Resume this one."
    )
    new_conversation: bool = Field(default=False, description="Create a conversation now and return its id.")

    @model_validator(mode="after")
    def _one_or_the_other(self) -> SessionRequest:
        if self.conversation_id and self.new_conversation:
            raise ValueError("give either conversation_id or new_conversation, not both")
        return self


class ModelChoice(BaseModel):
    """A model ChatKit's composer may pick (`composer.models`): the chat function's allow-list."""

    id: str = Field(description="Sent as `inference_options.model`.")
    label: str
    default: bool = Field(description="The model a message without a choice runs with.")


class ChatSession(BaseModel):
    token: str = Field(description="Bearer token for the chat function; for this user only.")
    expires_at: datetime = Field(description="When the token stops working; renew before then.")
    chatkit_url: str = Field(description="Where ChatKit sends its requests.")
    chat_url: str = Field(description="The plain JSON/SSE chat endpoint.")
    user_id: str
    conversation_id: str | None = None
    dictation: bool = Field(
        default=False,
        description="Whether ChatKit's composer should offer dictation (`composer.dictation.enabled`): the chat "
        "function has a speech-to-text provider.",
    )
    attachments: bool = Field(
        default=True,
        description="Whether ChatKit's composer should offer attachments (`composer.attachments.enabled`).",
    )
    models: list[ModelChoice] = Field(
        default_factory=list,
        description="The models ChatKit's composer may offer (`composer.models`), the default first: what the chat "
        "function allows (`CHAT_MODEL`, then `CHAT_MODELS`).",
    )
