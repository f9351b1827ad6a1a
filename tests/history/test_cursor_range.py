"""A message cursor holds a `seq`, an INTEGER: a forged one past 32 bits is 400 `invalid_cursor`, as the API
promises, not a value the database refuses later (422 `invalid_value`), on both databases."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database

ALICE = "user_alice"


def forged(position: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize("seq", [2**31, 2**40, 2**63 - 1, -(2**31) - 1])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_seq_no_integer_column_holds_is_invalid_cursor(
    history_client: TestClient, database: Database, tokens: Tokens, seq: int, order: str
) -> None:
    conversation = seed_conversation(database, ALICE, messages=2)
    response = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/messages",
        params={"cursor": forged({"s": seq, "o": order}), "order": order},
        headers=tokens.headers(ALICE),
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"


def test_the_largest_seq_is_still_a_cursor(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, messages=2)
    response = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/messages",
        params={"cursor": forged({"s": 2**31 - 1, "o": "asc"})},
        headers=tokens.headers(ALICE),
    )
    assert response.status_code == 200 and response.json() == {"items": [], "next_cursor": None}
