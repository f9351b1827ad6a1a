"""The engine of a chat turn: run the agent on the rebuilt context and translate the Agents SDK stream into the
turn's events (`turn.events`). It knows no HTTP, no ChatKit and no database: the turn service records what it
yields. A composer's options, stored with the user's message, shape the run: a forced first tool, a picked model."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner
from agents.models.interface import Model
from agents.stream_events import RawResponsesStreamEvent, RunItemStreamEvent
from openai.types.responses import ResponseReasoningSummaryTextDoneEvent, ResponseTextDeltaEvent

from functions.chat.agent.agent import AgentRun, history_to_input
from functions.chat.agent.composer import TurnOptions, stored_options
from functions.chat.agent.messages import ContextMessage
from functions.chat.attachments.content import InputPart, attached_parts, attachments_of
from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.caller import Caller
from functions.chat.turn.events import AgentEvent, TextDelta, ThoughtDone, ToolFinished, ToolStarted, UsageReported
from functions.chat.turn.thoughts import MAX_THOUGHT_CHARS, MAX_THOUGHTS, ThoughtRecord
from todo_common.files import FileStore
from todo_common.tool_calls import ToolCallRecord

MAX_AGENT_TURNS = 10


@dataclass(frozen=True)
class AttachedFiles:
    """Where the files messages carry are read, and their limits."""

    store: FileStore
    policy: AttachmentPolicy


class TurnEngine:
    def __init__(
        self,
        agent: Agent[AgentRun],
        *,
        max_context_chars: int,
        models: Mapping[str, Model] | None = None,
        files: AttachedFiles | None = None,
    ) -> None:
        self.agent = agent
        self.max_context_chars = max_context_chars
        self.files = files  # where the files the messages carry are read from; None: none are shown
        self.models = dict(models or {})  # the allow-listed models a composer may pick, besides the agent's own
        # One for every run: without it, each run makes a RunConfig of its own, whose model provider (unused: the
        # agent has its model) it then closes in two more tasks after the run.
        self.run_config = RunConfig()

    async def run(self, context: Sequence[ContextMessage], caller: Caller) -> AsyncIterator[AgentEvent | UsageReported]:
        """The agent's answer to the last message of `context`, as it streams, then the tokens it used. Raises what
        the model raises."""
        run = AgentRun(caller)
        attached = await self._attached(context)
        result = Runner.run_streamed(
            self.agent,
            history_to_input(context, self.max_context_chars, attached),
            context=run,
            max_turns=MAX_AGENT_TURNS,
            run_config=self._run_config(stored_options(context[-1].chatkit_item) if context else TurnOptions()),
        )
        translator = _Translator(run)
        async for raw in result.stream_events():
            for event in translator.translate(raw):
                yield event
        usage = result.context_wrapper.usage
        yield UsageReported(usage.input_tokens, usage.output_tokens)

    async def _attached(self, context: Sequence[ContextMessage]) -> dict[str, list[InputPart]]:
        """The input parts of the files the context's messages carry (read only when some message carries one)."""
        if self.files is None or not any(attachments_of(message) for message in context):
            return {}
        return await asyncio.to_thread(attached_parts, self.files.store, self.files.policy, context)

    def _run_config(self, options: TurnOptions) -> RunConfig:
        """The run as the composer asked: its tool called first, its model (one of `models`) answering."""
        model = self.models.get(options.model) if options.model else None
        if options.tool is None and model is None:
            return self.run_config
        settings = ModelSettings(tool_choice=options.tool.tool) if options.tool else None
        return RunConfig(model=model, model_settings=settings)


@dataclass
class _Translator:
    """The parts of the Agents SDK stream a client sees: text deltas, each tool call's start and end, and each
    reasoning summary once it is done."""

    run: AgentRun
    text_length: int = 0
    started: dict[str, ToolCallRecord] = field(default_factory=dict)
    thoughts: int = 0

    def translate(self, event: Any) -> list[AgentEvent]:
        if isinstance(event, RawResponsesStreamEvent):
            if isinstance(event.data, ResponseTextDeltaEvent) and event.data.delta:
                self.text_length += len(event.data.delta)
                return [TextDelta(event.data.delta)]
            if isinstance(event.data, ResponseReasoningSummaryTextDoneEvent) and event.data.text.strip():
                return self._thought(event.data.text)
            return []
        if not isinstance(event, RunItemStreamEvent):
            return []
        raw = event.item.raw_item
        if event.name == "tool_called":
            return [ToolStarted(self._started(raw))]
        if event.name == "tool_output":
            return [
                ToolFinished(self._finished(str(_field(raw, "call_id") or ""), getattr(event.item, "output", None)))
            ]
        return []

    def _thought(self, text: str) -> list[AgentEvent]:
        """A finished summary, where it came; an answer shows (and keeps) at most `MAX_THOUGHTS`."""
        if self.thoughts == MAX_THOUGHTS:
            return []
        self.thoughts += 1
        clipped = text.strip()[:MAX_THOUGHT_CHARS]
        return [ThoughtDone(ThoughtRecord(text=clipped, step=len(self.started), text_offset=self.text_length))]

    def _started(self, raw: Any) -> ToolCallRecord:
        name = str(_field(raw, "name") or "tool")
        call_id = str(_field(raw, "call_id") or _field(raw, "id") or name)
        call = ToolCallRecord(
            call_id=call_id,
            name=name,
            arguments=_arguments(_field(raw, "arguments")),
            status="running",
            text_offset=self.text_length,
        )
        self.started[call_id] = call
        return call

    def _finished(self, call_id: str, output: Any) -> ToolCallRecord:
        origin = self.started.get(call_id) or ToolCallRecord(call_id=call_id, name="tool", status="running")
        outcome = self.run.tool_results.get(call_id)
        if outcome is None:  # the SDK answered for the tool (an unknown tool, arguments it could not read)
            error = {"error": {"code": "tool_error", "message": str(output)}}
            return origin.model_copy(update={"result": error, "status": "failure"})
        return origin.model_copy(update={"result": outcome.result, "status": outcome.status})


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
