"""One chat turn, shared by the ChatKit endpoint and the plain chat endpoint: run the agent on the context rebuilt
from the database, translate its stream into `TurnEvent`s, and keep the assistant message in the database up to
date: partial text at bounded intervals, then `complete`, or `error` with whatever text there was."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from agents import Agent, Runner
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent, StreamEvent
from openai.types.responses import ResponseTextDeltaEvent

from functions.chat.agent import ChatContext, history_to_input, tool_call_status
from functions.chat.jsontext import parse_json_text
from functions.chat.turn_store import TurnStart, TurnStore

logger = logging.getLogger(__name__)
MAX_AGENT_TURNS = 10

AgentProvider = Callable[[ChatContext], AbstractAsyncContextManager[Agent[ChatContext]]]


@dataclass(frozen=True)
class TurnStarted:
    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    kind: Literal["started"] = "started"


@dataclass(frozen=True)
class TextDelta:
    text: str
    kind: Literal["text_delta"] = "text_delta"


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str
    arguments: Any
    kind: Literal["tool_started"] = "tool_started"


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    name: str
    arguments: Any
    result: Any
    status: Literal["success", "failure"]
    kind: Literal["tool_finished"] = "tool_finished"


@dataclass(frozen=True)
class TurnCompleted:
    conversation_id: str
    message_id: str
    text: str
    tool_calls: list[dict[str, Any]]
    kind: Literal["completed"] = "completed"


@dataclass(frozen=True)
class TurnFailed:
    conversation_id: str
    message_id: str
    code: str
    message: str
    partial_text: str
    tool_calls: list[dict[str, Any]]
    kind: Literal["failed"] = "failed"


TurnEvent = TurnStarted | TextDelta | ToolStarted | ToolFinished | TurnCompleted | TurnFailed


@dataclass
class ToolCallLog:
    """The turn's tool calls as stored on the assistant message: `{call_id, name, arguments, result, status}`."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def record(self, event: ToolStarted | ToolFinished) -> int:
        """Add or update the call the event is about; its index in `calls`."""
        index = next((i for i, call in enumerate(self.calls) if call["call_id"] == event.call_id), None)
        if index is None:
            self.calls.append(
                {
                    "call_id": event.call_id,
                    "name": event.name,
                    "arguments": event.arguments,
                    "result": None,
                    "status": "running",
                }
            )
            index = len(self.calls) - 1
        if isinstance(event, ToolFinished):
            self.calls[index].update(result=event.result, status=event.status)
        return index


@dataclass
class TurnRecorder:
    """What the turn has produced so far, written to the database at most every `flush_seconds`."""

    store: TurnStore
    message_id: str
    flush_seconds: float
    text: str = ""
    log: ToolCallLog = field(default_factory=ToolCallLog)
    _dirty: bool = False
    _flushed_at: float = field(default_factory=time.monotonic)

    def apply(self, event: TurnEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
        elif isinstance(event, ToolStarted | ToolFinished):
            self.log.record(event)
        else:
            return
        self._dirty = True

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return self.log.calls

    async def maybe_flush(self) -> None:
        if self._dirty and time.monotonic() - self._flushed_at >= self.flush_seconds:
            await self.flush()

    async def flush(self) -> None:
        self._dirty = False
        self._flushed_at = time.monotonic()
        await asyncio.to_thread(self.store.save_progress, self.message_id, self.text, list(self.tool_calls))

    async def finish(self, status: Literal["complete", "error"]) -> None:
        for call in self.tool_calls:
            if call.get("status") == "running":
                call["status"] = "failure"
        await asyncio.to_thread(
            self.store.finish, self.message_id, content=self.text, tool_calls=self.tool_calls, status=status
        )


class TurnEngine:
    def __init__(self, store: TurnStore, open_agent: AgentProvider, *, flush_seconds: float = 0.75) -> None:
        self.store = store
        self.open_agent = open_agent
        self.flush_seconds = flush_seconds

    async def run(self, start: TurnStart, context: ChatContext) -> AsyncIterator[TurnEvent]:
        """The turn's events; the last one is `TurnCompleted` or `TurnFailed`, and by then the assistant message
        is stored with its final status."""
        yield TurnStarted(start.conversation_id, start.user_message_id, start.assistant_message_id)
        recorder = TurnRecorder(self.store, start.assistant_message_id, self.flush_seconds)
        try:
            async with self.open_agent(context) as agent:
                result = Runner.run_streamed(
                    agent, history_to_input(start.context), context=context, max_turns=MAX_AGENT_TURNS
                )
                started: dict[str, ToolStarted] = {}
                async for raw in result.stream_events():
                    for event in translate(raw, started):
                        recorder.apply(event)
                        yield event
                    await recorder.maybe_flush()
        except Exception as exc:
            logger.exception("chat turn failed", extra={"conversation_id": start.conversation_id})
            await asyncio.shield(recorder.finish("error"))
            yield TurnFailed(
                start.conversation_id,
                start.assistant_message_id,
                code="model_error",
                message=f"The assistant failed before finishing its answer ({type(exc).__name__}).",
                partial_text=recorder.text,
                tool_calls=recorder.tool_calls,
            )
            return
        await asyncio.shield(recorder.finish("complete"))
        yield TurnCompleted(start.conversation_id, start.assistant_message_id, recorder.text, recorder.tool_calls)


def translate(event: StreamEvent, started: dict[str, ToolStarted]) -> list[TurnEvent]:
    """The parts of the Agents SDK stream a client sees: text deltas and each tool call's start and end
    (`started` remembers each call's name and arguments for its end)."""
    if isinstance(event, RawResponsesStreamEvent):
        if isinstance(event.data, ResponseTextDeltaEvent) and event.data.delta:
            return [TextDelta(event.data.delta)]
        return []
    if not isinstance(event, RunItemStreamEvent):
        return []
    raw = event.item.raw_item
    if event.name == "tool_called":
        name = str(_field(raw, "name") or "tool")
        call = ToolStarted(str(_field(raw, "call_id") or _field(raw, "id") or name), name, _arguments(raw))
        started[call.call_id] = call
        return [call]
    if event.name == "tool_output":
        call_id = str(_field(raw, "call_id") or "")
        output = getattr(event.item, "output", None)
        origin = started.get(call_id)
        name, arguments = (origin.name, origin.arguments) if origin else ("tool", None)
        return [ToolFinished(call_id, name, arguments, parse_json_text(output), tool_call_status(output))]
    return []


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _arguments(raw: Any) -> Any:
    return parse_json_text(_field(raw, "arguments"))
