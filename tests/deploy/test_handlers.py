"""Every function's Lambda handler, fed the sample events of `events/` (the same files `sam local invoke` uses)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infra.devtoken import DEMO_USER
from infra.events import CONVERSATION, ROUTES
from tests.support.handlers import handlers as handlers  # the fixture: every handler bound to the test database
from tests.support.handlers import seed
from tests.support.lambda_context import LambdaContext
from tests.support.tokens import Tokens
from todo_common.db import Database

EVENTS = Path(__file__).with_name("events")
EXPECTED = {"session_create": 201, "history_delete_conversation": 204}


def load(name: str, token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event["headers"]["authorization"] = f"Bearer {token}"
    return event


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_every_route_through_its_handler(
    name: str, handlers: dict[str, ModuleType], database: Database, tokens: Tokens
) -> None:
    seed(database)
    function = ROUTES[name][0]
    context = LambdaContext(aws_request_id=f"req-{name}")
    token = tokens.hs256(DEMO_USER) if function == "session" else tokens.chat(DEMO_USER)

    result = handlers[function].handler(load(name, token), context)

    assert result["statusCode"] == EXPECTED.get(name, 200), result.get("body")
    assert result["headers"]["x-request-id"] == context.aws_request_id
    if result["statusCode"] == 204:
        return
    body = base64.b64decode(result["body"]).decode() if result.get("isBase64Encoded") else result["body"]
    assert BODY_CHECKS[name](body), body


def _json(body: str) -> Any:
    return json.loads(body)


# What each sample event's answer must say (not only that it is JSON).
BODY_CHECKS: dict[str, Any] = {
    "chat_chatkit_create_thread": lambda b: '"type":"thread.created"' in b and '"type":"thread.item.done"' in b,
    "chat_chatkit_list_threads": lambda b: [t["id"] for t in _json(b)["data"]] == [CONVERSATION],
    "chat_message": lambda b: [(c["name"], c["status"]) for c in _json(b)["tool_calls"]] == [("add_task", "success")],
    "history_export_conversation": lambda b: b.startswith("# Weekend milk") and "Added milk." in b,
    "history_get_conversation": lambda b: (_json(b)["title"], _json(b)["message_count"]) == ("Weekend milk", 2),
    "history_list_conversations": lambda b: [c["id"] for c in _json(b)["items"]] == [CONVERSATION],
    "history_list_messages": lambda b: [m["content"] for m in _json(b)["items"]] == ["add milk", "Added milk."],
    "history_rename_conversation": lambda b: _json(b)["title"] == "Groceries",
    "history_search_conversations": lambda b: [c["id"] for c in _json(b)["items"]] == [CONVERSATION],
    "session_create": lambda b: _json(b)["token"] and _json(b)["conversation_id"].startswith("thr_"),
}


def test_every_route_has_a_body_check() -> None:
    assert set(BODY_CHECKS) == set(ROUTES) - {"history_delete_conversation"}


@pytest.mark.parametrize("name", ["session_create", "history_list_conversations", "chat_message"])
def test_handlers_refuse_bad_tokens(name: str, handlers: dict[str, ModuleType]) -> None:
    result = handlers[ROUTES[name][0]].handler(load(name, "garbage"), LambdaContext())
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == "unauthorized"
