"""A local stand-in for the OpenAI HTTP API, speaking the Responses API's streaming wire format (SSE).

The events are rendered by the Agents SDK's deterministic model from scripted steps and serialized exactly as the
API sends them; the client side is the real `openai` client inside the real OpenAI model of the Agents SDK."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents.model_settings import ModelSettings
from agents.models.interface import ModelTracing
from agents.testing import ScriptedModel
from openai.types.responses import Response as OpenAIResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class FakeOpenAI:
    """Each request (streamed or not) answers with the next scripted step; a request that is not streamed (a
    conversation's title) is answered after `whole_response_delay` seconds."""

    def __init__(self, steps: Sequence[Any], *, whole_response_delay: float = 0.0) -> None:
        self.model = ScriptedModel(steps)
        self.whole_response_delay = whole_response_delay
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/responses", self.responses, methods=["POST"])])

    async def responses(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sk-test-fake":
            return JSONResponse({"error": {"message": "bad key", "type": "invalid_request_error"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        if not body.get("stream"):
            return JSONResponse(await self._whole(body))
        return StreamingResponse(self._events(body), media_type="text/event-stream")

    async def _whole(self, body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(self.whole_response_delay)
        answer = await self.model.get_response(
            body.get("instructions"),
            body.get("input", []),
            ModelSettings(),
            [],
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
        response = OpenAIResponse(
            id=f"resp_fake_{len(self.requests)}",
            created_at=time.time(),
            model=str(body.get("model")),
            object="response",
            output=answer.output,
            parallel_tool_calls=False,
            tool_choice="auto",
            tools=[],
            status="completed",
        )
        return response.model_dump(mode="json", exclude_none=True)

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        events = self.model.stream_response(
            body.get("instructions"),
            body.get("input", []),
            ModelSettings(),
            [],
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
        async for event in events:
            payload = event.model_dump(mode="json", exclude_none=True)
            yield f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()
