"""The session and history Mangum handlers, fed real-shaped API Gateway HTTP API v2 events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.factories import seed_conversation
from tests.support.lambda_context import LambdaContext
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

EVENTS = Path(__file__).with_name("events")


def event(name: str, token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    data["headers"]["authorization"] = f"Bearer {token}"
    return data


@pytest.fixture
def modules(services: Services) -> Iterator[dict[str, ModuleType]]:
    from functions.history import app as history
    from functions.session import app as session

    # Lambda's process has the event loop Mangum made at import; earlier tests' asyncio.run() cleared this one's.
    asyncio.set_event_loop(asyncio.new_event_loop())
    saved = {m: m.app.state.services for m in (history, session)}
    for module in saved:
        module.app.state.services = services
    yield {"history": history, "session": session}
    for module, original in saved.items():
        module.app.state.services = original


def test_history_lists_conversations(modules: dict[str, ModuleType], database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, "user_alice", messages=2)
    context = LambdaContext(aws_request_id="11111111-2222-4333-8444-555555555555")
    result = modules["history"].handler(event("history_list_conversations.json", tokens.eddsa("user_alice")), context)

    assert result["statusCode"] == 200
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-request-id"] == context.aws_request_id
    assert [c["id"] for c in json.loads(result["body"])["items"]] == [conversation.id]


def test_session_creates_a_conversation(modules: dict[str, ModuleType], tokens: Tokens) -> None:
    result = modules["session"].handler(event("session_create.json", tokens.hs256("user_alice")), LambdaContext())
    assert result["statusCode"] == 201
    body = json.loads(result["body"])
    assert body["conversation_id"].startswith("thr_")
    assert body["chatkit_url"] == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/api/user_alice/chatkit"


def test_handlers_refuse_bad_tokens(modules: dict[str, ModuleType]) -> None:
    for module, name in (
        (modules["history"], "history_list_conversations.json"),
        (modules["session"], "session_create.json"),
    ):
        result = module.handler(event(name, "garbage"), LambdaContext())
        assert result["statusCode"] == 401
        assert json.loads(result["body"])["error"]["code"] == "unauthorized"
