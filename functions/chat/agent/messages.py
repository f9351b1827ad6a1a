"""What the agent reads of a stored message: its input is rebuilt from these (`agent.history_to_input`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ContextMessage:
    """A stored message as the agent's input reads it: the few fields it needs, taken straight from the row (no
    table model, whose validation builds ORM state per row), read-only."""

    id: str
    role: str
    item_type: str
    content: str
    tool_calls: Sequence[Mapping[str, Any]]
    status: str
    error_code: str | None
    chatkit_item: Mapping[str, Any] | None
