"""The plain chat endpoint's Server-Sent Events.

Events, in order: `conversation` (ids, first), then any of `text_delta`, `tool_call_started`,
`tool_call_finished`, and at the end exactly one of `done` (the whole answer) or `error` (with the partial text).
Comment lines (`: keep-alive`) arrive while a tool runs for long. Each `data:` is one JSON object."""

from __future__ import annotations

import json
from typing import Any

from functions.chat.turn import (
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnStarted,
)

KEEPALIVE_COMMENT = b": keep-alive\n\n"


def encode(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def sse_event(event: TurnEvent) -> bytes:
    match event:
        case TurnStarted():
            return encode(
                "conversation",
                {
                    "conversation_id": event.conversation_id,
                    "user_message_id": event.user_message_id,
                    "message_id": event.assistant_message_id,
                },
            )
        case TextDelta():
            return encode("text_delta", {"delta": event.text})
        case ToolStarted():
            return encode(
                "tool_call_started", {"call_id": event.call_id, "name": event.name, "arguments": event.arguments}
            )
        case ToolFinished():
            return encode(
                "tool_call_finished",
                {"call_id": event.call_id, "name": event.name, "status": event.status, "result": event.result},
            )
        case TurnCompleted():
            return encode(
                "done",
                {
                    "conversation_id": event.conversation_id,
                    "message_id": event.message_id,
                    "response": event.text,
                    "tool_calls": event.tool_calls,
                },
            )
        case TurnFailed():
            return encode(
                "error",
                {
                    "conversation_id": event.conversation_id,
                    "message_id": event.message_id,
                    "code": event.code,
                    "message": event.message,
                    "partial_response": event.partial_text,
                    "tool_calls": event.tool_calls,
                },
            )
