"""ChatKit's pages are bounded whatever `limit` a client sends: `threads.list` and `items.list` clamp it to 1-100
(absent or 0: ChatKit's default of 20), never answer 500, and never say `has_more` without a cursor, so a client
that follows the cursors sees every thread and item once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents.testing import ScriptedModel
from sqlmodel import select

from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient, over_socket
from tests.support.factories import seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message
from todo_common.web import Services

ALICE = "user_alice"
PAGE_MAX = 100
ODD_LIMITS = [-1, 0, 101, 100_000]
ROWS = 105  # more than a page can hold


@pytest.fixture
def chatkit(services: Services, tokens: Tokens) -> Iterator[ChatKitClient]:
    with Server(chat_app(services, ScriptedModel([]))) as base, over_socket(base, tokens, ALICE) as client:
        yield client


def follow(
    chatkit: ChatKitClient, request: dict[str, Any], limit: int, pages: int = 500
) -> tuple[list[str], list[int]]:
    """The ids a client following the cursors sees (at most `pages` pages), and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    params = dict(request["params"], limit=limit)
    for _ in range(pages):
        response = chatkit.post({"type": request["type"], "params": params})
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["data"]))
        ids += [entry["id"] for entry in page["data"]]
        if not page["has_more"]:
            return ids, sizes
        assert page.get("after"), page  # has_more always comes with a cursor
        params["after"] = page["after"]
    assert pages < 500, "the cursors never ended"
    return ids, sizes


def check(ids: list[str], sizes: list[int], limit: int, expected: set[str]) -> None:
    if limit < 0:  # a page of one: three pages of a client following the cursors show that
        assert sizes == [1, 1, 1] and len(set(ids)) == 3 and set(ids) <= expected
        return
    assert sorted(ids) == sorted(expected)
    assert max(sizes) == (20 if limit == 0 else min(limit, PAGE_MAX))


@pytest.mark.parametrize("limit", ODD_LIMITS)
def test_threads_list_pages_are_bounded_and_complete(chatkit: ChatKitClient, database: Database, limit: int) -> None:
    threads = {seed_conversation(database, ALICE, title=f"t{i}").id for i in range(ROWS)}
    request = {"type": "threads.list", "params": {"order": "desc"}}
    check(*follow(chatkit, request, limit, pages=3 if limit < 0 else 500), limit, threads)


@pytest.mark.parametrize("limit", ODD_LIMITS)
def test_items_list_pages_are_bounded_and_complete(chatkit: ChatKitClient, database: Database, limit: int) -> None:
    conversation = seed_conversation(database, ALICE, messages=ROWS)
    request = {"type": "items.list", "params": {"thread_id": conversation.id, "order": "asc"}}
    ids, sizes = follow(chatkit, request, limit, pages=3 if limit < 0 else 500)
    check(ids, sizes, limit, set(database.read(lambda s: [m.id for m in s.exec(select(Message))])))


def test_an_empty_thread_has_no_more(chatkit: ChatKitClient, database: Database) -> None:
    conversation = seed_conversation(database, ALICE)
    for limit in (-1, 0, 5):
        page = chatkit.post({"type": "items.list", "params": {"thread_id": conversation.id, "limit": limit}}).json()
        assert page["data"] == [] and page["has_more"] is False
