"""Every function's Lambda handler, fed the sample events of `events/` (the same files `sam local invoke` uses)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlmodel import Session

from infra.devtoken import DEMO_USER
from infra.events import CONVERSATION, ROUTES
from tests.support.lambda_context import LambdaContext
from tests.support.tokens import Tokens
from todo_common import conversations
from todo_common.db import Database
from todo_common.web import Services

EVENTS = Path(__file__).with_name("events")
EXPECTED = {"session_create": 201, "history_delete_conversation": 204}


@pytest.fixture
def handlers(services: Services) -> Iterator[dict[str, ModuleType]]:
    from functions.chat import app as chat
    from functions.chat.agent.providers import select_model
    from functions.chat.runtime import ChatRuntime
    from functions.history import app as history
    from functions.session import app as session

    # Lambda's process keeps the event loop Mangum made at import; earlier tests' asyncio.run() cleared this one's.
    asyncio.set_event_loop(asyncio.new_event_loop())
    modules = {"session": session, "history": history, "chat": chat}
    saved = {name: module.app.state.services for name, module in modules.items()}
    saved_chat = chat.app.state.chat
    for module in modules.values():
        module.app.state.services = services
    chat.app.state.chat = ChatRuntime.build(
        services, chat.chat_settings, select_model(chat.chat_settings), chat.task_server
    )
    yield modules
    for name, module in modules.items():
        module.app.state.services = saved[name]
    chat.app.state.chat = saved_chat


def seed(database: Database) -> None:
    def work(session: Session) -> None:
        conversation = conversations.create_conversation(
            session, DEMO_USER, title="Weekend milk", conversation_id=CONVERSATION
        )
        conversations.append_message(session, conversation, role="user", content="add milk")
        conversations.append_message(session, conversation, role="assistant", content="Added milk.")

    database.write(work)


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
