"""The plain chat endpoint's Server-Sent Events.

Events, in order: `conversation` (ids, first), then any of `text_delta`, `tool_call_started`,
`tool_call_finished`, `reasoning` (a reasoning model's summary), and at the end exactly one of `done` (the whole
answer) or `error` (with the partial text).
A message that waited for a busy conversation and could not start gets only an `error` event. Comment lines
(`: keep-alive`) arrive while nothing else does. Each `data:` is one JSON object."""

from __future__ import annotations

import json
from typing import Any

from functions.chat.turn.events import (
    TextDelta,
    ThoughtDone,
    ToolFinished,
    ToolStarted,
    TurnCompleted,
    TurnEvent,
    TurnFailed,
    TurnRefused,
    TurnStarted,
)
from todo_common.tool_calls import stored

KEEPALIVE_COMMENT = b": keep-alive\n\n"


def encode(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def sse_event(event: TurnEvent) -> bytes:
    match event:
        case TurnStarted():
            ids = {"user_message_id": event.user_message_id, "message_id": event.assistant_message_id}
            return encode("conversation", {"conversation_id": event.conversation_id, **ids})
        case TextDelta():
            return encode("text_delta", {"delta": event.text})
        case ToolStarted():
            call = event.call
            return encode(
                "tool_call_started", {"call_id": call.call_id, "name": call.name, "arguments": call.arguments}
            )
        case ToolFinished():
            call = event.call
            finished = {"call_id": call.call_id, "name": call.name, "status": call.status, "result": call.result}
            return encode("tool_call_finished", finished)
        case ThoughtDone():
            return encode("reasoning", {"text": event.thought.text})
        case TurnCompleted():
            answer = {"message_id": event.message_id, "response": event.text, "tool_calls": stored(event.tool_calls)}
            return encode("done", {"conversation_id": event.conversation_id, **answer})
        case TurnFailed():
            return encode("error", failure_body(event))
        case TurnRefused():
            return encode("error", {"code": event.code, "message": event.message})


def failure_body(event: TurnFailed) -> dict[str, Any]:
    return {
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
        "code": event.code,
        "message": event.message,
        "partial_response": event.partial_text,
        "tool_calls": stored(event.tool_calls),
    }
