"""A local stand-in for the OpenAI HTTP API, speaking the Responses API's streaming wire format (SSE), and the audio
transcription endpoint (multipart upload in, `{"text": ...}` out).

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
from agents.testing import ModelStep, ScriptedModel
from openai.types.responses import Response as OpenAIResponse
from openai.types.responses import ResponseReasoningSummaryTextDeltaEvent, ResponseReasoningSummaryTextDoneEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from functions.chat.agent.offline_model import render_stream


class FakeOpenAI:
    """Each request (streamed or not) answers with the next scripted step; a request that is not streamed (a
    conversation's title) is answered after `whole_response_delay` seconds. A transcription answers `transcript`."""

    def __init__(self, steps: Sequence[Any], *, whole_response_delay: float = 0.0, transcript: str = "") -> None:
        self.model = ScriptedModel(steps)
        self.whole_response_delay = whole_response_delay
        self.requests: list[dict[str, Any]] = []
        self.transcript = transcript
        self.transcriptions: list[dict[str, Any]] = []  # model, file name, content type and size of each upload
        self.app = Starlette(
            routes=[
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/audio/transcriptions", self.transcriptions_endpoint, methods=["POST"]),
            ]
        )

    async def transcriptions_endpoint(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer sk-test-fake":
            return JSONResponse({"error": {"message": "bad key", "type": "invalid_request_error"}}, status_code=401)
        form = await request.form()
        upload = form.get("file")
        if isinstance(upload, str) or upload is None:
            return JSONResponse({"error": {"message": "file is required"}}, status_code=400)
        data = await upload.read()
        self.transcriptions.append(
            {"model": form.get("model"), "filename": upload.filename, "type": upload.content_type, "size": len(data)}
        )
        return JSONResponse({"text": self.transcript})

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


def reasoning_step(summaries: Sequence[str], output: Sequence[Any]) -> ModelStep:
    """A scripted step whose stream starts with a reasoning model's summaries (a summary text's deltas and its
    done event each), then streams `output` as a Responses model does."""
    rendered = list(render_stream(list(output)))
    reasoning: list[Any] = []
    for index, summary in enumerate(summaries):
        common = {"item_id": "rs_fake", "output_index": 0, "summary_index": index, "sequence_number": 0}
        half = len(summary) // 2
        reasoning += [
            ResponseReasoningSummaryTextDeltaEvent(
                type="response.reasoning_summary_text.delta", delta=summary[:half], **common
            ),
            ResponseReasoningSummaryTextDeltaEvent(
                type="response.reasoning_summary_text.delta", delta=summary[half:], **common
            ),
            ResponseReasoningSummaryTextDoneEvent(type="response.reasoning_summary_text.done", text=summary, **common),
        ]
    events = [*rendered[:2], *reasoning, *rendered[2:]]
    numbered = [event.model_copy(update={"sequence_number": number}) for number, event in enumerate(events)]
    return ModelStep.stream(numbered, output=list(output))
