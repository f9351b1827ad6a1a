"""The record of one tool call, as it is stored on the assistant message and shown by every function.

The turn writes it, the ChatKit view renders it as a workflow task, the history function and the plain chat answer
return it as it is: one model for all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

ToolCallStatus = Literal["running", "success", "failure"]


class ToolCallRecord(BaseModel):
    call_id: str = Field(description="The model's id of the call.")
    name: str = Field(description="The tool's name.")
    arguments: Any = Field(default=None, description="The arguments the model gave, as JSON.")
    result: Any = Field(default=None, description="The tool's structured result, or `{error: {code, message}}`.")
    status: ToolCallStatus = Field(description="`running` while it runs, then `success` or `failure`.")
    text_offset: int = Field(
        default=0, ge=0, description="How much of the answer's text came before the call (keeps the display order)."
    )

    @property
    def error_code(self) -> str | None:
        error = self.result.get("error") if isinstance(self.result, dict) else None
        return str(error.get("code")) if isinstance(error, dict) and error.get("code") else None


def records_of(stored: Sequence[Mapping[str, Any]] | None) -> list[ToolCallRecord]:
    """The records in a message's `tool_calls` column (rows written before `text_offset` existed read as 0)."""
    return [ToolCallRecord.model_validate(call) for call in stored or []]


def stored(records: list[ToolCallRecord]) -> list[dict[str, Any]]:
    return [record.model_dump(mode="json") for record in records]
