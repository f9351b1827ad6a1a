"""The task search's cursor is a task id: one no id column holds (past 32 bits, or below 0) is 400
`invalid_cursor`, like every other cursor the API did not hand out, on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents.testing import ScriptedModel
from fastapi.testclient import TestClient

from tests.support.chat import chat_app
from tests.support.factories import numbered, seed_tasks
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

ALICE = "user_alice"


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(chat_app(services, ScriptedModel([])), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("cursor", [2**31, 2**40, 2**63 - 1, 2**63, 10**30, -1])
def test_a_cursor_no_task_id_can_be_is_invalid_cursor(
    client: TestClient, database: Database, tokens: Tokens, cursor: int
) -> None:
    seed_tasks(database, ALICE, *numbered(3))
    response = client.get(f"/api/{ALICE}/tasks/search", params={"cursor": cursor}, headers=tokens.headers(ALICE))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_the_cursors_it_hands_out_page_through_every_match(
    client: TestClient, database: Database, tokens: Tokens
) -> None:
    ids = seed_tasks(database, ALICE, *numbered(5))
    seen: list[int] = []
    params: dict[str, int] = {"limit": 2}
    while True:
        page = client.get(f"/api/{ALICE}/tasks/search", params=params, headers=tokens.headers(ALICE)).json()
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ids
