"""MCP tool calls over HTTP share a per-user rate limit (counted in the database): past it, a call is a JSON-RPC
error in words with Retry-After, and stores nothing. Real socket, both databases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agents.testing import ScriptedModel
from sqlmodel import select

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from tests.support.chat import chat_app
from tests.support.clock import early_in_a_minute
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture
def mcp_url(services: Services) -> Iterator[str]:
    app = chat_app(services, ScriptedModel([]))
    mount_mcp(app, services, dataclasses.replace(ChatSettings.from_environ({}), tool_calls_per_minute=3))
    with Server(app) as url:
        yield f"{url}/mcp"


def rpc(url: str, token: str, method: str, params: dict[str, Any], request_id: int) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return httpx.post(url, json=body, headers={**HEADERS, "Authorization": f"Bearer {token}"}, timeout=10)


def add(url: str, token: str, title: str, request_id: int) -> httpx.Response:
    return rpc(url, token, "tools/call", {"name": "add_task", "arguments": {"title": title}}, request_id)


def test_tool_calls_over_the_rate_limit_are_refused_in_words(mcp_url: str, tokens: Tokens, database: Database) -> None:
    alice = tokens.chat(ALICE)
    early_in_a_minute()  # the four calls share one minute's window
    for index in range(3):
        answer = add(mcp_url, alice, f"task {index}", index)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["isError"] is False
    refused = add(mcp_url, alice, "one too many", 99)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    error = refused.json()
    assert error["id"] == 99 and error["error"]["code"] == -32000
    assert error["error"]["message"].startswith("You can make 3 task tool calls a minute; try again in ")
    assert error["error"]["data"]["code"] == "rate_limited"
    titles = database.read(lambda s: sorted(t.title for t in s.exec(select(Task).where(Task.user_id == ALICE))))
    assert titles == ["task 0", "task 1", "task 2"]
    # Listing the tools is not a tool call, and another user has a limit of their own.
    assert rpc(mcp_url, alice, "tools/list", {}, 100).status_code == 200
    assert add(mcp_url, tokens.chat(BOB), "bob's", 1).status_code == 200
