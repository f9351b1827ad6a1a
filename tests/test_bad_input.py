"""Forged cursors and text no backend can store get a 4xx in the error shape, on both databases."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from agents.testing import ScriptedModel
from fastapi.testclient import TestClient

from tests.support.chat import chat_app
from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.pagination import decode_cursor
from todo_common.text import StoredText
from todo_common.web import Services

ALICE = "user_alice"
LONE_SURROGATE = '"a\\ud800b"'  # JSON text: decodes to a str no encoder accepts


def forged(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


def assert_error(response: object, status: int, code: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "raw",
    [
        '{"u": "0001-01-01T00:00:00+05:00", "i": "thr_x"}',
        '{"u": "9999-12-31T23:59:59-05:00", "i": "thr_x"}',
        '{"u": "2026-01-01T00:00:00", "i": "thr_x"}',
        '{"u": "2026-01-01T00:00:00+00:00", "i": ' + LONE_SURROGATE + "}",
        '{"u": "2026-01-01T00:00:00+00:00", "i": "a\\u0000b"}',
    ],
)
def test_a_forged_conversation_cursor_is_invalid_cursor(
    history_client: TestClient, database: Database, tokens: Tokens, raw: str
) -> None:
    seed_conversation(database, ALICE)
    response = history_client.get(
        f"/api/{ALICE}/conversations", params={"cursor": forged(raw)}, headers=tokens.headers(ALICE)
    )
    assert_error(response, 400, "invalid_cursor")


@pytest.mark.parametrize("seq", [2**63, -(2**63) - 1, 10**30])
def test_cursor_numbers_out_of_range_are_invalid_cursor(
    history_client: TestClient, database: Database, tokens: Tokens, seq: int
) -> None:
    conversation = seed_conversation(database, ALICE, messages=2)
    response = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/messages",
        params={"cursor": forged(json.dumps({"s": seq, "o": "asc"}))},
        headers=tokens.headers(ALICE),
    )
    assert_error(response, 400, "invalid_cursor")


def test_a_good_cursor_still_pages(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    for _ in range(3):
        seed_conversation(database, ALICE)
    url = f"/api/{ALICE}/conversations"
    first = history_client.get(url, params={"limit": 2}, headers=tokens.headers(ALICE)).json()
    second = history_client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tokens.headers(ALICE))
    assert second.status_code == 200
    assert len(first["items"]) + len(second.json()["items"]) == 3


def test_cursor_times_decode_to_utc() -> None:
    from datetime import UTC, datetime

    position = decode_cursor(forged('{"u": "2026-01-01T05:00:00+05:00"}'), u=datetime)
    assert position["u"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_session_conversation_id_with_a_lone_surrogate_is_422(session_client: TestClient, tokens: Tokens) -> None:
    response = session_client.post(
        f"/api/{ALICE}/chatkit/session",
        content='{"conversation_id": ' + LONE_SURROGATE + "}",
        headers={**tokens.headers(ALICE, "hs256"), "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


@pytest.fixture
def chat_client(services: Services) -> Iterator[TestClient]:
    with TestClient(chat_app(services, ScriptedModel([])), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("field", ["conversation_id", "client_message_id", "message"])
def test_chat_text_fields_with_a_lone_surrogate_are_422(chat_client: TestClient, tokens: Tokens, field: str) -> None:
    body = {"message": '"hello"', field: LONE_SURROGATE}
    content = "{" + ", ".join(f'"{name}": {value}' for name, value in body.items()) + "}"
    response = chat_client.post(
        f"/api/{ALICE}/chat",
        content=content,
        headers={**tokens.headers(ALICE, "chat"), "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error")


def test_the_shared_text_type_refuses_nul_and_lone_surrogates() -> None:
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(StoredText)
    assert adapter.validate_python("fine ✓") == "fine ✓"
    for bad in ("a\x00b", "a\ud800b", "\udfff"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
