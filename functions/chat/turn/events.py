"""The events of a chat turn, as a client of the turn service sees them, in order: `TurnStarted`, any of
`TextDelta`, `ToolStarted`, `ToolFinished`, `ThoughtDone`, and exactly one of `TurnCompleted` or `TurnFailed` at
the end (or `TurnRefused`, instead of all of them, when a waiting message could not start a turn)."""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.chat.turn.thoughts import ThoughtRecord
from todo_common.tool_calls import ToolCallRecord


@dataclass(frozen=True)
class TurnStarted:
    conversation_id: str
    user_message_id: str
    assistant_message_id: str


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    call: ToolCallRecord


@dataclass(frozen=True)
class ToolFinished:
    call: ToolCallRecord


@dataclass(frozen=True)
class ThoughtDone:
    """A reasoning summary the model finished (it streams them before its text or a tool call)."""

    thought: ThoughtRecord


@dataclass(frozen=True)
class TurnCompleted:
    conversation_id: str
    message_id: str
    text: str
    tool_calls: list[ToolCallRecord]


@dataclass(frozen=True)
class TurnFailed:
    conversation_id: str
    message_id: str
    code: str
    message: str
    partial_text: str
    tool_calls: list[ToolCallRecord]


@dataclass(frozen=True)
class TurnRefused:
    """A message that waited for a busy conversation and could not start (still busy, or now rate limited)."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageReported:
    """The model tokens the agent's run used, last of the engine's events; the turn stores it, clients never see it."""

    input_tokens: int
    output_tokens: int


AgentEvent = TextDelta | ToolStarted | ToolFinished | ThoughtDone
TurnEvent = TurnStarted | AgentEvent | TurnCompleted | TurnFailed | TurnRefused
