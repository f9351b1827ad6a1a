"""A ChatKit client over a real socket: requests built from the SDK's own types (or raw JSON, for what the types
would refuse), answers parsed as the browser's ChatKit reads them."""

from __future__ import annotations

import json
from typing import Any

import httpx
from chatkit.types import InferenceOptions, UserMessageInput, UserMessageTextContent
from pydantic import BaseModel

from tests.support.chat import parse_sse
from tests.support.tokens import Tokens


def user_input(text: str) -> UserMessageInput:
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)], attachments=[], inference_options=InferenceOptions()
    )


class ChatKitHttp:
    def __init__(self, base: str, tokens: Tokens, user: str) -> None:
        self.base, self.tokens, self.user = base, tokens, user

    def post(self, request: BaseModel | dict[str, Any]) -> httpx.Response:
        content = request.model_dump_json() if isinstance(request, BaseModel) else json.dumps(request)
        return httpx.post(
            f"{self.base}/api/{self.user}/chatkit",
            content=content,
            headers={**self.tokens.headers(self.user), "Content-Type": "application/json"},
            timeout=60,
        )

    def stream(self, request: BaseModel | dict[str, Any]) -> list[dict[str, Any]]:
        return self.stream_events(self.post(request))

    @staticmethod
    def stream_events(response: httpx.Response) -> list[dict[str, Any]]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return [data for _, data in parse_sse(response.text.splitlines()) if data["type"] != "stream_options"]
