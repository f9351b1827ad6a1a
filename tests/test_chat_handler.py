"""The chat function's Mangum handler, fed real-shaped Function URL and HTTP API v2 events."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.lambda_context import LambdaContext
from tests.support.tokens import Tokens
from todo_common.web import Services

EVENTS = Path(__file__).with_name("events")


@pytest.fixture
def chat_module(services: Services) -> Iterator[Any]:
    from functions.chat import app as module
    from functions.chat.models import select_model
    from functions.chat.runtime import ChatRuntime

    # Lambda's process has the event loop Mangum made at import; earlier tests' asyncio.run() cleared this one's.
    asyncio.set_event_loop(asyncio.new_event_loop())
    saved = (module.app.state.services, module.app.state.chat)
    module.app.state.services = services
    module.app.state.chat = ChatRuntime.build(services, module.chat_settings, select_model(module.chat_settings))
    yield module
    module.app.state.services, module.app.state.chat = saved


def event(name: str, token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    data["headers"]["authorization"] = f"Bearer {token}"
    return data


def test_function_url_event_runs_a_turn_with_the_offline_model(chat_module: Any, tokens: Tokens) -> None:
    result = chat_module.handler(event("chat_function_url.json", tokens.chat("user_alice")), LambdaContext())

    assert result["statusCode"] == 200
    body = json.loads(base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"])
    assert body["tool_calls"][0]["name"] == "add_task"
    assert body["tool_calls"][0]["status"] == "success"
    assert "buy milk" in body["response"]
    assert result["headers"]["x-request-id"] == LambdaContext.aws_request_id


def test_http_api_event_serves_a_chatkit_request(chat_module: Any, tokens: Tokens) -> None:
    result = chat_module.handler(event("chat_http_api_chatkit.json", tokens.eddsa("user_alice")), LambdaContext())

    assert result["statusCode"] == 200
    assert json.loads(result["body"])["data"] == []


def test_handler_refuses_a_missing_token(chat_module: Any) -> None:
    data = event("chat_function_url.json", "x")
    del data["headers"]["authorization"]
    result = chat_module.handler(data, LambdaContext())
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == "unauthorized"
