"""History answers a newcomer can read: an empty search says what is wrong in words; renaming counts as activity
(docs/architecture.md, "Conversation order")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.factories import seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database

ALICE = "user_alice"


@pytest.mark.parametrize("q", ["", "   "])
def test_an_empty_search_is_refused_in_words(history_client: TestClient, tokens: Tokens, q: str) -> None:
    response = history_client.get(f"/api/{ALICE}/conversations", params={"q": q}, headers=tokens.headers(ALICE))

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"] == (
        "Invalid q: a search needs at least one character other than spaces (leave out q to list everything)."
    )
    assert "item" not in error["message"]


def test_a_search_longer_than_200_characters_is_still_refused(history_client: TestClient, tokens: Tokens) -> None:
    response = history_client.get(f"/api/{ALICE}/conversations", params={"q": "m" * 201}, headers=tokens.headers(ALICE))
    assert response.status_code == 422
    assert "200" in response.json()["error"]["message"]


def test_a_title_of_only_spaces_is_refused(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, title="Groceries")
    response = history_client.patch(
        f"/api/{ALICE}/conversations/{conversation.id}", json={"title": "   "}, headers=tokens.headers(ALICE)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_a_rename_is_activity_and_moves_the_conversation_to_the_top(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    older = seed_conversation(database, ALICE, title="Older", messages=2)
    newer = seed_conversation(database, ALICE, title="Newer", messages=2)
    before = history_client.get(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE)).json()["items"]
    assert [c["id"] for c in before] == [newer.id, older.id]

    renamed = history_client.patch(
        f"/api/{ALICE}/conversations/{older.id}", json={"title": "Weekend"}, headers=tokens.headers(ALICE)
    ).json()

    after = history_client.get(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE)).json()["items"]
    assert [c["id"] for c in after] == [older.id, newer.id]
    assert renamed["updated_at"] > before[1]["updated_at"]
    assert renamed["message_count"] == 2  # a rename is activity, not a message


def test_messages_carry_why_an_answer_failed_and_the_client_message_id(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    from sqlmodel import Session

    from tests.support.factories import add_message
    from todo_common.models import Message

    conversation = seed_conversation(database, ALICE, title="Flaky")
    add_message(database, conversation.id, "add buy milk", client_message_id="cm-1")
    failed = add_message(database, conversation.id, "Adding", role="assistant", status="error")

    def mark(session: Session) -> None:
        row = session.get(Message, failed.id)
        assert row is not None
        row.error_code = "model_error"
        session.add(row)

    database.write(mark)
    items = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/messages", headers=tokens.headers(ALICE)
    ).json()["items"]
    assert [(m["client_message_id"], m["status"], m["error_code"]) for m in items] == [
        ("cm-1", "complete", None),
        (None, "error", "model_error"),
    ]
