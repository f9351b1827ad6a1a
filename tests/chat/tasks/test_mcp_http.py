"""The task tools over MCP streamable HTTP, driven by the official `mcp` client over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from agents.testing import ScriptedModel
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from tests.support.chat import chat_app
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.web import Services

ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def mcp_url(services: Services) -> Iterator[str]:
    app = chat_app(services, ScriptedModel([]))
    mount_mcp(app, services, ChatSettings.from_environ({}))
    with Server(app) as url:
        yield f"{url}/mcp"


async def session_calls(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http,
        streamable_http_client(url, http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        names = [tool.name for tool in (await session.list_tools()).tools]
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return names, results


def test_any_mcp_client_manages_the_users_tasks(mcp_url: str, tokens: Tokens) -> None:
    names, results = asyncio.run(
        session_calls(
            mcp_url,
            tokens.eddsa(ALICE),
            [
                ("add_task", {"title": "buy milk"}),
                ("list_tasks", {}),
                ("complete_task", {"task_id": 10**9}),
            ],
        )
    )
    assert names == ["add_task", "list_tasks", "complete_task", "reopen_task", "delete_task", "update_task"]
    added, listed, missing = results
    assert added.structured_content["status"] == "created"
    task_id = added.structured_content["task_id"]
    assert [t["id"] for t in listed.structured_content["tasks"]] == [task_id]
    assert missing.is_error
    assert "task_not_found" in missing.content[0].text

    _, (bobs_view, bobs_delete) = asyncio.run(
        session_calls(mcp_url, tokens.chat(BOB), [("list_tasks", {}), ("delete_task", {"task_id": task_id})])
    )
    assert bobs_view.structured_content["tasks"] == []
    assert bobs_delete.is_error
    _, (still_there,) = asyncio.run(session_calls(mcp_url, tokens.hs256(ALICE), [("list_tasks", {})]))
    assert [t["id"] for t in still_there.structured_content["tasks"]] == [task_id]


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic abc"])
def test_missing_or_wrong_tokens_are_refused(mcp_url: str, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(mcp_url, content=json.dumps(body), headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"
