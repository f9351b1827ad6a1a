"""What the history function puts on the wire (never the table models themselves)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from todo_common.models import TITLE_MAX
from todo_common.text import no_nul, one_line
from todo_common.tool_calls import ToolCallRecord


def searchable(value: str) -> str:
    """A search needs something to look for: `q=` or `q=%20%20` is refused in words, not as a length rule."""
    if not value.strip():
        raise PydanticCustomError(
            "search_empty", "a search needs at least one character other than spaces (leave out q to list everything)"
        )
    return value


SearchText = Annotated[str, StringConstraints(max_length=200), AfterValidator(no_nul), AfterValidator(searchable)]


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int
    preview: str | None = Field(description="A short preview of the last message.")


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCallRecord]
    status: Literal["streaming", "complete", "error"]
    error_code: str | None = Field(
        default=None, description="Why an answer ended unfinished (`status` error), e.g. `model_error`, `interrupted`."
    )
    client_message_id: str | None = Field(
        default=None, description="The id the client sent with a user message; a retry sends it again."
    )
    created_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MessagePage(BaseModel):
    items: list[MessagePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _one_line(value: object) -> object:
    """A title cleaned before its length is checked, so the limits speak of characters ("at most 200")."""
    return one_line(value) if isinstance(value, str) else value


class ConversationRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One line of visible text (controls become spaces, bidi overrides go), then 1-200 characters.
    title: Annotated[Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX)], BeforeValidator(_one_line)]
