"""Export of a whole conversation, a keyset page at a time, and its refusal beyond one response's size."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from functions.history import export
from tests.support.factories import add_message, seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database

ALICE = "user_alice"


def test_an_export_over_several_pages_has_every_message_once_in_order(
    history_client: TestClient, database: Database, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PAGE_SIZE", 3)
    conversation = seed_conversation(database, ALICE, title="Long", messages=10)
    add_message(database, conversation.id, "cut short", role="assistant", status="streaming")
    url = f"/api/{ALICE}/conversations/{conversation.id}/export"

    document = json.loads(history_client.get(url, headers=tokens.headers(ALICE)).content)

    assert document["conversation"]["id"] == conversation.id
    assert [m["content"] for m in document["messages"]] == [f"message {i}" for i in range(10)] + ["cut short"]
    # No turn holds the conversation's lease: its streaming answer reads as interrupted, as in every read.
    assert (document["messages"][-1]["status"], document["messages"][-1]["error_code"]) == ("error", "interrupted")
    markdown = history_client.get(url, params={"format": "markdown"}, headers=tokens.headers(ALICE)).text
    assert [line for line in markdown.splitlines() if line.startswith("## ")][-1].startswith("## Assistant")
    assert markdown.index("message 2\n") < markdown.index("message 3\n") < markdown.index("cut short")
    assert "- _status: error_" in markdown


def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page(
    history_client: TestClient, database: Database, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "PAGE_SIZE", 2)
    conversation = seed_conversation(database, ALICE, messages=4)
    pages = list(export.pages(database, conversation.id))
    assert [[m.content for m in page] for page in pages] == [["message 0", "message 1"], ["message 2", "message 3"]]
    response = history_client.get(f"/api/{ALICE}/conversations/{conversation.id}/export", headers=tokens.headers(ALICE))
    assert len(response.json()["messages"]) == 4


def test_a_conversation_too_large_for_one_response_names_the_paged_endpoint(
    history_client: TestClient, database: Database, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = seed_conversation(database, ALICE, messages=4)
    assert export.estimated_bytes(4, 44) == 1044  # four messages of 9 characters, each with its empty call list
    monkeypatch.setattr(export, "EXPORT_MAX_BYTES", 1043)

    response = history_client.get(f"/api/{ALICE}/conversations/{conversation.id}/export", headers=tokens.headers(ALICE))

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "export_too_large"
    assert f"/api/{ALICE}/conversations/{conversation.id}/messages" in error["message"]


def test_an_empty_conversation_exports_as_an_empty_list(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE, title=None)
    url = f"/api/{ALICE}/conversations/{conversation.id}/export"
    assert history_client.get(url, headers=tokens.headers(ALICE)).json()["messages"] == []
    markdown = history_client.get(url, params={"format": "markdown"}, headers=tokens.headers(ALICE)).text
    assert markdown.startswith("# Untitled conversation\n")
