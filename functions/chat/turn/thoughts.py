"""The reasoning summaries a model streams for an answer: what each said and where it came among the answer's
tool calls and text, so ChatKit's workflow shows them in the same place live and after a reload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

MAX_THOUGHTS = 50  # an answer keeps at most this many summaries
MAX_THOUGHT_CHARS = 4000  # and at most this much of each


class ThoughtRecord(BaseModel):
    text: str
    step: int = Field(ge=0, description="How many of the answer's tool calls had started before it.")
    text_offset: int = Field(default=0, ge=0, description="How much of the answer's text came before it.")


def thoughts_of(stored: Sequence[Mapping[str, Any]] | None) -> list[ThoughtRecord]:
    return [ThoughtRecord.model_validate(thought) for thought in stored or []]


def stored_thoughts(thoughts: Sequence[ThoughtRecord]) -> list[dict[str, Any]]:
    return [thought.model_dump(mode="json") for thought in thoughts[:MAX_THOUGHTS]]
