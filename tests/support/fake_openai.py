"""A local stand-in for the OpenAI HTTP API, speaking the Responses API's streaming wire format (SSE), and the audio
transcription endpoint (multipart upload in, `{"text": ...}` out).

The events are rendered by the Agents SDK's deterministic model from scripted steps and serialized exactly as the
API sends them; the client side is the real `openai` client inside the real OpenAI model of the Agents SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents.model_settings import ModelSettings
from agents.models.interface import ModelTracing
from agents.testing import ScriptedModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


class FakeOpenAI:
    def __init__(self, steps: Sequence[Any], transcript: str = "") -> None:
        self.model = ScriptedModel(steps)
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
            return JSONResponse({"error": {"message": "only streaming here"}}, status_code=400)
        return StreamingResponse(self._events(body), media_type="text/event-stream")

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
