"""The history function's routes, on SQLite and PostgreSQL, through the real ASGI app."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.support.factories import add_message, seed_conversation
from tests.support.tokens import Tokens
from todo_common.db import Database

ALICE, BOB = "user_alice", "user_bob"


def test_lists_conversations_most_recent_first_with_count_and_preview(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    older = seed_conversation(database, ALICE, title="Older", messages=2)
    newer = seed_conversation(database, ALICE, title="Newer", messages=3)
    seed_conversation(database, BOB, title="Bob's", messages=1)

    response = history_client.get(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE))

    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["items"]] == [newer.id, older.id]
    assert body["items"][0]["message_count"] == 3
    assert body["items"][0]["preview"] == "message 2"
    assert body["next_cursor"] is None


def test_conversation_pages_cover_every_row_once(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    created = [seed_conversation(database, ALICE, title=f"c{i}").id for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = history_client.get(f"/api/{ALICE}/conversations", params=params, headers=tokens.headers(ALICE)).json()
        seen += [c["id"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))


def test_search_matches_titles_and_message_text_literally(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    by_title = seed_conversation(database, ALICE, title="Weekend plans")
    by_text = seed_conversation(database, ALICE, title="Other")
    add_message(database, by_text.id, "remember the 100% cotton sheets")
    seed_conversation(database, ALICE, title="Nothing here", messages=2)
    seed_conversation(database, BOB, title="weekend too")

    def search(q: str) -> list[str]:
        response = history_client.get(f"/api/{ALICE}/conversations", params={"q": q}, headers=tokens.headers(ALICE))
        assert response.status_code == 200
        return [c["id"] for c in response.json()["items"]]

    assert search("WEEKEND") == [by_title.id]
    assert search("100%") == [by_text.id]
    assert search("%") == [by_text.id]
    assert search("_") == []


def test_messages_paginate_without_repeats_or_gaps_while_rows_arrive(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE, messages=5)
    url = f"/api/{ALICE}/conversations/{conversation.id}/messages"
    first = history_client.get(url, params={"limit": 2}, headers=tokens.headers(ALICE)).json()
    add_message(database, conversation.id, "arrived between pages")
    contents = [m["content"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = history_client.get(url, params={"limit": 2, "cursor": cursor}, headers=tokens.headers(ALICE)).json()
        contents += [m["content"] for m in page["items"]]
        cursor = page["next_cursor"]
    assert contents == [f"message {i}" for i in range(5)] + ["arrived between pages"]


def test_messages_in_descending_order(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, messages=3)
    url = f"/api/{ALICE}/conversations/{conversation.id}/messages"
    first = history_client.get(url, params={"limit": 2, "order": "desc"}, headers=tokens.headers(ALICE)).json()
    rest = history_client.get(
        url, params={"limit": 2, "order": "desc", "cursor": first["next_cursor"]}, headers=tokens.headers(ALICE)
    ).json()
    assert [m["content"] for m in first["items"] + rest["items"]] == ["message 2", "message 1", "message 0"]
    assert first["items"][0]["role"] == "user"
    assert set(first["items"][0]) == {
        "id",
        "conversation_id",
        "role",
        "content",
        "tool_calls",
        "status",
        "error_code",
        "client_message_id",
        "created_at",
    }


def test_message_fields_include_tool_calls_and_status(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    conversation = seed_conversation(database, ALICE)
    call = {
        "call_id": "call_1",
        "name": "add_task",
        "arguments": {"title": "milk"},
        "result": {"task_id": 1},
        "status": "success",
        "text_offset": 0,
    }
    add_message(database, conversation.id, "Added milk.", role="assistant", tool_calls=[call], status="complete")
    body = history_client.get(
        f"/api/{ALICE}/conversations/{conversation.id}/messages", headers=tokens.headers(ALICE)
    ).json()
    assert body["items"][0]["tool_calls"] == [call]
    assert body["items"][0]["status"] == "complete"


def test_get_rename_and_delete(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, messages=2)
    url = f"/api/{ALICE}/conversations/{conversation.id}"
    headers = tokens.headers(ALICE)

    assert history_client.get(url, headers=headers).json()["title"] == "Groceries"
    renamed = history_client.patch(url, json={"title": "  Shopping  "}, headers=headers)
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Shopping"

    assert history_client.delete(url, headers=headers).status_code == 204
    assert history_client.get(url, headers=headers).status_code == 404
    assert history_client.get(f"{url}/messages", headers=headers).status_code == 404


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_rename_refuses_bad_titles_and_keeps_the_old_one(
    history_client: TestClient, database: Database, tokens: Tokens, title: str
) -> None:
    conversation = seed_conversation(database, ALICE)
    url = f"/api/{ALICE}/conversations/{conversation.id}"
    response = history_client.patch(url, json={"title": title}, headers=tokens.headers(ALICE))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert history_client.get(url, headers=tokens.headers(ALICE)).json()["title"] == "Groceries"


def test_export_as_json_and_markdown(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    conversation = seed_conversation(database, ALICE, title="Plans: week/2", messages=2)
    url = f"/api/{ALICE}/conversations/{conversation.id}/export"

    as_json = history_client.get(url, headers=tokens.headers(ALICE))
    assert as_json.status_code == 200
    assert "attachment" in as_json.headers["content-disposition"]
    assert as_json.headers["content-disposition"].endswith(f'{conversation.id}.json"')
    document = json.loads(as_json.content)
    assert [m["content"] for m in document["messages"]] == ["message 0", "message 1"]

    as_md = history_client.get(url, params={"format": "markdown"}, headers=tokens.headers(ALICE))
    assert as_md.headers["content-type"].startswith("text/markdown")
    assert as_md.text.startswith("# Plans: week/2\n")
    assert "## You" in as_md.text and "## Assistant" in as_md.text
    assert "/" not in as_md.headers["content-disposition"].split("filename=")[1]


def test_another_users_conversation_is_forbidden_on_every_route(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    bobs = seed_conversation(database, BOB, title="Bob's secret", messages=2)
    headers = tokens.headers(ALICE)
    base = f"/api/{ALICE}/conversations/{bobs.id}"
    attempts = [
        history_client.get(base, headers=headers),
        history_client.get(f"{base}/messages", headers=headers),
        history_client.get(f"{base}/export", headers=headers),
        history_client.patch(base, json={"title": "mine now"}, headers=headers),
        history_client.delete(base, headers=headers),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    assert all(r.json()["error"]["code"] == "forbidden" for r in attempts)
    listed = history_client.get(f"/api/{ALICE}/conversations", params={"q": "secret"}, headers=headers).json()
    assert listed["items"] == []
    untouched = history_client.get(f"/api/{BOB}/conversations/{bobs.id}", headers=tokens.headers(BOB)).json()
    assert untouched["title"] == "Bob's secret"
    assert untouched["message_count"] == 2


def test_path_user_must_be_the_token_subject(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    seed_conversation(database, BOB)
    response = history_client.get(f"/api/{BOB}/conversations", headers=tokens.headers(ALICE))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_unknown_conversation_is_404(history_client: TestClient, database: Database, tokens: Tokens) -> None:
    response = history_client.get(f"/api/{ALICE}/conversations/thr_missing", headers=tokens.headers(ALICE))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "The conversation was not found."}}


def test_chat_tokens_and_hs256_tokens_are_accepted(
    history_client: TestClient, database: Database, tokens: Tokens
) -> None:
    for kind in ("chat", "hs256", "eddsa"):
        response = history_client.get(f"/api/{ALICE}/conversations", headers=tokens.headers(ALICE, kind))
        assert response.status_code == 200, kind
