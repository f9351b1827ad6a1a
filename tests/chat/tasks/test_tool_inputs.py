"""Task tool arguments are checked where they enter: an id is an integer an id column can hold, titles and
descriptions lose NUL, control and bidi-override characters, and arguments the tools refuse are `invalid_arguments`
in words (never `database_unavailable`, never a crash), on every surface: the MCP server in process, MCP over HTTP
with the official client, and a plain `/chat` turn. Nothing the user typed reaches the log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from agents.testing import ScriptedModel
from fastapi.testclient import TestClient
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from sqlmodel import select

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from tests.support.chat import chat_app
from tests.support.server import Server
from tests.support.task_tools import call_tool
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Task
from todo_common.web import Services

ALICE = "user_alice"
SECRET = "Tell-nobody-7731"
BAD_IDS: list[Any] = [2**31, 2**63, -1, 0, "2", " 2 ", 2.0, 2.5, True, None, [2]]
DIRTY_TITLE = f"{SECRET}\x00 buy\r\nmilk\x1b[31m\x07 \u202eevil\u202c\ud800 "
CLEAN_TITLE = f"{SECRET} buy milk [31m evil"


def refusal(result: Any) -> dict[str, str]:
    assert result.is_error, result
    error = result.structured_content["error"]
    assert json.loads(result.content[0].text) == result.structured_content
    return dict(error)


def titles(database: Database) -> list[str]:
    return [t.title for t in database.read(lambda s: list(s.exec(select(Task).order_by(Task.id))))]  # type: ignore[arg-type]


@pytest.mark.parametrize("task_id", BAD_IDS)
@pytest.mark.parametrize("tool", ["complete_task", "delete_task", "update_task"])
def test_an_id_no_task_can_have_is_invalid_arguments_in_words(database: Database, tool: str, task_id: Any) -> None:
    arguments = {"task_id": task_id, **({"title": "renamed"} if tool == "update_task" else {})}
    error = refusal(call_tool(database, ALICE, tool, **arguments))
    assert error["code"] == "invalid_arguments"
    assert "task_id" in error["message"] and "Error executing tool" not in error["message"]


def test_titles_and_descriptions_lose_control_characters(database: Database) -> None:
    description = "line one\r\nline\x00 two\x1b\u202e\t."
    added = call_tool(database, ALICE, "add_task", title=DIRTY_TITLE, description=description)
    assert not added.is_error, added
    assert added.structured_content["title"] == CLEAN_TITLE
    task_id = added.structured_content["task_id"]
    listed = call_tool(database, ALICE, "list_tasks").structured_content["tasks"][0]
    assert listed == {"id": task_id, "title": CLEAN_TITLE, "description": "line one\nline two\t.", "completed": False}
    renamed = call_tool(database, ALICE, "update_task", task_id=task_id, title="\x1b\x07new\u2066 title\x85")
    assert renamed.structured_content["title"] == "new title"
    only_controls = call_tool(database, ALICE, "add_task", title="\x00\x1b\x07\u202e")
    assert refusal(only_controls)["code"] == "empty_title"
    assert titles(database) == ["new title"]


@pytest.fixture
def mcp_url(services: Services) -> Iterator[str]:
    app = chat_app(services, ScriptedModel([]))
    mount_mcp(app, services, ChatSettings.from_environ({}))
    with Server(app) as url:
        yield f"{url}/mcp"


def over_http(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def run() -> list[Any]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http,
            streamable_http_client(url, http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(run())


def test_over_http_bad_arguments_are_refused_in_words_and_never_logged(
    mcp_url: str, tokens: Tokens, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    too_big, nul_title, stringly = over_http(
        mcp_url,
        tokens.eddsa(ALICE),
        [
            ("complete_task", {"task_id": 2**31}),
            ("add_task", {"title": DIRTY_TITLE.replace("\ud800", "")}),  # the client cannot encode a lone surrogate
            ("update_task", {"task_id": "1", "title": SECRET}),
        ],
    )
    assert refusal(too_big)["code"] == "invalid_arguments"
    assert not nul_title.is_error and nul_title.structured_content["title"] == CLEAN_TITLE
    assert refusal(stringly)["code"] == "invalid_arguments"
    assert titles(database) == [CLEAN_TITLE]
    server_side = [r for r in caplog.records if not r.name.startswith(("mcp.client", "httpx", "httpcore"))]
    logged = "\n".join(logging.Formatter().format(record) for record in server_side)
    assert SECRET not in logged and str(2**31) not in logged
    assert not [r for r in server_side if r.levelno >= logging.ERROR]


def test_a_chat_turn_with_an_impossible_id_is_told_invalid_arguments(
    services: Services, tokens: Tokens, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The offline model turns "done 2147483648" into complete_task(2147483648): a bad argument, not an outage."""
    caplog.set_level(logging.DEBUG)
    with TestClient(chat_app(services, OfflineModel()), raise_server_exceptions=False) as client:
        response = client.post(f"/api/{ALICE}/chat", json={"message": "done 2147483648"}, headers=tokens.headers(ALICE))
    assert response.status_code == 200, response.text
    answer = response.json()
    (call,) = answer["tool_calls"]
    assert call["status"] == "failure" and call["result"]["error"]["code"] == "invalid_arguments"
    assert "cannot be reached" not in answer["response"] and "task_id" in answer["response"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
