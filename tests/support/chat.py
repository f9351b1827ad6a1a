"""Building the chat function's app around a chosen model, and reading SSE streams."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from agents.models.interface import Model
from fastapi import FastAPI
from openai.types.responses import ResponseCompletedEvent, ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from functions.chat.http import uploads
from functions.chat.http.routes import body_limits, router
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server
from todo_common.web import Services, build_app


def chat_app(services: Services, model: Model, **settings: Any) -> FastAPI:
    chat_settings = dataclasses.replace(ChatSettings.from_environ({}), **settings)
    app = build_app("chat", services, [router, uploads.router], body_limits=body_limits(chat_settings))
    app.state.chat = ChatRuntime.build(services, chat_settings, model, build_task_server())
    return app


def parse_sse(lines: Iterable[str]) -> list[tuple[str, Any]]:
    """Events of an SSE body as (event, data) pairs, following the SSE rules (comments ignored)."""
    events: list[tuple[str, Any]] = []
    name, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


class PausingModel(Model):
    """Another model, streaming its events only after `pause` seconds (a model that thinks before answering)."""

    def __init__(self, inner: Model, pause: float) -> None:
        self.inner = inner
        self.pause = pause

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(self.pause)
        return await self.inner.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        await asyncio.sleep(self.pause)
        async for event in self.inner.stream_response(*args, **kwargs):
            yield event


class BreakingModel(Model):
    """Another model whose stream breaks (a provider failure) right after its `after`-th text delta."""

    def __init__(self, inner: Model, after: int) -> None:
        self.inner = inner
        self.after = after

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the model provider went away")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        deltas = 0
        async for event in self.inner.stream_response(*args, **kwargs):
            if deltas == self.after:
                await asyncio.sleep(0.1)  # a provider fails some time after its last bytes, not in the same tick
                raise ConnectionError("the model provider went away")
            if getattr(event, "type", "") == "response.output_text.delta":
                deltas += 1
            yield event


class SlowModel(Model):
    """Another model, each of whose stream events comes `delay` seconds after the last (a model that types
    slowly, so a test can act while a turn is in the middle of its answer)."""

    def __init__(self, inner: Model, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in self.inner.stream_response(*args, **kwargs):
            await asyncio.sleep(self.delay)
            yield event


class SilentModel(Model):
    """A model that never answers: it accepts the request and stays silent."""

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        await asyncio.Event().wait()
        yield None  # pragma: no cover - never reached


class UsageModel(Model):
    """Another model whose every response reports `input_tokens` and `output_tokens` used (the offline and scripted
    models report none)."""

    def __init__(self, inner: Model, input_tokens: int, output_tokens: int) -> None:
        self.inner = inner
        self.usage = ResponseUsage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            total_tokens=input_tokens + output_tokens,
            input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        )

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self.inner.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in self.inner.stream_response(*args, **kwargs):
            if isinstance(event, ResponseCompletedEvent):
                response = event.response.model_copy(update={"usage": self.usage})
                yield event.model_copy(update={"response": response})
            else:
                yield event
